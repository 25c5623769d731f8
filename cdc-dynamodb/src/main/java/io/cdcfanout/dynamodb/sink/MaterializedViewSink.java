package io.cdcfanout.dynamodb.sink;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.aws.internal.AwsErrors;
import io.cdcfanout.dynamodb.internal.DynamoDbErrors;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeDefinition;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.KeySchemaElement;
import software.amazon.awssdk.services.dynamodb.model.BillingMode;
import software.amazon.awssdk.services.dynamodb.model.CancellationReason;
import software.amazon.awssdk.services.dynamodb.model.KeyType;
import software.amazon.awssdk.services.dynamodb.model.ScalarAttributeType;
import software.amazon.awssdk.services.dynamodb.model.TransactWriteItem;
import software.amazon.awssdk.services.dynamodb.model.TransactionCanceledException;

/**
 * Keeps a materialized view: a user function maps each event to {@link ViewUpdate}s (counters with
 * ADD, latest values with SET, removals), applied with UpdateItem.
 *
 * <p><b>Exactly once under replays, on every source.</b> What a sink may rely on differs by source:
 * <ul>
 *   <li><em>A named shard</em> (the poller, KCL): one reader per shard, and this sink orders its lane by
 *       shard ({@link #orderKey}), so a view item's changes from one shard arrive once each, in order. Each
 *       view item keeps, per shard, the last applied sequence number ({@value #PROGRESS_PREFIX}{@code <shard>},
 *       padded to 40 digits), and the update and the check are one conditional UpdateItem.</li>
 *   <li><em>No shard</em> (Lambda, which also runs batches of one shard at once): what stays true is the
 *       order of one source item's changes. An <em>applied ledger</em> table holds, for each pair of view
 *       item and source item, the last change applied, written with the update in one TransactWriteItems
 *       ({@link Builder#ledgerTable}; without it, such events are refused with that reason).</li>
 * </ul>
 * A change applied before (a replay, a retry) fails the condition and changes nothing.
 *
 * <p><b>Combined and concurrent.</b> Within a call, a view item's updates in the simple form (top-level
 * {@code SET a = :v}, {@code ADD a :n}, {@code REMOVE a}) combine into one request: ADDs summed, the
 * last SET or REMOVE of an attribute winning, the progress (or the ledger entries, 99 source items per
 * transaction) moved over all of them. If part of it was applied before, the rest is applied one by one,
 * exactly. Other updates go one by one, in order; after a failure the view item's later updates fail
 * too. Different view items are updated at once.
 *
 * <p><b>Cost.</b> A named shard: one UpdateItem per view item per call (naive: one per event). No shard:
 * one TransactWriteItems per view item per call and 99 source items; a transaction bills each write
 * twice, and the ledger holds one small item (about 100 bytes) per pair, expiring
 * {@link Builder#ledgerRetention} after its last change through TTL on {@value #LEDGER_EXPIRES}.
 *
 * <p><b>Backfills.</b> Built with {@link Builder#acceptSnapshots}, the view also takes {@code SNAPSHOT}
 * events and stays exact across the handoff from a table snapshot to the stream ({@code CountedImages}
 * says how); without it, snapshot events are refused with that reason.
 *
 * <p>Limits: at most one update per view item per event; a dead-lettered event that is redriven after
 * a later change reached the same view item is a no-op there.
 *
 * @param <T> the image type of the events
 */
public final class MaterializedViewSink<T> implements Sink<T> {
    /** The ledger table's partition key (S): a digest of the view item and source item keys. */
    public static final String LEDGER_KEY = "id";
    /** The ledger's attribute holding the last applied sequence number, zero-padded to 40 digits. */
    public static final String LEDGER_SEQ = "seq";
    /** The ledger's TTL attribute, epoch seconds; enable TTL on it. */
    public static final String LEDGER_EXPIRES = "expires";
    /** Default for {@link Builder#ledgerRetention}, in hours: twice the stream's 24-hour retention. */
    public static final long DEFAULT_LEDGER_RETENTION_HOURS = 48;

    private final DynamoDbClient client;
    private final String table;
    private volatile boolean closed;
    private final String ledger;
    private final Duration retention;
    private final Clock clock;
    private final Function<? super ChangeEvent<? extends T>, List<ViewUpdate>> updates;
    private final io.cdcfanout.dynamodb.internal.DaemonPool writers;
    private final CountedImages<T> countedImages;
    private final ShardProgress progress;

    /** The prefix of the per-shard progress attributes that view items carry for events of named shards. */
    public static final String PROGRESS_PREFIX = "cdc_seq_";
    private static final java.util.regex.Pattern SET = java.util.regex.Pattern.compile("(?i)\\bSET\\s+");

    /** Ledger entries in one combined transaction, beside the view item's update (DynamoDB allows 100 items). */
    static final int MAX_SOURCES_PER_TRANSACTION = 99;
    /** Events in one call by default ({@link #defaultBuffer()}). */
    public static final int DEFAULT_MAX_EVENTS = 5_000;
    /** View items updated at once within a call. */
    static final int PARALLEL_GROUPS = 64;

    private MaterializedViewSink(Builder<T> b) {
        this.client = b.client;
        this.table = b.table;
        this.ledger = b.ledger;
        this.retention = b.retention;
        this.clock = b.clock;
        this.updates = b.updates;
        this.writers = new io.cdcfanout.dynamodb.internal.DaemonPool("cdc-view-" + table, PARALLEL_GROUPS);
        this.progress = new ShardProgress(client, table, retention, clock);
        this.countedImages = b.snapshotRetention == null ? null
                : new CountedImages<>(client, table, ledger, b.snapshotRetention, clock, updates, writers::get);
    }

    /** A builder; client, table and updates are required; ledgerTable for sources that name no shard (Lambda). */
    public static <T> Builder<T> builder() {
        return new Builder<>();
    }

    /**
     * Creates an applied-ledger table named {@code name} (on-demand, partition key {@value #LEDGER_KEY}
     * of type S) and enables TTL on {@value #LEDGER_EXPIRES}; waits until it is active.
     */
    public static void createLedgerTable(DynamoDbClient client, String name) {
        DynamoDbErrors.checkTable(name);
        client.createTable(r -> r.tableName(name).billingMode(BillingMode.PAY_PER_REQUEST)
                .keySchema(KeySchemaElement.builder().attributeName(LEDGER_KEY).keyType(KeyType.HASH).build())
                .attributeDefinitions(AttributeDefinition.builder().attributeName(LEDGER_KEY)
                        .attributeType(ScalarAttributeType.S).build()));
        client.waiter().waitUntilTableExists(r -> r.tableName(name));
        client.updateTimeToLive(r -> r.tableName(name)
                .timeToLiveSpecification(t -> t.attributeName(LEDGER_EXPIRES).enabled(true)));
    }

    /**
     * Thread-safe: a route may keep this many calls in flight; updates of one view item from two calls
     * conflict at most (TransactionConflict, retried), and the ledger keeps each exact.
     */
    @Override
    public int maxConcurrentCalls() {
        return 16;
    }

    /**
     * Immediate, and up to {@value #DEFAULT_MAX_EVENTS} events a call: a view item's updates in one call
     * combine into one request, so a larger call costs fewer requests per event.
     */
    @Override
    public io.cdcfanout.api.pipeline.BufferPolicy defaultBuffer() {
        return io.cdcfanout.api.pipeline.BufferPolicy.builder().maxEvents(DEFAULT_MAX_EVENTS)
                .maxAge(java.time.Duration.ZERO).build();
    }

    /**
     * Orders by the event's first view item, so that one view item's updates go in one lane, in order,
     * and combine within a call; the source item when the event updates nothing.
     */
    @Override
    public Object orderKey(ChangeEvent<? extends T> event) {
        if (countedImages != null) {
            return event.key(); // one source item's events in order; CountedImages keeps them exact
        }
        if (event.position().shardKnown()) {
            return new ShardLane(event.position().shardId());
        }
        try {
            List<ViewUpdate> list = updates.apply(event);
            return list == null || list.isEmpty() ? event.key() : list.get(0).key();
        } catch (RuntimeException e) {
            return event.key();
        }
    }

    /** The lane of a named shard: one writer per shard, in order, keeps its progress attribute exact. */
    private record ShardLane(String shardId) {
    }

    /** A view item, and the shard of its events (null when the source names none). */
    private record Group(Map<String, AttributeValue> viewKey, String shard) {
    }

    /** One update of one event: the part of the event a view item's group applies. */
    private record Part(int event, ViewUpdate update) {
    }

    @Override
    public SinkResult write(SinkBatch<? extends T> batch) {
        if (closed) {
            throw new io.cdcfanout.api.sink.SinkUnavailableException("the view sink of table '" + table + "'" + " is closed: a pipeline closes its sinks when "
                    + "it closes; build a new sink for a new pipeline", null);
        }
        List<? extends ChangeEvent<? extends T>> events = batch.events();
        SinkResult.Builder result = SinkResult.builder(events.size());
        if (countedImages != null) {
            countedImages.write(events, result);
            return result.build();
        }
        boolean[] refused = new boolean[events.size()];
        Map<Group, List<Part>> groups = new java.util.LinkedHashMap<>();
        for (int i = 0; i < events.size(); i++) {
            ChangeEvent<? extends T> e = events.get(i);
            if (e.operation() == io.cdcfanout.api.Operation.SNAPSHOT) {
                // A snapshot item and a stream change made while the snapshot ran may be one write;
                // counting both, or neither, would break the view's exactness.
                result.fail(i, "event " + e.eventId() + " is a SNAPSHOT: a materialized view does not take "
                        + "snapshot events unless built with acceptSnapshots, since it cannot tell a snapshot item "
                        + "from a change of the overlap otherwise", false);
                refused[i] = true;
                continue;
            }
            List<ViewUpdate> list;
            try {
                list = Objects.requireNonNull(updates.apply(e), "the update function returned null");
            } catch (RuntimeException ex) {
                result.fail(i, "the view's update function threw " + ex.getClass().getName() + ": "
                        + ex.getMessage(), false);
                refused[i] = true;
                continue;
            }
            Set<Map<String, AttributeValue>> seen = new HashSet<>();
            for (ViewUpdate u : list) {
                if (!seen.add(u.key())) {
                    result.fail(i, "the update function returned two updates of one view item for event "
                            + e.eventId() + "; merge them into one expression", false);
                    refused[i] = true;
                    break;
                }
            }
            if (!refused[i]) {
                String shard = e.position().shardKnown() ? e.position().shardId() : null;
                for (ViewUpdate u : list) {
                    groups.computeIfAbsent(new Group(u.key(), shard), k -> new ArrayList<>()).add(new Part(i, u));
                }
            }
        }
        // Each view item's updates in one group, applied in order; groups of distinct view items at once.
        Outcome[] outcomes = new Outcome[events.size()];
        java.util.concurrent.atomic.AtomicLong applied = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicLong skipped = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicLong requests = new java.util.concurrent.atomic.AtomicLong();
        List<java.util.concurrent.CompletableFuture<Void>> running = new ArrayList<>(groups.size());
        for (Map.Entry<Group, List<Part>> g : groups.entrySet()) {
            Runnable apply = () -> applyGroup(g.getKey(), g.getValue(), events, outcomes, applied, skipped, requests);
            if (groups.size() == 1) {
                apply.run();
            } else {
                running.add(java.util.concurrent.CompletableFuture.runAsync(apply, writers()));
            }
        }
        try {
            java.util.concurrent.CompletableFuture.allOf(running.toArray(new java.util.concurrent.CompletableFuture<?>[0]))
                    .join();
        } catch (java.util.concurrent.CompletionException ex) {
            if (ex.getCause() instanceof RuntimeException re) {
                throw re; // a missing table or denied access halts the route
            }
            throw ex;
        }
        for (int i = 0; i < events.size(); i++) {
            Outcome o = outcomes[i];
            if (!refused[i] && o != null && o.failure != null) {
                result.fail(i, o.failure, o.retryable);
            }
        }
        return result.count("dynamodb.updates", applied.get()).count("dynamodb.replayed", skipped.get())
                .count("dynamodb.transactions", requests.get()).build();
    }

    /** Records a part's failure on its event; the first failure of an event stays. */
    private static void failPart(Outcome[] outcomes, int event, Outcome failure) {
        synchronized (outcomes) {
            if (outcomes[event] == null || outcomes[event].failure == null) {
                outcomes[event] = failure;
            }
        }
    }

    /**
     * Applies one view item's updates in order: combined into one transaction per 99 source items
     * when they combine ({@link CombinedUpdate}), else one by one; after a failure, the group's later
     * updates fail too, to be retried in order.
     */
    private void applyGroup(Group group, List<Part> parts, List<? extends ChangeEvent<? extends T>> events,
            Outcome[] outcomes, java.util.concurrent.atomic.AtomicLong applied,
            java.util.concurrent.atomic.AtomicLong skipped, java.util.concurrent.atomic.AtomicLong requests) {
        Map<String, AttributeValue> viewKey = group.viewKey();
        String shard = group.shard();
        if (shard == null && ledger == null) {
            for (Part p : parts) {
                failPart(outcomes, p.event(), new Outcome("event " + events.get(p.event()).eventId() + " names no shard "
                        + "(a Lambda batch): applying it exactly once needs the applied ledger; set ledgerTable", false));
            }
            return;
        }
        CombinedUpdate combined = parts.size() > 1 ? CombinedUpdate.of(parts.stream().map(Part::update).toList())
                : null;
        int from = 0;
        while (from < parts.size()) {
            int to = combined == null ? from + 1 : shard != null ? parts.size() : chunkEnd(parts, from, events);
            List<Part> chunk = parts.subList(from, to);
            Outcome o;
            if (chunk.size() == 1) {
                requests.incrementAndGet();
                o = applyOne(chunk.get(0).update(), events.get(chunk.get(0).event()), shard);
                count(o, 1, applied, skipped);
            } else {
                CombinedUpdate c = chunk.size() == parts.size() ? combined
                        : CombinedUpdate.of(chunk.stream().map(Part::update).toList());
                requests.incrementAndGet();
                o = shard != null ? applyCombinedProgress(viewKey, c, chunk, events, shard)
                        : applyCombined(viewKey, c, chunk, events);
                if (o == Outcome.APPLIED_BEFORE) {
                    // Part of it was applied before (a replay): apply the rest exactly, one by one.
                    o = Outcome.APPLIED;
                    for (Part p : chunk) {
                        requests.incrementAndGet();
                        Outcome one = applyOne(p.update(), events.get(p.event()), shard);
                        count(one, 1, applied, skipped);
                        if (one.failure != null) {
                            o = one;
                            break;
                        }
                    }
                } else {
                    count(o, chunk.size(), applied, skipped);
                }
            }
            if (o.failure != null) {
                Outcome later = o;
                for (Part p : parts.subList(from, parts.size())) {
                    failPart(outcomes, p.event(), p == parts.get(from) ? o : new Outcome(later.failure == null ? null
                            : "an earlier update of the same view item failed in this call", later.retryable));
                }
                return;
            }
            from = to;
        }
    }

    private static void count(Outcome o, int n, java.util.concurrent.atomic.AtomicLong applied,
            java.util.concurrent.atomic.AtomicLong skipped) {
        if (o == Outcome.APPLIED) {
            applied.addAndGet(n);
        } else if (o == Outcome.APPLIED_BEFORE) {
            skipped.addAndGet(n);
        }
    }

    private Outcome applyOne(ViewUpdate u, ChangeEvent<?> e, String shard) {
        return shard == null ? apply(u, e) : applyProgress(u.key(), u.updateExpression(), u.names(), u.values(), shard,
                ReplicationSink.version(e), ReplicationSink.version(e));
    }

    /**
     * A view item's updates from a named shard combined into one UpdateItem: the combined expression, and
     * the shard's progress attribute moved to the chunk's last sequence number, on condition that it is
     * below the first: none of them was applied before. APPLIED_BEFORE if the condition failed.
     */
    private Outcome applyCombinedProgress(Map<String, AttributeValue> viewKey, CombinedUpdate c, List<Part> chunk,
            List<? extends ChangeEvent<? extends T>> events, String shard) {
        String min = null;
        String max = null;
        for (Part p : chunk) {
            String seq = ReplicationSink.version(events.get(p.event()));
            min = min == null || seq.compareTo(min) < 0 ? seq : min;
            max = max == null || seq.compareTo(max) > 0 ? seq : max;
        }
        return applyProgress(viewKey, c.expression, c.names, c.values, shard, min, max);
    }

    /**
     * One conditional UpdateItem for events of a named shard: the update, and the view item's progress
     * attribute for that shard ({@value #PROGRESS_PREFIX}{@code <shard>}) set to {@code last}, on condition
     * that it is below {@code first}. One writer per shard, in order (the sink's order key), makes that
     * exact: a change applied before fails the condition.
     */
    private Outcome applyProgress(Map<String, AttributeValue> viewKey, String expression, Map<String, String> names,
            Map<String, AttributeValue> values, String shard, String first, String last) {
        Map<String, String> allNames = new java.util.HashMap<>(names);
        allNames.put("#cdcp", ShardProgress.attribute(shard));
        Map<String, AttributeValue> allValues = new java.util.HashMap<>(values);
        allValues.put(":cdcfirst", s(first));
        allValues.put(":cdclast", s(progress.value(last)));
        java.util.regex.Matcher set = SET.matcher(expression);
        String withProgress = set.find()
                ? expression.substring(0, set.end()) + "#cdcp = :cdclast, " + expression.substring(set.end())
                : expression + " SET #cdcp = :cdclast";
        try {
            Map<String, AttributeValue> old = client.updateItem(r -> r.tableName(table).key(viewKey)
                    .updateExpression(withProgress)
                    .conditionExpression("attribute_not_exists(#cdcp) OR #cdcp < :cdcfirst")
                    .expressionAttributeNames(allNames).expressionAttributeValues(allValues)
                    .returnValues(software.amazon.awssdk.services.dynamodb.model.ReturnValue.UPDATED_OLD)).attributes();
            if (ShardProgress.firstOfShard(old, shard)) {
                progress.prune(viewKey); // a new shard on this item: drop the progress of long-idle ones
            }
            return Outcome.APPLIED;
        } catch (software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException done) {
            return Outcome.APPLIED_BEFORE;
        } catch (SdkException ex) {
            String reason = DynamoDbErrors.describe(ex, table); // throws if the table is unusable
            return new Outcome(reason, AwsErrors.retryable(ex));
        }
    }

    /** The end of a chunk from {@code from}: at most 99 source items, the ledger puts of one transaction. */
    private int chunkEnd(List<Part> parts, int from, List<? extends ChangeEvent<? extends T>> events) {
        Set<io.cdcfanout.api.EventKey> sources = new HashSet<>();
        int to = from;
        while (to < parts.size()) {
            io.cdcfanout.api.EventKey k = events.get(parts.get(to).event()).key();
            if (!sources.contains(k) && sources.size() == MAX_SOURCES_PER_TRANSACTION) {
                break;
            }
            sources.add(k);
            to++;
        }
        return to;
    }

    /**
     * One transaction: the combined update of the view item, and per source item a ledger entry moved
     * to its last sequence number in the chunk, on condition that it is below the first: none of the
     * chunk's changes of that item was applied before. APPLIED_BEFORE if a condition failed.
     */
    private Outcome applyCombined(Map<String, AttributeValue> viewKey, CombinedUpdate c, List<Part> chunk,
            List<? extends ChangeEvent<? extends T>> events) {
        Map<String, String[]> bySource = new java.util.LinkedHashMap<>(); // ledger id -> {min seq, max seq}
        for (Part p : chunk) {
            ChangeEvent<?> e = events.get(p.event());
            String seq = ReplicationSink.version(e);
            bySource.merge(ledgerId(viewKey, e), new String[] {seq, seq}, (a, b) -> new String[] {
                a[0].compareTo(b[0]) <= 0 ? a[0] : b[0], a[1].compareTo(b[1]) >= 0 ? a[1] : b[1]});
        }
        long expires = clock.instant().plus(retention).getEpochSecond();
        List<TransactWriteItem> items = new ArrayList<>(bySource.size() + 1);
        items.add(TransactWriteItem.builder().update(x -> x.tableName(table).key(viewKey)
                .updateExpression(c.expression).expressionAttributeNames(c.names)
                .expressionAttributeValues(c.values.isEmpty() ? null : c.values)).build());
        for (Map.Entry<String, String[]> src : bySource.entrySet()) {
            String[] range = src.getValue();
            items.add(TransactWriteItem.builder().put(x -> x.tableName(ledger)
                    .item(Map.of(LEDGER_KEY, s(src.getKey()), LEDGER_SEQ, s(range[1]),
                            LEDGER_EXPIRES, AttributeValue.builder().n(Long.toString(expires)).build()))
                    .conditionExpression("attribute_not_exists(#s) OR #s < :s")
                    .expressionAttributeNames(Map.of("#s", LEDGER_SEQ))
                    .expressionAttributeValues(Map.of(":s", s(range[0])))).build());
        }
        try {
            client.transactWriteItems(r -> r.transactItems(items));
            return Outcome.APPLIED;
        } catch (TransactionCanceledException ex) {
            List<CancellationReason> reasons = ex.hasCancellationReasons() ? ex.cancellationReasons() : List.of();
            boolean ledgerRefused = false;
            String other = null;
            for (int k = 0; k < reasons.size(); k++) {
                String code = reasons.get(k).code();
                if (k > 0 && "ConditionalCheckFailed".equals(code)) {
                    ledgerRefused = true;
                } else if (code != null && !"None".equals(code)) {
                    other = code;
                }
            }
            if (ledgerRefused && other == null) {
                return Outcome.APPLIED_BEFORE;
            }
            boolean retryable = DynamoDbErrors.retryableCancellation(other);
            return new Outcome("DynamoDB cancelled the combined update of view table '" + table + "' ("
                    + (other == null ? "no reasons given" : other) + ")", retryable);
        } catch (SdkException ex) {
            String reason = DynamoDbErrors.describe(ex, table + "' or ledger '" + ledger); // throws if unusable
            return new Outcome(reason, AwsErrors.retryable(ex));
        }
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

    /** What became of one update. */
    private static final class Outcome {
        static final Outcome APPLIED = new Outcome(null, false);
        static final Outcome APPLIED_BEFORE = new Outcome(null, false);
        final String failure;
        final boolean retryable;

        Outcome(String failure, boolean retryable) {
            this.failure = failure;
            this.retryable = retryable;
        }
    }

    private Outcome apply(ViewUpdate u, ChangeEvent<?> e) {
        String seq = ReplicationSink.version(e);
        String id = ledgerId(u.key(), e);
        long expires = clock.instant().plus(retention).getEpochSecond();
        TransactWriteItem view = TransactWriteItem.builder().update(x -> x.tableName(table).key(u.key())
                .updateExpression(u.updateExpression())
                .expressionAttributeNames(u.names().isEmpty() ? null : u.names())
                .expressionAttributeValues(u.values().isEmpty() ? null : u.values())).build();
        TransactWriteItem mark = TransactWriteItem.builder().put(x -> x.tableName(ledger)
                .item(Map.of(LEDGER_KEY, s(id), LEDGER_SEQ, s(seq),
                        LEDGER_EXPIRES, AttributeValue.builder().n(Long.toString(expires)).build()))
                .conditionExpression("attribute_not_exists(#s) OR #s < :s")
                .expressionAttributeNames(Map.of("#s", LEDGER_SEQ))
                .expressionAttributeValues(Map.of(":s", s(seq)))).build();
        try {
            client.transactWriteItems(r -> r.transactItems(view, mark));
            return Outcome.APPLIED;
        } catch (TransactionCanceledException ex) {
            List<CancellationReason> reasons = ex.hasCancellationReasons() ? ex.cancellationReasons() : List.of();
            String viewCode = reasons.size() > 0 ? reasons.get(0).code() : null;
            String markCode = reasons.size() > 1 ? reasons.get(1).code() : null;
            if ("ConditionalCheckFailed".equals(markCode) && (viewCode == null || "None".equals(viewCode))) {
                return Outcome.APPLIED_BEFORE; // a replay, a retry, a duplicate
            }
            String code = "None".equals(viewCode) || viewCode == null ? markCode : viewCode;
            boolean retryable = DynamoDbErrors.retryableCancellation(code);
            return new Outcome("DynamoDB cancelled the update of view table '" + table + "' with its ledger entry ("
                    + (viewCode == null ? "no reasons given" : "view: " + viewCode + ", ledger: " + markCode) + ")",
                    retryable);
        } catch (SdkException ex) {
            String reason = DynamoDbErrors.describe(ex, table + "' or ledger '" + ledger); // throws if unusable
            return new Outcome(reason, AwsErrors.retryable(ex));
        }
    }

    /**
     * The ledger key of a view item and a source item: a SHA-256 digest of both keys (each attribute's
     * name, type and value, in name order), so it fits DynamoDB's key limits whatever the keys.
     */
    static String ledgerId(Map<String, AttributeValue> viewKey, ChangeEvent<?> e) {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, AttributeValue> k : new TreeMap<>(viewKey).entrySet()) {
            AttributeValue v = k.getValue();
            b.append(k.getKey()).append('\0');
            if (v.s() != null) {
                b.append('S').append(v.s());
            } else if (v.n() != null) {
                b.append('N').append(new java.math.BigDecimal(v.n()).stripTrailingZeros().toPlainString());
            } else if (v.b() != null) {
                b.append('B').append(Base64.getEncoder().encodeToString(v.b().asByteArrayUnsafe()));
            } else {
                b.append('?').append(v);
            }
            b.append('\0');
        }
        b.append('\1').append(e.key().table()).append('\1').append(e.key().canonical());
        return Base64.getUrlEncoder().withoutPadding().encodeToString(
                io.cdcfanout.dynamodb.internal.Digests.sha256(b.toString()));
    }

    private static AttributeValue s(String v) {
        return AttributeValue.builder().s(v).build();
    }

    /** Builds a {@link MaterializedViewSink}; reusable. */
    public static final class Builder<T> {
        private DynamoDbClient client;
        private String table;
        private String ledger;
        private Duration retention = Duration.ofHours(DEFAULT_LEDGER_RETENTION_HOURS);
        private Clock clock = Clock.systemUTC();
        private Function<? super ChangeEvent<? extends T>, List<ViewUpdate>> updates;
        private Duration snapshotRetention;

        private Builder() {
        }

        /**
         * Makes the view exact across a backfill: it takes {@code SNAPSHOT} events, and the ledger keeps the
         * image each source item counts, so that whichever comes first, the snapshot item or the stream's
         * changes of the overlap, each item ends counted once, at its final image. The update function then
         * sees a REMOVE of the counted image and an INSERT of the new one for every event; their updates of
         * one view item must combine (SET a = :v, ADD a :n, REMOVE a). Costs one GetItem and one
         * TransactWriteItems per event, and one ledger entry per source item holding its image.
         *
         * @param retention how long an entry outlives its item's last change: longer than the snapshot takes
         *     plus the stream's 24 hours, at least 25 hours
         */
        public Builder<T> acceptSnapshots(Duration retention) {
            Objects.requireNonNull(retention, "acceptSnapshots retention must not be null");
            if (retention.compareTo(Duration.ofHours(25)) < 0) {
                throw new IllegalArgumentException("acceptSnapshots retention must be at least 25 hours, longer than "
                        + "the snapshot plus the stream's 24-hour retention, or a late snapshot item could be counted "
                        + "twice (was " + retention + ")");
            }
            this.snapshotRetention = retention;
            return this;
        }

        /** The client of the view and ledger tables; the sink does not close it. */
        public Builder<T> client(DynamoDbClient client) {
            this.client = Objects.requireNonNull(client, "client must not be null");
            return this;
        }

        /** The view table. */
        public Builder<T> table(String table) {
            this.table = DynamoDbErrors.checkTable(table);
            return this;
        }

        /**
         * The applied-ledger table, in the view table's account and region (a transaction spans both):
         * partition key {@value MaterializedViewSink#LEDGER_KEY} (S), TTL on
         * {@value MaterializedViewSink#LEDGER_EXPIRES}. {@link MaterializedViewSink#createLedgerTable}
         * makes one. Several views may share it.
         */
        public Builder<T> ledgerTable(String ledgerTable) {
            this.ledger = DynamoDbErrors.checkTable(ledgerTable);
            return this;
        }

        /**
         * How long a ledger entry outlives its last change, for replays and retries to be recognised;
         * at least 25 hours (the stream keeps 24), {@value MaterializedViewSink#DEFAULT_LEDGER_RETENTION_HOURS}
         * hours by default.
         */
        public Builder<T> ledgerRetention(Duration retention) {
            Objects.requireNonNull(retention, "ledgerRetention must not be null");
            if (retention.compareTo(Duration.ofHours(25)) < 0) {
                throw new IllegalArgumentException("ledgerRetention must be at least 25 hours, longer than the "
                        + "stream's 24-hour retention, or a replay could apply a change twice (was " + retention + ")");
            }
            this.retention = retention;
            return this;
        }

        /** The clock of the ledger's expiry times; the system's by default. */
        public Builder<T> clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock must not be null");
            return this;
        }

        /** Maps an event to its view updates (none to skip it); thread-safe, no side effects. */
        public Builder<T> updates(Function<? super ChangeEvent<? extends T>, List<ViewUpdate>> updates) {
            this.updates = Objects.requireNonNull(updates, "updates must not be null");
            return this;
        }

        /**
         * A sink.
         *
         * @throws IllegalStateException if client, table or updates is missing, or the
         *     ledger is the view table
         */
        public MaterializedViewSink<T> build() {
            if (client == null) {
                throw new IllegalStateException("client is required");
            }
            if (table == null) {
                throw new IllegalStateException("table is required");
            }
            if (ledger != null && ledger.equals(table)) {
                throw new IllegalStateException("ledgerTable must not be the view table '" + table + "'");
            }
            if (updates == null) {
                throw new IllegalStateException("updates is required");
            }
            if (snapshotRetention != null && ledger == null) {
                throw new IllegalStateException("acceptSnapshots needs ledgerTable: the counted images are kept there");
            }
            return new MaterializedViewSink<>(this);
        }
    }
}
