package io.cdcfanout.api.pipeline;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.TreeMap;

/**
 * A route's queue of events waiting for a batch, and its triggers: a full call (count or bytes, the
 * sink's limits included), the oldest event's age, a flush or close. {@link #fill} takes events in
 * arrival order into a batch, skipping events whose order key another batch holds in the
 * {@link KeyGate}; they keep their place. The events wait in one queue per order key, with the keys
 * indexed by their oldest event, so that a fill skips a held key at once, not each of its events:
 * with few keys and many lanes, a lane that finds every key held costs a look per key, not per event.
 * Guarded by the route's lock.
 */
final class RouteBuffer<T, R> {
    private final int callEvents;
    private final long callBytes;
    private final long maxAgeMillis;
    /** The waiting events of each order key, oldest first. */
    private final Map<Object, ArrayDeque<RouteEntry<T, R>>> queues = new HashMap<>();
    /** Every key with waiting events, by the sequence number of its oldest one. */
    private final TreeMap<Long, Object> heads = new TreeMap<>();
    private int size;
    private long bytes;

    RouteBuffer(int callEvents, long callBytes, long maxAgeMillis) {
        this.callEvents = callEvents;
        this.callBytes = callBytes;
        this.maxAgeMillis = maxAgeMillis;
    }

    /** Adds an event; events come in increasing {@code seq}. */
    void add(RouteEntry<T, R> e) {
        ArrayDeque<RouteEntry<T, R>> q = queues.get(e.orderKey);
        if (q == null) {
            q = new ArrayDeque<>(4);
            queues.put(e.orderKey, q);
            heads.put(e.seq, e.orderKey);
        }
        q.addLast(e);
        size++;
        bytes += e.size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    int size() {
        return size;
    }

    long bytes() {
        return bytes;
    }

    /** Whether a full call is waiting: stop adding, and send. */
    boolean callReady() {
        return size >= callEvents || bytes >= callBytes;
    }

    /** The oldest waiting event. */
    private RouteEntry<T, R> head() {
        return queues.get(heads.firstEntry().getValue()).peekFirst();
    }

    /** Why the queue should be sent now, or null; {@code flushUpTo} is the sequence a flush covers. */
    FlushCause cause(long now, boolean closing, boolean halted, long flushUpTo) {
        RouteEntry<T, R> head = head();
        if (closing) {
            return FlushCause.CLOSE;
        } else if (halted || head.seq <= flushUpTo) {
            return FlushCause.FLUSH;
        } else if (size >= callEvents) {
            // A full call is ready: maxEvents, or the sink's own limit when that is lower.
            return FlushCause.COUNT;
        } else if (bytes >= callBytes) {
            return FlushCause.BYTES;
        } else if (now - head.enqueuedAt >= maxAgeMillis) {
            return FlushCause.AGE;
        }
        return null;
    }

    /** When the oldest event's age trigger fires, in clock milliseconds. */
    long ageDeadline() {
        return head().enqueuedAt + maxAgeMillis;
    }

    /** A key's queue as a candidate of a fill, ordered by its oldest event. */
    private record Candidate<T, R>(Object key, ArrayDeque<RouteEntry<T, R>> queue) {
        long headSeq() {
            return queue.peekFirst().seq;
        }
    }

    /**
     * Moves events into {@code batch} in arrival order, up to the call's limits, holding their order keys;
     * events whose key another batch holds stay, in order. A merge of the free keys' queues by sequence
     * number: the same events, in the same order, as a scan of one queue skipping held events.
     */
    void fill(Batch<T, R> batch, KeyGate gate) {
        long taken = 0;
        PriorityQueue<Candidate<T, R>> ready = new PriorityQueue<>(Comparator.comparingLong(Candidate::headSeq));
        Iterator<Map.Entry<Long, Object>> keys = heads.entrySet().iterator();
        Map.Entry<Long, Object> next = nextFree(keys, gate, batch);
        Map<Object, Long> oldHeads = new HashMap<>();
        while (batch.entries.size() < callEvents) {
            Candidate<T, R> c;
            if (next != null && (ready.isEmpty() || next.getKey() < ready.peek().headSeq())) {
                c = new Candidate<>(next.getValue(), queues.get(next.getValue()));
                next = nextFree(keys, gate, batch);
            } else if (!ready.isEmpty()) {
                c = ready.poll();
            } else {
                break;
            }
            RouteEntry<T, R> e = c.queue().peekFirst();
            if (!batch.entries.isEmpty() && taken + e.size > callBytes) {
                break;
            }
            if (!gate.hold(c.key(), batch)) {
                throw new IllegalStateException("a free key was held meanwhile"); // guarded by the route's lock
            }
            oldHeads.putIfAbsent(c.key(), e.seq);
            c.queue().pollFirst();
            e.holding = true;
            size--;
            bytes -= e.size;
            taken += e.size;
            batch.entries.add(e);
            if (!c.queue().isEmpty()) {
                ready.add(c);
            }
        }
        // The keys taken from have a newer oldest event now, or none.
        for (Map.Entry<Object, Long> moved : oldHeads.entrySet()) {
            heads.remove(moved.getValue());
            ArrayDeque<RouteEntry<T, R>> q = queues.get(moved.getKey());
            if (q.isEmpty()) {
                queues.remove(moved.getKey());
            } else {
                heads.put(q.peekFirst().seq, moved.getKey());
            }
        }
        batch.bytes = taken;
    }

    /** The next key, in order of its oldest event, that no other batch holds; null when there is none. */
    private static Map.Entry<Long, Object> nextFree(Iterator<Map.Entry<Long, Object>> keys, KeyGate gate,
            Object holder) {
        while (keys.hasNext()) {
            Map.Entry<Long, Object> k = keys.next();
            if (!gate.heldByOther(k.getValue(), holder)) {
                return k;
            }
        }
        return null;
    }

    /** Empties the queue, returning what it held in arrival order (on abort). */
    List<RouteEntry<T, R>> drain() {
        List<RouteEntry<T, R>> all = new ArrayList<>(size);
        queues.values().forEach(all::addAll);
        all.sort(Comparator.comparingLong(e -> e.seq));
        queues.clear();
        heads.clear();
        size = 0;
        bytes = 0;
        return all;
    }
}
