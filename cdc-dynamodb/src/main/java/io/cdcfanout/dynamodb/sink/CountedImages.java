package io.cdcfanout.dynamodb.sink;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.aws.internal.AwsErrors;
import io.cdcfanout.dynamodb.internal.Digests;
import io.cdcfanout.dynamodb.internal.DynamoDbErrors;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Supplier;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.CancellationReason;
import software.amazon.awssdk.services.dynamodb.model.TransactWriteItem;
import software.amazon.awssdk.services.dynamodb.model.TransactionCanceledException;

/**
 * The view's path for a backfill ({@code MaterializedViewSink.Builder#acceptSnapshots}): the ledger keeps,
 * per source item, the image the view counts now, so that the view can move from that image to the next
 * one whatever arrives first, the snapshot or the stream's changes of the overlap.
 *
 * <ul>
 *   <li>A snapshot event counts its image only if nothing is counted for its item yet (no ledger entry).
 *   <li>A stream event (INSERT, MODIFY, REMOVE) takes the counted image away and counts its new image
 *       (none for a REMOVE), unless the ledger shows it applied already (its sequence number).
 * </ul>
 * The stream carries every change after its consumer started, and the last one an item has leaves its
 * final image counted; an item the stream never changed keeps its snapshot image. So the view is exact
 * once the snapshot and the stream up to a point are applied, in any interleaving, on every source. The
 * user's function sees a REMOVE with the counted image as {@code before} and an INSERT with the new image
 * as {@code after}; their updates of one view item combine into one (simple SET, ADD, REMOVE forms).
 * One GetItem and one TransactWriteItems per event; the ledger holds one entry per source item, with
 * its image, for the retention after its last change.
 */
final class CountedImages<T> {
    /** The ledger entry's counted image (M); absent when nothing is counted (deleted, or not yet seen). */
    static final String IMAGE = "img";
    /** The ledger entry's revision (N), moved by each write: the condition of optimistic concurrency. */
    static final String REVISION = "rev";
    /** Events in one transaction besides the ledger entry. */
    private static final int MAX_VIEW_ITEMS = 99;

    private final software.amazon.awssdk.services.dynamodb.DynamoDbClient client;
    private final String table;
    private final String ledger;
    private final Duration retention;
    private final Clock clock;
    private final Function<? super ChangeEvent<? extends T>, List<ViewUpdate>> updates;
    private final Supplier<ExecutorService> writers;

    CountedImages(software.amazon.awssdk.services.dynamodb.DynamoDbClient client, String table, String ledger,
            Duration retention, Clock clock, Function<? super ChangeEvent<? extends T>, List<ViewUpdate>> updates,
            Supplier<ExecutorService> writers) {
        this.client = client;
        this.table = table;
        this.ledger = ledger;
        this.retention = retention;
        this.clock = clock;
        this.updates = updates;
        this.writers = writers;
    }

    /** Tallies of one call. */
    private static final class Tally {
        final AtomicLong applied = new AtomicLong();
        final AtomicLong replayed = new AtomicLong();
        final AtomicLong snapshotsSkipped = new AtomicLong();
        final AtomicLong transactions = new AtomicLong();
    }

    /** Applies a call's events: one source item's in order, different items at once. */
    void write(List<? extends ChangeEvent<? extends T>> events, SinkResult.Builder result) {
        Map<EventKey, List<Integer>> bySource = new LinkedHashMap<>();
        for (int i = 0; i < events.size(); i++) {
            bySource.computeIfAbsent(events.get(i).key(), k -> new ArrayList<>()).add(i);
        }
        String[] failures = new String[events.size()];
        boolean[] retryable = new boolean[events.size()];
        Tally tally = new Tally();
        List<CompletableFuture<Void>> running = new ArrayList<>();
        for (List<Integer> group : bySource.values()) {
            Runnable apply = () -> {
                for (int k = 0; k < group.size(); k++) {
                    int i = group.get(k);
                    String[] failure = {null};
                    boolean again = apply(events.get(i), tally, failure);
                    if (failure[0] != null) {
                        for (int later : group.subList(k, group.size())) {
                            failures[later] = later == i ? failure[0]
                                    : "an earlier event of the same source item failed in this call";
                            retryable[later] = again;
                        }
                        return;
                    }
                }
            };
            if (bySource.size() == 1) {
                apply.run();
            } else {
                running.add(CompletableFuture.runAsync(apply, writers.get()));
            }
        }
        try {
            CompletableFuture.allOf(running.toArray(new CompletableFuture<?>[0])).join();
        } catch (CompletionException ex) {
            if (ex.getCause() instanceof RuntimeException re) {
                throw re; // a missing table or denied access halts the route
            }
            throw ex;
        }
        for (int i = 0; i < events.size(); i++) {
            if (failures[i] != null) {
                result.fail(i, failures[i], retryable[i]);
            }
        }
        result.count("dynamodb.updates", tally.applied.get()).count("dynamodb.replayed", tally.replayed.get())
                .count("dynamodb.snapshotsSkipped", tally.snapshotsSkipped.get())
                .count("dynamodb.transactions", tally.transactions.get());
    }

    /**
     * Applies one event; on failure sets {@code failure[0]} and returns whether it is retryable.
     */
    @SuppressWarnings("unchecked")
    private boolean apply(ChangeEvent<? extends T> e, Tally tally, String[] failure) {
        if (e != e.raw()) {
            failure[0] = "event " + e.eventId() + " carries mapped images; a view that accepts snapshots keeps the "
                    + "DynamoDB images it counts, so route events with Map<String, AttributeValue> images to it";
            return false;
        }
        ChangeEvent<Map<String, AttributeValue>> raw = (ChangeEvent<Map<String, AttributeValue>>) e;
        String id = entryId(e.key());
        Map<String, AttributeValue> entry;
        try {
            entry = client.getItem(r -> r.tableName(ledger).key(Map.of(MaterializedViewSink.LEDGER_KEY, s(id)))
                    .consistentRead(true)).item();
        } catch (SdkException ex) {
            failure[0] = DynamoDbErrors.describe(ex, ledger); // throws if the ledger is unusable
            return AwsErrors.retryable(ex);
        }
        boolean counted = entry != null && !entry.isEmpty();
        String seq = e.operation() == Operation.SNAPSHOT ? null : ReplicationSink.version(e);
        if (seq == null && counted) {
            tally.snapshotsSkipped.incrementAndGet();
            return false;
        }
        AttributeValue appliedSeq = counted ? entry.get(MaterializedViewSink.LEDGER_SEQ) : null;
        if (seq != null && appliedSeq != null && appliedSeq.s() != null && appliedSeq.s().compareTo(seq) >= 0) {
            tally.replayed.incrementAndGet();
            return false;
        }
        Map<String, AttributeValue> old = counted && entry.containsKey(IMAGE) ? entry.get(IMAGE).m() : null;
        Map<String, AttributeValue> now = e.operation() == Operation.REMOVE ? null : raw.after().orElse(null);
        Map<Map<String, AttributeValue>, List<ViewUpdate>> byView = new LinkedHashMap<>();
        try {
            if (old != null) {
                add(byView, synthetic(raw, Operation.REMOVE, old));
            }
            if (now != null) {
                add(byView, synthetic(raw, Operation.INSERT, now));
            }
        } catch (RuntimeException ex) {
            failure[0] = "the view's update function threw " + ex.getClass().getName() + ": " + ex.getMessage();
            return false;
        }
        if (byView.size() > MAX_VIEW_ITEMS) {
            failure[0] = "event " + e.eventId() + " updates " + byView.size() + " view items; one transaction takes "
                    + MAX_VIEW_ITEMS;
            return false;
        }
        List<TransactWriteItem> items = new ArrayList<>(byView.size() + 1);
        for (Map.Entry<Map<String, AttributeValue>, List<ViewUpdate>> v : byView.entrySet()) {
            CombinedUpdate c = v.getValue().size() == 1 ? null : CombinedUpdate.of(v.getValue());
            if (v.getValue().size() > 1 && c == null) {
                failure[0] = "taking the counted image away and counting the new one update a view item twice for "
                        + "event " + e.eventId() + ", in expressions that do not combine; use the simple forms "
                        + "(SET a = :v, ADD a :n, REMOVE a)";
                return false;
            }
            ViewUpdate one = v.getValue().get(0);
            String expression = c == null ? one.updateExpression() : c.expression;
            Map<String, String> names = c == null ? one.names() : c.names;
            Map<String, AttributeValue> values = c == null ? one.values() : c.values;
            items.add(TransactWriteItem.builder().update(x -> x.tableName(table).key(v.getKey())
                    .updateExpression(expression).expressionAttributeNames(names.isEmpty() ? null : names)
                    .expressionAttributeValues(values.isEmpty() ? null : values)).build());
        }
        long revision = counted && entry.get(REVISION) != null ? Long.parseLong(entry.get(REVISION).n()) : 0;
        Map<String, AttributeValue> next = new HashMap<>();
        next.put(MaterializedViewSink.LEDGER_KEY, s(id));
        next.put(REVISION, AttributeValue.builder().n(Long.toString(revision + 1)).build());
        next.put(MaterializedViewSink.LEDGER_EXPIRES, AttributeValue.builder()
                .n(Long.toString(clock.instant().plus(retention).getEpochSecond())).build());
        if (seq != null) {
            next.put(MaterializedViewSink.LEDGER_SEQ, s(seq));
        } else if (appliedSeq != null) {
            next.put(MaterializedViewSink.LEDGER_SEQ, appliedSeq);
        }
        if (now != null) {
            next.put(IMAGE, AttributeValue.builder().m(now).build());
        }
        items.add(TransactWriteItem.builder().put(x -> x.tableName(ledger).item(next)
                .conditionExpression(counted ? "#r = :r" : "attribute_not_exists(#id)")
                .expressionAttributeNames(counted ? Map.of("#r", REVISION) : Map.of("#id", MaterializedViewSink.LEDGER_KEY))
                .expressionAttributeValues(counted ? Map.of(":r", AttributeValue.builder().n(Long.toString(revision)).build())
                        : null)).build());
        tally.transactions.incrementAndGet();
        try {
            client.transactWriteItems(r -> r.transactItems(items));
            tally.applied.incrementAndGet();
            return false;
        } catch (TransactionCanceledException ex) {
            List<CancellationReason> reasons = ex.hasCancellationReasons() ? ex.cancellationReasons() : List.of();
            String code = null;
            for (CancellationReason reason : reasons) {
                if (reason.code() != null && !"None".equals(reason.code())) {
                    code = reason.code();
                }
            }
            if ("ConditionalCheckFailed".equals(code)) {
                failure[0] = "the ledger entry of the event's source item moved meanwhile (another writer); retried";
                return true;
            }
            boolean again = DynamoDbErrors.retryableCancellation(code);
            failure[0] = "DynamoDB cancelled the update of view table '" + table + "' with its counted image ("
                    + (code == null ? "no reasons given" : code) + ")";
            return again;
        } catch (SdkException ex) {
            failure[0] = DynamoDbErrors.describe(ex, table + "' or ledger '" + ledger); // throws if unusable
            return AwsErrors.retryable(ex);
        }
    }

    @SuppressWarnings("unchecked")
    private void add(Map<Map<String, AttributeValue>, List<ViewUpdate>> byView, ChangeEvent<Map<String, AttributeValue>> e) {
        List<ViewUpdate> list = updates.apply((ChangeEvent<? extends T>) (ChangeEvent<?>) e);
        if (list == null) {
            throw new NullPointerException("the update function returned null");
        }
        for (ViewUpdate u : list) {
            byView.computeIfAbsent(u.key(), k -> new ArrayList<>()).add(u);
        }
    }

    /** The event as the user's function sees it here: a REMOVE of the counted image, or an INSERT of the new. */
    private static ChangeEvent<Map<String, AttributeValue>> synthetic(ChangeEvent<Map<String, AttributeValue>> e,
            Operation op, Map<String, AttributeValue> image) {
        ChangeEvent.Builder<Map<String, AttributeValue>> b = ChangeEvent.<Map<String, AttributeValue>>builder()
                .operation(op).source(e.source())
                .position(e.position().shardId().equals(Position.SNAPSHOT_SHARD)
                        ? new Position(Position.UNKNOWN_SHARD, "0") : e.position())
                .eventId(e.eventId()).key(e.key()).sizeBytes(e.sizeBytes());
        e.creationTime().ifPresent(b::creationTime);
        return (op == Operation.REMOVE ? b.before(image) : b.after(image)).build();
    }

    /** The ledger key of a source item's counted image: {@code img#} and a digest of its table and key. */
    static String entryId(EventKey key) {
        return "img#" + Base64.getUrlEncoder().withoutPadding()
                .encodeToString(Digests.sha256(key.table() + "\n" + key.canonical()));
    }

    private static AttributeValue s(String v) {
        return AttributeValue.builder().s(v).build();
    }
}
