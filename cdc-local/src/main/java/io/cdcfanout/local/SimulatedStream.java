package io.cdcfanout.local;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * The model behind {@link StreamSimulator}: a table's items, its partitions as hash ranges, and each
 * partition's chain of shards. On the virtual clock a partition's shard closes and a child opens every
 * rollover period (a few hours, with seeded jitter); every {@code splitEvery}-th rollover splits the
 * partition into two children with the halves of its range; records older than the retention are
 * trimmed, and a closed shard whose records are all trimmed leaves the stream. Time moves only when
 * the clock does: each call first catches up with it. Thread-safe (one lock).
 */
final class SimulatedStream {
    /** One change record. */
    record Rec(String seq, Instant created, String eventName, Map<String, AttributeValue> keys,
            Map<String, AttributeValue> newImage, Map<String, AttributeValue> oldImage, long sizeBytes,
            String eventId, boolean ttl) {
    }

    /** One shard: its lineage, its life, its records (the first {@code trimmed} are gone). */
    static final class Shard {
        final String id;
        final String parentId;
        final Instant opened;
        final String startingSeq;
        Instant closed;
        String endingSeq;
        final List<Rec> records = new ArrayList<>();
        int trimmed;
        /** The sequence number of the last record trimmed; null before the first trim. */
        String lastTrimmedSeq;

        Shard(String id, String parentId, Instant opened, String startingSeq) {
            this.id = id;
            this.parentId = parentId;
            this.opened = opened;
            this.startingSeq = startingSeq;
        }

        /** Records ever written, trimmed ones included. */
        int size() {
            return trimmed + records.size();
        }

        /** The record at an absolute index; null once trimmed or not yet written. */
        Rec at(int index) {
            int local = index - trimmed;
            return local < 0 || local >= records.size() ? null : records.get(local);
        }
    }

    private static final class Partition {
        final long lo;
        final long hi; // inclusive, over the unsigned 64-bit hash
        Shard shard;
        Instant nextRollover;
        int rollovers;

        Partition(long lo, long hi) {
            this.lo = lo;
            this.hi = hi;
        }

        boolean holds(long hash) {
            return Long.compareUnsigned(hash, lo) >= 0 && Long.compareUnsigned(hash, hi) <= 0;
        }
    }

    final String table;
    final String streamArn;
    final String region;
    final List<String> keyNames;
    private final Clock clock;
    private final Random random;
    private final Duration rolloverEvery;
    private final int splitEvery;
    private final int maxPartitions;
    private final Duration retention;
    private final List<Partition> partitions = new ArrayList<>();
    private final LinkedHashMap<String, Shard> shards = new LinkedHashMap<>();
    private final Map<Map<String, AttributeValue>, Map<String, AttributeValue>> items = new HashMap<>();
    private BigInteger nextSeq = new BigInteger("100000000000000000000");
    private long shardCounter;
    private long eventCounter;
    private Instant caughtUpTo;
    private long recordsTrimmed;
    private long shardsClosed;

    SimulatedStream(StreamSimulator.Builder b, Clock clock) {
        this.table = b.table;
        this.region = b.region;
        this.keyNames = List.copyOf(b.keyNames);
        this.clock = clock;
        this.random = new Random(b.seed);
        this.rolloverEvery = b.rolloverEvery;
        this.splitEvery = b.splitEvery;
        this.maxPartitions = b.maxPartitions;
        this.retention = b.retention;
        Instant now = clock.instant();
        this.caughtUpTo = now;
        this.streamArn = "arn:aws:dynamodb:" + region + ":123456789012:table/" + table + "/stream/" + now;
        long width = Long.divideUnsigned(-1L, b.partitions);
        for (int i = 0; i < b.partitions; i++) {
            long lo = width * i;
            long hi = i == b.partitions - 1 ? -1L : width * (i + 1) - 1;
            Partition p = new Partition(lo, hi);
            p.shard = newShard(null, now);
            p.nextRollover = now.plus(jittered());
            partitions.add(p);
        }
    }

    private Duration jittered() {
        long base = rolloverEvery.toMillis();
        long jitter = base / 8;
        return Duration.ofMillis(base - jitter + (long) (random.nextDouble() * 2 * jitter));
    }

    private Shard newShard(String parent, Instant at) {
        shardCounter++;
        String id = String.format("shardId-%020d-%08x", at.toEpochMilli() * 1000 + shardCounter, random.nextInt());
        Shard s = new Shard(id, parent, at, nextSeq.toString());
        shards.put(id, s);
        return s;
    }

    private String takeSeq() {
        String seq = nextSeq.toString();
        // DynamoDB's sequence numbers rise, with gaps; a step of a few keeps them distinct and ordered.
        nextSeq = nextSeq.add(BigInteger.valueOf(1 + random.nextInt(7)));
        return seq;
    }

    /** Runs every rollover, split and trim due by the clock's time now. */
    synchronized void catchUp() {
        Instant now = clock.instant();
        if (now.isBefore(caughtUpTo)) {
            return; // the clock never goes back for the stream
        }
        while (true) {
            Partition due = null;
            for (Partition p : partitions) {
                if (!p.nextRollover.isAfter(now) && (due == null || p.nextRollover.isBefore(due.nextRollover))) {
                    due = p;
                }
            }
            if (due == null) {
                break;
            }
            roll(due, due.nextRollover);
        }
        Instant horizon = now.minus(retention);
        for (java.util.Iterator<Shard> it = shards.values().iterator(); it.hasNext();) {
            Shard s = it.next();
            while (!s.records.isEmpty() && s.records.get(0).created().isBefore(horizon)) {
                s.lastTrimmedSeq = s.records.remove(0).seq();
                s.trimmed++;
                recordsTrimmed++;
            }
            if (s.closed != null && s.records.isEmpty() && s.closed.isBefore(horizon)) {
                it.remove(); // a closed shard past the retention leaves the stream
            }
        }
        caughtUpTo = now;
    }

    private void roll(Partition p, Instant at) {
        Shard old = p.shard;
        old.closed = at;
        old.endingSeq = old.records.isEmpty() && old.trimmed == 0 ? null
                : (old.records.isEmpty() ? old.startingSeq : old.records.get(old.records.size() - 1).seq());
        shardsClosed++;
        p.rollovers++;
        boolean split = splitEvery > 0 && p.rollovers % splitEvery == 0 && partitions.size() < maxPartitions
                && Long.compareUnsigned(p.hi - p.lo, 2) > 0;
        if (split) {
            long mid = p.lo + Long.divideUnsigned(p.hi - p.lo, 2);
            Partition a = new Partition(p.lo, mid);
            Partition b = new Partition(mid + 1, p.hi);
            for (Partition child : List.of(a, b)) {
                child.shard = newShard(old.id, at);
                child.nextRollover = at.plus(jittered());
                child.rollovers = p.rollovers;
            }
            int i = partitions.indexOf(p);
            partitions.set(i, a);
            partitions.add(i + 1, b);
        } else {
            p.shard = newShard(old.id, at);
            p.nextRollover = at.plus(jittered());
        }
    }

    /** Puts an item: INSERT, or MODIFY with the old image. Returns the record. */
    synchronized Rec put(Map<String, AttributeValue> item) {
        catchUp();
        Map<String, AttributeValue> key = keyOf(item);
        Map<String, AttributeValue> old = items.put(key, Map.copyOf(item));
        return append(key, old == null ? "INSERT" : "MODIFY", Map.copyOf(item), old, false);
    }

    /** Deletes an item: REMOVE with its old image, or nothing (null) if it does not exist. */
    synchronized Rec delete(Map<String, AttributeValue> key, boolean ttl) {
        catchUp();
        Map<String, AttributeValue> k = keyOf(key);
        Map<String, AttributeValue> old = items.remove(k);
        return old == null ? null : append(k, "REMOVE", null, old, ttl);
    }

    /** The table's items now, by key; a copy. */
    synchronized Map<Map<String, AttributeValue>, Map<String, AttributeValue>> items() {
        return Map.copyOf(items);
    }

    private Rec append(Map<String, AttributeValue> key, String name, Map<String, AttributeValue> newImage,
            Map<String, AttributeValue> oldImage, boolean ttl) {
        long hash = hash(key);
        Partition p = partitions.stream().filter(x -> x.holds(hash)).findFirst().orElseThrow();
        long size = AttributeJson.size(key) + (newImage == null ? 0 : AttributeJson.size(newImage))
                + (oldImage == null ? 0 : AttributeJson.size(oldImage));
        eventCounter++;
        Rec r = new Rec(takeSeq(), clock.instant(), name, key, newImage, oldImage, size,
                String.format("%032x", eventCounter * 0x9E3779B97F4A7C15L & Long.MAX_VALUE), ttl);
        p.shard.records.add(r);
        return r;
    }

    private Map<String, AttributeValue> keyOf(Map<String, AttributeValue> item) {
        Map<String, AttributeValue> key = new LinkedHashMap<>();
        for (String k : keyNames) {
            AttributeValue v = item.get(k);
            if (v == null) {
                throw new IllegalArgumentException("the item lacks its key attribute '" + k + "'");
            }
            key.put(k, v);
        }
        return Map.copyOf(key);
    }

    /** The partition key's hash, as DynamoDB places items: MD5 of the key's text, unsigned. */
    private long hash(Map<String, AttributeValue> key) {
        try {
            byte[] d = MessageDigest.getInstance("MD5").digest(key.get(keyNames.get(0)).toString()
                    .getBytes(StandardCharsets.UTF_8));
            long h = 0;
            for (int i = 0; i < 8; i++) {
                h = h << 8 | (d[i] & 0xff);
            }
            return h;
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The shards in the stream now, in creation order (a parent before its children). */
    synchronized List<Shard> shards() {
        catchUp();
        return List.copyOf(shards.values());
    }

    synchronized Shard shard(String id) {
        catchUp();
        return shards.get(id);
    }

    /** Records of {@code s} from absolute index {@code from}, at most {@code limit} and {@code maxBytes}. */
    synchronized List<Rec> read(Shard s, int from, int limit, long maxBytes) {
        catchUp();
        List<Rec> out = new ArrayList<>();
        long bytes = 0;
        for (int i = from; i < s.size() && out.size() < limit; i++) {
            Rec r = s.at(i);
            if (r == null) {
                break;
            }
            if (!out.isEmpty() && bytes + r.sizeBytes() > maxBytes) {
                break;
            }
            bytes += r.sizeBytes();
            out.add(r);
        }
        return out;
    }

    /** The absolute index of the first record with a sequence number at (or after) {@code seq}. */
    synchronized int indexOf(Shard s, String seq, boolean after) {
        BigInteger target = new BigInteger(seq);
        for (int i = s.trimmed; i < s.size(); i++) {
            int c = new BigInteger(s.at(i).seq()).compareTo(target);
            if (after ? c > 0 : c >= 0) {
                return i;
            }
        }
        return s.size();
    }

    /** Whether reading at ({@code after} false) or after {@code seq} would need a record already trimmed. */
    synchronized boolean trimmedAway(Shard s, String seq, boolean after) {
        if (s.lastTrimmedSeq == null) {
            return false;
        }
        int c = new BigInteger(seq).compareTo(new BigInteger(s.lastTrimmedSeq));
        return after ? c < 0 : c <= 0;
    }

    synchronized boolean closed(Shard s) {
        return s.closed != null;
    }

    synchronized long recordsTrimmed() {
        return recordsTrimmed;
    }

    synchronized long shardsClosed() {
        return shardsClosed;
    }

    synchronized int partitionCount() {
        return partitions.size();
    }
}
