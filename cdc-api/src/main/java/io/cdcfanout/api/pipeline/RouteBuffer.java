package io.cdcfanout.api.pipeline;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * A route's queue of events waiting for a batch, and its triggers: a full call (count or bytes, the
 * sink's limits included), the oldest event's age, a flush or close. {@link #fill} takes events from the
 * head into a batch, skipping events whose order key another batch holds in the {@link KeyGate}; they
 * keep their place. The gate counts the waiting events whose key is free: a fill stops as soon as none
 * is left, and does not look at all when there is none, so that with few keys and many
 * lanes a free lane does not rescan every waiting event of the held keys. Guarded by the route's lock.
 */
final class RouteBuffer<T, R> {
    private final int callEvents;
    private final long callBytes;
    private final long maxAgeMillis;
    private final ArrayDeque<RouteEntry<T, R>> queue = new ArrayDeque<>();
    private long bytes;

    RouteBuffer(int callEvents, long callBytes, long maxAgeMillis) {
        this.callEvents = callEvents;
        this.callBytes = callBytes;
        this.maxAgeMillis = maxAgeMillis;
    }

    void add(RouteEntry<T, R> e, KeyGate gate) {
        queue.addLast(e);
        bytes += e.size;
        gate.waitingAdded(e.orderKey);
    }

    boolean isEmpty() {
        return queue.isEmpty();
    }

    int size() {
        return queue.size();
    }

    long bytes() {
        return bytes;
    }

    /** Whether a full call is waiting: stop adding, and send. */
    boolean callReady() {
        return queue.size() >= callEvents || bytes >= callBytes;
    }

    /** Why the queue should be sent now, or null; {@code flushUpTo} is the sequence a flush covers. */
    FlushCause cause(long now, boolean closing, boolean halted, long flushUpTo) {
        RouteEntry<T, R> head = queue.peekFirst();
        if (closing) {
            return FlushCause.CLOSE;
        } else if (halted || head.seq <= flushUpTo) {
            return FlushCause.FLUSH;
        } else if (queue.size() >= callEvents) {
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
        return queue.peekFirst().enqueuedAt + maxAgeMillis;
    }

    /**
     * Moves events from the head into {@code batch}, up to the call's limits, holding their order keys;
     * events whose key another batch holds stay, in order.
     */
    void fill(Batch<T, R> batch, KeyGate gate) {
        List<RouteEntry<T, R>> skipped = null;
        long taken = 0;
        int mine = 0; // waiting events of keys this batch holds: it may take them too
        while ((gate.eligible() > 0 || mine > 0) && !queue.isEmpty() && batch.entries.size() < callEvents) {
            RouteEntry<T, R> e = queue.peekFirst();
            if (!batch.entries.isEmpty() && taken + e.size > callBytes) {
                break;
            }
            queue.pollFirst();
            int change = gate.takeWaiting(e.orderKey, batch);
            if (change == KeyGate.REFUSED) {
                // Another batch holds this key: the event waits, and so do its key's later ones.
                skipped = skipped == null ? new ArrayList<>() : skipped;
                skipped.add(e);
                continue;
            }
            e.holding = true;
            bytes -= e.size;
            taken += e.size;
            batch.entries.add(e);
            mine += change; // the key's other waiting events are this batch's to take now, or one fewer is
        }
        if (skipped != null) {
            for (int k = skipped.size() - 1; k >= 0; k--) {
                queue.addFirst(skipped.get(k));
            }
        }
        batch.bytes = taken;
    }

    /** Empties the queue, returning what it held (on abort). */
    List<RouteEntry<T, R>> drain(KeyGate gate) {
        List<RouteEntry<T, R>> all = new ArrayList<>(queue);
        queue.clear();
        gate.waitingCleared();
        bytes = 0;
        return all;
    }
}
