package io.cdcfanout.dynamodb.sink;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkLimits;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.api.sink.SinkUnavailableException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Set;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import io.cdcfanout.dynamodb.internal.DynamoDbErrors;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.BatchGetItemResponse;
import software.amazon.awssdk.services.dynamodb.model.BatchWriteItemResponse;
import software.amazon.awssdk.services.dynamodb.model.KeysAndAttributes;
import software.amazon.awssdk.services.dynamodb.model.WriteRequest;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;

/**
 * Replicates a table: INSERT and MODIFY put the new image, REMOVE deletes, on a target table reached
 * by any {@link DynamoDbClient} (another region or account). Needs a stream with new images.
 *
 * <p><b>Monotonic and idempotent.</b> Each written item carries a version marker: the source
 * record's sequence number, left-padded with zeros to {@value #VERSION_DIGITS} digits, so that
 * comparing the strings compares the numbers (sequence numbers outgrow DynamoDB's 38-digit numbers).
 * A write is conditional on the stored marker being absent or smaller. The marker orders one item's
 * changes correctly because all changes to one item go to the shard of its partition, in order, and
 * a shard's children (after a split or rollover) continue with larger sequence numbers than the
 * parent. So a replay, a retry or a late duplicate never moves an item back: its condition fails and
 * the event counts as delivered (nothing to do). Several events of one key in a call collapse to the
 * last.
 *
 * <p><b>Deletes leave tombstones.</b> A REMOVE replaces the item, when its marker is older, with a
 * tombstone: the key, the markers and {@value #DELETED_ATTRIBUTE}, which readers of the replica skip
 * (a FilterExpression {@code attribute_not_exists(cdc_deleted)} on queries and scans). A replay, a
 * retry or a late duplicate of an older change then meets the tombstone's newer marker and changes
 * nothing, so a deleted item never comes back, not even for a moment. A tombstone expires through the
 * target's TTL once no replay can reach it ({@link Builder#tombstones}: by default
 * {@value #DEFAULT_TOMBSTONE_RETENTION_HOURS} hours, in {@value #DEFAULT_TTL_ATTRIBUTE}; enable TTL on
 * that attribute). It costs one small item per deleted key for that time. {@link Builder#plainDeletes}
 * deletes instead, and a replay may then bring a deleted item back until it reaches the delete again.
 *
 * <p><b>Snapshot events.</b> An {@link Operation#SNAPSHOT} item carries the version 0, so it is written
 * only where the target holds no version at all: never over an item or a tombstone that a stream
 * change wrote, and in a call a snapshot event never supersedes a change of its key. With the stream
 * read from at or before the snapshot's start, the replica ends equal to the source, with no deleted
 * item brought back, provided a snapshot event is written within the tombstone retention of its read.
 * Snapshot events need tombstones and one-way replication; otherwise they are refused with that
 * reason.
 *
 * <p><b>Two-way (multi-master).</b> With {@link Builder#twoWay}, two or more tables replicate into
 * each other without loops and converge: every write has a clock (the application's order value, a
 * delete before a put, the side's name, the write's sequence number in its side's stream), the
 * greatest clock wins on every side, and each side's route takes only {@link #localChanges(String)}.
 * Deletes leave tombstones on every side, so nothing is resurrected. The application writes through
 * {@link TwoWayTable}; docs/table-sinks.md states the contract and what happens when it is broken.
 */
public final class ReplicationSink implements Sink<Map<String, AttributeValue>> {
    /** The attribute holding the version marker. */
    public static final String VERSION_ATTRIBUTE = "cdc_version";
    /**
     * Marks a tombstone: the item was deleted. One-way: {@code true}. Two-way: the order value of the
     * delete, so a write that changes the order revives the item ({@link TwoWayTable#isLive}).
     * Readers skip tombstones.
     */
    public static final String DELETED_ATTRIBUTE = "cdc_deleted";
    /** Two-way: the clock of the replicated write ({@link #localChanges()} and conflicts read it). */
    public static final String CLOCK_ATTRIBUTE = "cdc_clock";
    /**
     * Two-way: the order value the replicator wrote. While it equals the item's order value, the item
     * is the replicator's write; once the application changes the order, the application's.
     */
    public static final String REPLICATED_ORDER_ATTRIBUTE = "cdc_order";
    /** The attribute naming the replicator that wrote the item. */
    public static final String ORIGIN_ATTRIBUTE = "cdc_origin";
    /** Digits of a version marker: sequence numbers are at most 40 digits. */
    public static final int VERSION_DIGITS = 40;
    /** Default TTL attribute of tombstones, epoch seconds. */
    public static final String DEFAULT_TTL_ATTRIBUTE = "cdc_expires";
    /** Default for {@link Builder#parallelWrites}: conditional writes of one call at once. */
    public static final int DEFAULT_PARALLEL_WRITES = 16;
    /** Default time a tombstone is kept, in hours: the stream's 24 hours of replay, twice. */
    public static final long DEFAULT_TOMBSTONE_RETENTION_HOURS = 48;

    private static final String STALE = "(attribute_not_exists(#v) OR #v < :v)";

    private final DynamoDbClient client;
    private final String table;
    private volatile boolean closed;
    private final String origin;
    private final boolean skipTtlDeletes;
    private final UnaryOperator<Map<String, AttributeValue>> itemTransform;
    private final WriteMode mode;
    private final String orderAttribute;
    private final String localSide;
    private final DynamoDbClient sourceClient;
    private final String sourceTable;
    private final boolean plainDeletes;
    private final String ttlAttribute;
    private final Duration tombstoneRetention;
    private final Clock clock;
    private final int parallelWrites;
    private final io.cdcfanout.dynamodb.internal.DaemonPool writers;

    /** How the sink writes. */
    public enum WriteMode {
        /**
         * One conditional PutItem or DeleteItem per item: safe with any number of writers to the
         * target. The default.
         */
        CONDITIONAL,
        /**
         * Read the stored markers with BatchGetItem, then write what is newer with BatchWriteItem:
         * far fewer requests, but safe only while this sink is the only writer of the target's items
         * (one-way replication), since a write between the read and the batch could be overwritten.
         */
        BATCHED
    }

    private ReplicationSink(Builder b) {
        this.client = b.client;
        this.table = b.table;
        this.origin = b.origin;
        this.skipTtlDeletes = b.skipTtlDeletes;
        this.itemTransform = b.itemTransform;
        this.mode = b.mode;
        this.orderAttribute = b.orderAttribute;
        this.localSide = b.localSide;
        this.sourceClient = b.sourceClient;
        this.sourceTable = b.sourceTable;
        this.plainDeletes = b.plainDeletes;
        this.ttlAttribute = b.ttlAttribute;
        this.tombstoneRetention = b.tombstoneRetention;
        this.clock = b.clock;
        this.parallelWrites = b.parallelWrites;
        this.writers = new io.cdcfanout.dynamodb.internal.DaemonPool("cdc-replication-" + table, parallelWrites);
    }

    /** The threads of the parallel writes. */
    private java.util.concurrent.ExecutorService writers() {
        return writers.get();
    }

    /** Stops the parallel writes' threads once idle; the client is the caller's. */
    @Override
    public void close() {
        closed = true;
        writers.shutdown();
    }

    /** A builder; client, table and origin are required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Thread-safe: a route may keep this many calls in flight (each key in one call at a time), since
     * every write is conditional on the item's own version.
     */
    @Override
    public int maxConcurrentCalls() {
        return 16;
    }

    /** Immediate: a replica should trail its source by a round trip, not by a buffer's age. */
    @Override
    public io.cdcfanout.api.pipeline.BufferPolicy defaultBuffer() {
        return io.cdcfanout.api.pipeline.BufferPolicy.builder().maxAge(java.time.Duration.ZERO).build();
    }

    /** DynamoDB's item size limit. */
    @Override
    public SinkLimits limits() {
        return new SinkLimits(SinkLimits.NONE.maxBatchEvents(), SinkLimits.NONE.maxBatchBytes(), 400 * 1024);
    }

    @Override
    public SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
        if (closed) {
            throw new io.cdcfanout.api.sink.SinkUnavailableException("the replication sink of table '" + table + "'" + " is closed: a pipeline closes its sinks when "
                    + "it closes; build a new sink for a new pipeline", null);
        }
        List<? extends ChangeEvent<? extends Map<String, AttributeValue>>> events = batch.events();
        SinkResult.Builder result = SinkResult.builder(events.size());
        // The last event of each key wins; earlier ones are superseded within this call. A snapshot
        // event never supersedes a stream change: any change is newer than what a snapshot read.
        Map<EventKey, Integer> last = new LinkedHashMap<>();
        for (int i = 0; i < events.size(); i++) {
            ChangeEvent<?> e = events.get(i);
            Integer kept = last.get(e.key());
            if (kept == null || e.operation() != Operation.SNAPSHOT
                    || events.get(kept).operation() == Operation.SNAPSHOT) {
                last.put(e.key(), i);
            }
        }
        List<Integer> todo = new ArrayList<>(last.size());
        for (int i : last.values()) {
            ChangeEvent<? extends Map<String, AttributeValue>> e = events.get(i);
            if (e.operation() == Operation.REMOVE && e.ttlExpiry() && skipTtlDeletes) {
                continue;
            }
            if (e.operation() == Operation.SNAPSHOT && (plainDeletes || orderAttribute != null)) {
                result.fail(i, "event " + e.eventId() + " is a SNAPSHOT: "
                        + (plainDeletes ? "plainDeletes leaves no tombstone, so a snapshot could bring a deleted "
                                + "item back; replicate snapshots with tombstones (the default)"
                                : "two-way replication does not take snapshot events"), false);
                continue;
            }
            if (e.operation() != Operation.REMOVE && e.after().isEmpty()) {
                result.fail(i, "event " + e.eventId() + " has no new image: replication needs a stream with "
                        + "NEW_IMAGE or NEW_AND_OLD_IMAGES", false);
                continue;
            }
            todo.add(i);
        }
        Counts counts = new Counts();
        if (mode == WriteMode.BATCHED) {
            writeBatched(events, todo, result, counts);
        } else if (todo.size() == 1 || parallelWrites == 1) {
            for (int i : todo) {
                writeConditional(events.get(i), i, result, counts);
            }
        } else {
            // The keys in todo are distinct (a key's events collapsed to its last), so their conditional
            // writes may go at once: a call costs a few round trips, not one per item.
            List<java.util.concurrent.CompletableFuture<Void>> writes = new ArrayList<>(todo.size());
            for (int i : todo) {
                writes.add(java.util.concurrent.CompletableFuture.runAsync(
                        () -> writeConditional(events.get(i), i, result, counts), writers()));
            }
            try {
                java.util.concurrent.CompletableFuture.allOf(writes.toArray(new java.util.concurrent.CompletableFuture<?>[0]))
                        .join();
            } catch (java.util.concurrent.CompletionException ex) {
                if (ex.getCause() instanceof RuntimeException re) {
                    throw re; // a missing table or denied access halts the route, as in a serial call
                }
                throw ex;
            }
        }
        return result.count("dynamodb.writes", counts.writes.get()).count("dynamodb.stale", counts.stale.get())
                .count("dynamodb.requests", counts.requests.get()).build();
    }

    /** What one call did, for the listener; updated by the parallel writes. */
    private static final class Counts {
        final java.util.concurrent.atomic.AtomicLong writes = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong stale = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong requests = new java.util.concurrent.atomic.AtomicLong();
    }

    private void writeConditional(ChangeEvent<? extends Map<String, AttributeValue>> e, int i,
            SinkResult.Builder result, Counts counts) {
        if (orderAttribute != null) {
            writeTwoWay(e, i, result, counts);
            return;
        }
        String version = version(e);
        try {
            counts.requests.incrementAndGet();
            if (e.operation() == Operation.REMOVE && !plainDeletes) {
                Map<String, AttributeValue> tombstone = tombstoneOf(e);
                client.putItem(r -> r.tableName(table).item(tombstone)
                        .conditionExpression(STALE)
                        .expressionAttributeNames(Map.of("#v", VERSION_ATTRIBUTE))
                        .expressionAttributeValues(Map.of(":v", s(version))));
            } else if (e.operation() == Operation.REMOVE) {
                client.deleteItem(r -> r.tableName(table).key(keyOf(e))
                        .conditionExpression(STALE)
                        .expressionAttributeNames(Map.of("#v", VERSION_ATTRIBUTE))
                        .expressionAttributeValues(Map.of(":v", s(version))));
            } else {
                Map<String, AttributeValue> item = itemOf(e);
                client.putItem(r -> r.tableName(table).item(item)
                        .conditionExpression(STALE)
                        .expressionAttributeNames(Map.of("#v", VERSION_ATTRIBUTE))
                        .expressionAttributeValues(Map.of(":v", s(version))));
            }
            counts.writes.incrementAndGet();
        } catch (ConditionalCheckFailedException stored) {
            counts.stale.incrementAndGet(); // the target already holds this version or a newer one
        } catch (SdkException ex) {
            fail(result, i, classify(ex), retryable(ex));
        }
    }

    /** Records a failure; the parallel writes share the result. */
    private static void fail(SinkResult.Builder result, int i, String reason, boolean retryable) {
        synchronized (result) {
            result.fail(i, reason, retryable);
        }
    }

    /**
     * Two-way: the change wins by the conflict rule ({@link LwwClock}) or changes nothing. The target's
     * stored item is compared by its clock while it is the replicator's write (its replicated order
     * still equals its order); otherwise the target's application wrote it, and it is compared as a
     * write of the target side. A raw DeleteItem of the application (which leaves an empty slot) is
     * also written back into the source as a tombstone, ordered like any write.
     */
    private void writeTwoWay(ChangeEvent<? extends Map<String, AttributeValue>> e, int i, SinkResult.Builder result,
            Counts counts) {
        boolean rawDelete = e.operation() == Operation.REMOVE;
        Map<String, AttributeValue> image = rawDelete ? e.before().orElse(null) : e.after().orElse(null);
        if (image == null) {
            fail(result, i, "two-way replication needs NEW_AND_OLD_IMAGES: event " + e.eventId() + " has no "
                    + (rawDelete ? "old" : "new") + " image", false);
            return;
        }
        String[] problem = new String[1];
        java.math.BigDecimal order = LwwClock.order(image.get(orderAttribute), orderAttribute, problem);
        if (order == null) {
            fail(result, i, problem[0] + "; event " + e.eventId(), false);
            return;
        }
        AttributeValue orderValue = AttributeValue.builder().n(order.toPlainString()).build();
        AttributeValue tomb = image.get(DELETED_ATTRIBUTE);
        boolean deleted = rawDelete || tomb != null && tomb.n() != null
                && new java.math.BigDecimal(tomb.n()).compareTo(order) == 0;
        String clock = LwwClock.encode(order, deleted, origin, version(e));
        Map<String, AttributeValue> item;
        if (deleted) {
            item = new HashMap<>(keyOf(e));
            item.put(orderAttribute, orderValue);
            item.put(DELETED_ATTRIBUTE, orderValue);
            item.put(ttlAttribute, AttributeValue.builder()
                    .n(Long.toString(clock().instant().plus(tombstoneRetention).getEpochSecond())).build());
        } else {
            item = new HashMap<>(itemTransform.apply(image));
            item.keySet().removeIf(n -> n.startsWith("cdc_"));
        }
        item.put(CLOCK_ATTRIBUTE, s(clock));
        item.put(REPLICATED_ORDER_ATTRIBUTE, orderValue);
        item.put(ORIGIN_ATTRIBUTE, s(origin));
        item.put(VERSION_ATTRIBUTE, s(origin + "|" + version(e)));
        boolean beatsTargetOnTies = origin.compareTo(localSide) > 0;
        String tie = deleted ? (beatsTargetOnTies ? "#o = :o" : "(#o = :o AND NOT (#del = #o))")
                : (beatsTargetOnTies ? "(#o = :o AND NOT (#del = #o))" : null);
        String appWins = "#o < :o" + (tie == null ? "" : " OR " + tie);
        String condition = "attribute_not_exists(#o) OR (#ro = #o AND #clk < :clk) OR (NOT (#ro = #o) AND (" + appWins
                + "))";
        if (!put(client, table, item, condition, orderValue, clock, i, e, result, counts)) {
            return;
        }
        if (rawDelete) {
            // The application's DeleteItem left an empty slot in the source, where a late copy of an older
            // write from another side could land. Fill it with the same tombstone, ordered like any write:
            // it beats older copies, and loses to anything the application wrote there since.
            put(sourceClient, sourceTable, item, "attribute_not_exists(#o) OR (#ro = #o AND #clk < :clk) OR "
                    + "(NOT (#ro = #o) AND #o < :o)", orderValue, clock, i, e, result, counts);
        }
    }

    /** One conditional put of a two-way write; false if it failed (recorded in the result). */
    private boolean put(DynamoDbClient to, String toTable, Map<String, AttributeValue> item, String condition,
            AttributeValue order, String clock, int i, ChangeEvent<?> e, SinkResult.Builder result, Counts counts) {
        try {
            counts.requests.incrementAndGet();
            Map<String, String> names = new HashMap<>(Map.of("#o", orderAttribute, "#ro", REPLICATED_ORDER_ATTRIBUTE,
                    "#clk", CLOCK_ATTRIBUTE));
            if (condition.contains("#del")) {
                names.put("#del", DELETED_ATTRIBUTE);
            }
            to.putItem(r -> r.tableName(toTable).item(item).conditionExpression(condition)
                    .expressionAttributeNames(names)
                    .expressionAttributeValues(Map.of(":o", order, ":clk", s(clock))));
            counts.writes.incrementAndGet();
            return true;
        } catch (ConditionalCheckFailedException newer) {
            counts.stale.incrementAndGet(); // the table holds a write that wins
            return true;
        } catch (SdkException ex) {
            fail(result, i, (toTable.equals(table) && to == client ? "" : "writing the tombstone of event "
                    + e.eventId() + " into source table '" + toTable + "': ") + classify(ex), retryable(ex));
            return false;
        }
    }

    private Clock clock() {
        return clock;
    }

    /**
     * A route filter for one-way chains and two-way replication: true for changes the application made
     * (directly or through {@link TwoWayTable}); false for writes a replicator made (they set a new
     * {@value #CLOCK_ATTRIBUTE} or {@value #VERSION_ATTRIBUTE}, which the application's writes clear or
     * keep) and for the removal of a tombstone (its TTL expiry). Needs NEW_AND_OLD_IMAGES. For two-way
     * tables use {@link #localChanges(String)}, which tells a revived item from a tombstone.
     */
    public static Predicate<ChangeEvent<Map<String, AttributeValue>>> localChanges() {
        return localChanges(null);
    }

    /**
     * {@link #localChanges()} for a two-way table ordered by {@code orderAttribute}: an item whose
     * {@value #DELETED_ATTRIBUTE} no longer equals its order value is live ({@link TwoWayTable#isLive}).
     */
    public static Predicate<ChangeEvent<Map<String, AttributeValue>>> localChanges(String orderAttribute) {
        return e -> {
            Map<String, AttributeValue> before = e.before().orElse(Map.of());
            if (e.operation() == Operation.REMOVE) {
                return orderAttribute == null ? !before.containsKey(DELETED_ATTRIBUTE)
                        : TwoWayTable.isLive(before, orderAttribute);
            }
            Map<String, AttributeValue> after = e.after().orElse(Map.of());
            return unchangedOrAbsent(after, before, CLOCK_ATTRIBUTE) && unchangedOrAbsent(after, before,
                    VERSION_ATTRIBUTE);
        };
    }

    private static boolean unchangedOrAbsent(Map<String, AttributeValue> after, Map<String, AttributeValue> before,
            String marker) {
        AttributeValue now = after.get(marker);
        return now == null || now.equals(before.get(marker));
    }

    /**
     * One BatchGetItem per 100 keys reads the stored markers, stale events are dropped, and the rest
     * go out in BatchWriteItem calls of 25. Unprocessed keys and items fail as retryable, so the
     * pipeline retries just those with backoff. A call DynamoDB rejects as a whole (one bad item)
     * is redone item by item, so only the bad item fails.
     */
    private void writeBatched(List<? extends ChangeEvent<? extends Map<String, AttributeValue>>> events,
            List<Integer> todo, SinkResult.Builder result, Counts counts) {
        Map<Map<String, AttributeValue>, Integer> byKey = new LinkedHashMap<>();
        for (int i : todo) {
            byKey.put(keyOf(events.get(i)), i);
        }
        Map<Map<String, AttributeValue>, String> stored = new java.util.concurrent.ConcurrentHashMap<>();
        List<Map<String, AttributeValue>> keys = new ArrayList<>(byKey.keySet());
        Set<Map<String, AttributeValue>> unread = java.util.concurrent.ConcurrentHashMap.newKeySet();
        List<Runnable> reads = new ArrayList<>();
        for (int from = 0; from < keys.size(); from += 100) {
            List<Map<String, AttributeValue>> chunk = keys.subList(from, Math.min(keys.size(), from + 100));
            reads.add(() -> {
                try {
                    counts.requests.incrementAndGet();
                    BatchGetItemResponse got = client.batchGetItem(r -> r.requestItems(Map.of(table,
                            KeysAndAttributes.builder().keys(chunk).consistentRead(true).build())));
                    for (Map<String, AttributeValue> item : got.responses().getOrDefault(table, List.of())) {
                        AttributeValue v = item.get(VERSION_ATTRIBUTE);
                        if (v != null && v.s() != null) {
                            stored.put(keyFrom(item, chunk.get(0).keySet()), v.s());
                        }
                    }
                    KeysAndAttributes left = got.unprocessedKeys().get(table);
                    if (left != null) {
                        for (Map<String, AttributeValue> k : left.keys()) {
                            unread.add(k);
                            result.fail(byKey.get(k), "BatchGetItem left the key unprocessed (throughput)", true);
                        }
                    }
                } catch (SdkException ex) {
                    for (Map<String, AttributeValue> k : chunk) {
                        unread.add(k);
                        result.fail(byKey.get(k), classify(ex), retryable(ex));
                    }
                }
            });
        }
        runAll(reads);
        byKey.keySet().removeAll(unread);
        List<WriteRequest> writes = new ArrayList<>();
        List<Integer> indexes = new ArrayList<>();
        for (Map.Entry<Map<String, AttributeValue>, Integer> k : byKey.entrySet()) {
            ChangeEvent<? extends Map<String, AttributeValue>> e = events.get(k.getValue());
            String have = stored.get(k.getKey());
            if (have != null && have.compareTo(version(e)) >= 0) {
                counts.stale.incrementAndGet();
                continue;
            }
            writes.add(e.operation() != Operation.REMOVE
                    ? WriteRequest.builder().putRequest(p -> p.item(itemOf(e))).build()
                    : plainDeletes ? WriteRequest.builder().deleteRequest(d -> d.key(k.getKey())).build()
                    : WriteRequest.builder().putRequest(p -> p.item(tombstoneOf(e))).build());
            indexes.add(k.getValue());
        }
        List<Runnable> chunks = new ArrayList<>();
        for (int start = 0; start < writes.size(); start += 25) {
            int from = start;
            int to = Math.min(writes.size(), from + 25);
            chunks.add(() -> {
                List<WriteRequest> chunk = writes.subList(from, to);
                try {
                    counts.requests.incrementAndGet();
                    BatchWriteItemResponse done = client.batchWriteItem(r -> r.requestItems(Map.of(table, chunk)));
                    List<WriteRequest> left = done.unprocessedItems().getOrDefault(table, List.of());
                    Set<WriteRequest> unprocessed = new HashSet<>(left);
                    for (int j = from; j < to; j++) {
                        if (unprocessed.contains(writes.get(j))) {
                            result.fail(indexes.get(j), "BatchWriteItem left the item unprocessed (throughput)", true);
                        } else {
                            counts.writes.incrementAndGet();
                        }
                    }
                } catch (SdkException ex) {
                    if (ex instanceof AwsServiceException && !retryable(ex) && !DynamoDbErrors.unavailable(ex)) {
                        for (int j = from; j < to; j++) {
                            writeConditional(events.get(indexes.get(j)), indexes.get(j), result, counts);
                        }
                    } else {
                        for (int j = from; j < to; j++) {
                            result.fail(indexes.get(j), classify(ex), retryable(ex));
                        }
                    }
                }
            });
        }
        runAll(chunks);
    }

    /**
     * Runs a call's requests: the keys of a call are distinct, so its BatchGetItem and BatchWriteItem
     * chunks may go at once, up to the sink's parallel writes. A missing table or denied access still halts
     * the route.
     */
    private void runAll(List<Runnable> requests) {
        if (requests.size() <= 1 || parallelWrites == 1) {
            requests.forEach(Runnable::run);
            return;
        }
        List<java.util.concurrent.CompletableFuture<Void>> running = new ArrayList<>(requests.size());
        for (Runnable r : requests) {
            running.add(java.util.concurrent.CompletableFuture.runAsync(r, writers()));
        }
        try {
            java.util.concurrent.CompletableFuture.allOf(running.toArray(new java.util.concurrent.CompletableFuture<?>[0]))
                    .join();
        } catch (java.util.concurrent.CompletionException ex) {
            if (ex.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw ex;
        }
    }

    private Map<String, AttributeValue> itemOf(ChangeEvent<? extends Map<String, AttributeValue>> e) {
        Map<String, AttributeValue> item = new HashMap<>(itemTransform.apply(e.after().orElseThrow()));
        item.put(VERSION_ATTRIBUTE, s(version(e)));
        item.put(ORIGIN_ATTRIBUTE, s(origin));
        return item;
    }

    /** The key, the markers, {@value #DELETED_ATTRIBUTE} and the TTL: what a delete leaves. */
    private Map<String, AttributeValue> tombstoneOf(ChangeEvent<? extends Map<String, AttributeValue>> e) {
        Map<String, AttributeValue> item = new HashMap<>(keyOf(e));
        item.put(VERSION_ATTRIBUTE, s(version(e)));
        item.put(ORIGIN_ATTRIBUTE, s(origin));
        item.put(DELETED_ATTRIBUTE, AttributeValue.builder().bool(true).build());
        item.put(ttlAttribute, AttributeValue.builder()
                .n(Long.toString(clock.instant().plus(tombstoneRetention).getEpochSecond())).build());
        return item;
    }

    private static Map<String, AttributeValue> keyFrom(Map<String, AttributeValue> item, Set<String> keyNames) {
        Map<String, AttributeValue> key = new HashMap<>();
        for (String name : keyNames) {
            key.put(name, item.get(name));
        }
        return key;
    }

    private String classify(SdkException ex) {
        return DynamoDbErrors.describe(ex, table);
    }

    private static boolean retryable(SdkException ex) {
        return DynamoDbErrors.retryable(ex);
    }

    /** The marker for an event: its sequence number, zero-padded to {@value #VERSION_DIGITS} digits. */
    static String version(ChangeEvent<?> e) {
        String seq = e.position().sequenceNumber();
        if (seq.length() >= VERSION_DIGITS) {
            return seq;
        }
        return "0".repeat(VERSION_DIGITS - seq.length()) + seq;
    }

    private Map<String, AttributeValue> keyOf(ChangeEvent<? extends Map<String, AttributeValue>> e) {
        Map<String, AttributeValue> key = new HashMap<>();
        for (Map.Entry<String, Object> k : e.key().values().entrySet()) {
            Object v = k.getValue();
            AttributeValue av;
            if (v instanceof String str) {
                av = s(str);
            } else if (v instanceof BigDecimal d) {
                av = AttributeValue.builder().n(d.stripTrailingZeros().toPlainString()).build();
            } else {
                ByteBuffer b = ((ByteBuffer) v).duplicate();
                byte[] bytes = new byte[b.remaining()];
                b.get(bytes);
                av = AttributeValue.builder().b(SdkBytes.fromByteArray(bytes)).build();
            }
            key.put(k.getKey(), av);
        }
        return itemTransform.apply(key);
    }

    private static AttributeValue s(String v) {
        return AttributeValue.builder().s(v).build();
    }

    /** Builds a {@link ReplicationSink}; reusable. */
    public static final class Builder {
        private DynamoDbClient client;
        private String table;
        private String origin;
        private boolean skipTtlDeletes;
        private UnaryOperator<Map<String, AttributeValue>> itemTransform = UnaryOperator.identity();
        private WriteMode mode = WriteMode.CONDITIONAL;
        private String orderAttribute;
        private String localSide;
        private DynamoDbClient sourceClient;
        private String sourceTable;
        private boolean plainDeletes;
        private String ttlAttribute = DEFAULT_TTL_ATTRIBUTE;
        private Duration tombstoneRetention = Duration.ofHours(DEFAULT_TOMBSTONE_RETENTION_HOURS);
        private Clock clock = Clock.systemUTC();
        private int parallelWrites = DEFAULT_PARALLEL_WRITES;

        private Builder() {
        }

        /**
         * How many of a call's conditional writes go at once (distinct keys; each key stays in order);
         * 1 writes them one after another. {@value ReplicationSink#DEFAULT_PARALLEL_WRITES} by default.
         */
        public Builder parallelWrites(int parallelWrites) {
            if (parallelWrites < 1 || parallelWrites > 256) {
                throw new IllegalArgumentException("parallelWrites must be between 1 and 256 (was " + parallelWrites
                        + ")");
            }
            this.parallelWrites = parallelWrites;
            return this;
        }

        /**
         * How tombstones expire: {@code ttlAttribute}, the target table's TTL attribute (a table has one;
         * use the replica's own if it has one), set to the delete's replication time plus
         * {@code retention}, at least 25 hours so that no replay of the 24-hour stream outlives it.
         * {@value ReplicationSink#DEFAULT_TTL_ATTRIBUTE} and
         * {@value ReplicationSink#DEFAULT_TOMBSTONE_RETENTION_HOURS} hours by default.
         */
        public Builder tombstones(String ttlAttribute, Duration retention) {
            checkTombstones(ttlAttribute, retention);
            this.ttlAttribute = ttlAttribute;
            this.tombstoneRetention = retention;
            return this;
        }

        /**
         * Deletes items instead of leaving tombstones: the replica holds no tombstones for readers to
         * skip, but a replay may bring a deleted item back until it reaches the delete again. One-way only.
         */
        public Builder plainDeletes() {
            this.plainDeletes = true;
            return this;
        }

        static void checkTombstones(String ttlAttribute, Duration retention) {
            Objects.requireNonNull(ttlAttribute, "ttlAttribute must not be null");
            Objects.requireNonNull(retention, "retention must not be null");
            if (ttlAttribute.isBlank()) {
                throw new IllegalArgumentException("ttlAttribute must not be blank");
            }
            if (retention.compareTo(Duration.ofHours(25)) < 0) {
                throw new IllegalArgumentException("tombstone retention must be at least 25 hours, longer than the "
                        + "stream's 24-hour retention, or a replay could bring a deleted item back (was " + retention
                        + ")");
            }
        }

        /** The clock of tombstone expiry times; the system's by default. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock must not be null");
            return this;
        }

        /**
         * Two-way (multi-master) replication ordered by {@code orderAttribute}, a whole number the
         * application writes with every change (an update time in milliseconds, or a version). Also set
         * {@link #targetSide} and {@link #sourceTable}; {@link #origin} names the source side. Conflicts
         * go to the greatest order; on equal order a delete beats a put, then the greater side name, then
         * (two writes of one side) the later. Deletes leave tombstones ({@value ReplicationSink#DELETED_ATTRIBUTE}
         * equal to the delete's order) on every side. The application writes through {@link TwoWayTable};
         * filter the route with {@link ReplicationSink#localChanges(String)} so nothing is sent back.
         */
        public Builder twoWay(String orderAttribute) {
            this.orderAttribute = LwwClock.checkOrderAttribute(orderAttribute);
            return this;
        }

        /**
         * Two-way: the name of the side this sink writes into (the {@link #origin} of the sink that
         * replicates the other way). An item that side's application wrote counts as written by it.
         */
        public Builder targetSide(String targetSide) {
            this.localSide = LwwClock.checkSide("targetSide", targetSide);
            return this;
        }

        /**
         * Two-way: the source table and its client. A DeleteItem the application made there (outside
         * {@link TwoWayTable}) leaves an empty slot; the sink fills it with the delete's tombstone.
         */
        public Builder sourceTable(DynamoDbClient sourceClient, String sourceTable) {
            this.sourceClient = Objects.requireNonNull(sourceClient, "sourceClient must not be null");
            this.sourceTable = DynamoDbErrors.checkTable(sourceTable);
            return this;
        }

        /** How to write; {@link WriteMode#CONDITIONAL} by default. */
        public Builder writeMode(WriteMode mode) {
            this.mode = Objects.requireNonNull(mode, "writeMode must not be null");
            return this;
        }

        /** The target's client; the sink does not close it. */
        public Builder client(DynamoDbClient client) {
            this.client = Objects.requireNonNull(client, "client must not be null");
            return this;
        }

        /** The target table. */
        public Builder table(String table) {
            this.table = DynamoDbErrors.checkTable(table);
            return this;
        }

        /** This replicator's name, written to {@value ReplicationSink#ORIGIN_ATTRIBUTE} (say, the source region). */
        public Builder origin(String origin) {
            Objects.requireNonNull(origin, "origin must not be null");
            if (origin.isBlank()) {
                throw new IllegalArgumentException("origin must not be blank");
            }
            this.origin = origin;
            return this;
        }

        /** Whether TTL-expiry deletes are left out (the target expires items itself); false by default. */
        public Builder skipTtlDeletes(boolean skip) {
            this.skipTtlDeletes = skip;
            return this;
        }

        /**
         * Reshapes each item and key before writing (rename or drop attributes); must keep the target's
         * key attributes and be thread-safe.
         */
        public Builder itemTransform(UnaryOperator<Map<String, AttributeValue>> transform) {
            this.itemTransform = Objects.requireNonNull(transform, "itemTransform must not be null");
            return this;
        }

        /**
         * A sink.
         *
         * @throws IllegalStateException if client, table or origin is missing
         */
        public ReplicationSink build() {
            if (client == null) {
                throw new IllegalStateException("client is required");
            }
            if (table == null) {
                throw new IllegalStateException("table is required");
            }
            if (origin == null) {
                throw new IllegalStateException("origin is required: a name for this replicator's source, such as "
                        + "its region (\"us-east-1\"), written to " + ORIGIN_ATTRIBUTE + " in every item it writes so "
                        + "that a reader, or the opposite replicator of a two-way pair, knows where the item came from");
            }
            if (plainDeletes && orderAttribute != null) {
                throw new IllegalStateException("plainDeletes is one-way only: two-way replication needs tombstones");
            }
            if (orderAttribute != null && mode == WriteMode.BATCHED) {
                throw new IllegalStateException("twoWay needs writeMode CONDITIONAL: both sides write the items");
            }
            if (orderAttribute != null) {
                LwwClock.checkSide("origin", origin);
                if (localSide == null) {
                    throw new IllegalStateException("twoWay needs targetSide: the name of the side this sink writes "
                            + "into, the origin of the sink that replicates the other way");
                }
                if (sourceClient == null) {
                    throw new IllegalStateException("twoWay needs sourceTable: the source's client and table, where "
                            + "the sink leaves the tombstones of the application's raw deletes");
                }
                if (origin.equals(localSide)) {
                    throw new IllegalStateException("twoWay needs a targetSide other than origin (both were '" + origin
                            + "')");
                }
            } else if (localSide != null || sourceClient != null) {
                throw new IllegalStateException("targetSide and sourceTable are for two-way replication: set twoWay too");
            }
            return new ReplicationSink(this);
        }
    }
}
