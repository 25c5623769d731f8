package io.cdcfanout.dynamodb.sink;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.aws.internal.AwsErrors;
import io.cdcfanout.dynamodb.internal.DynamoDbErrors;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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
 * <p><b>Exactly once under replays, on every source.</b> What stays true on the poller, on KCL and on
 * Lambda (which names no shard, and runs batches of one shard at once with a ParallelizationFactor) is
 * the order of one source item's changes: their sequence numbers rise across the item's whole shard
 * lineage. So the sink decides "applied already?" per pair of view item and source item, never per
 * shard: an <em>applied ledger</em> table holds, for each pair, the sequence number of the last change
 * applied. Each update is one TransactWriteItems of the view item's UpdateItem and the ledger entry's
 * conditional Put ({@code seq < this change's}), so both happen or neither does. A change applied
 * before (a replay, a retry, a Lambda retry of a batch) fails the condition and changes nothing. Within
 * one call, an update that fails makes every later update of the same view item fail too, so they are
 * retried together, in order.
 *
 * <p><b>Cost.</b> The same number of requests as one UpdateItem per update; in capacity, a transaction
 * of two writes bills each twice, so an update costs about 4 write units instead of 1 for small items,
 * and the ledger holds one small item (about 100 bytes) per pair, which expires
 * {@link Builder#ledgerRetention} after its last change through the ledger table's TTL (enable it on
 * {@value #LEDGER_EXPIRES}). Create the ledger with {@link #createLedgerTable}.
 *
 * <p>Limits: at most one update per view item per event; a dead-lettered event that is redriven after
 * a later change of its source item reached the same view item is a no-op there (within the retention;
 * after it, it is applied). Keep the retention above the longest replay you may need: 24 hours of
 * stream, plus the time to notice.
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
    private final String ledger;
    private final Duration retention;
    private final Clock clock;
    private final Function<? super ChangeEvent<? extends T>, List<ViewUpdate>> updates;

    private MaterializedViewSink(Builder<T> b) {
        this.client = b.client;
        this.table = b.table;
        this.ledger = b.ledger;
        this.retention = b.retention;
        this.clock = b.clock;
        this.updates = b.updates;
    }

    /** A builder; client, table, ledgerTable and updates are required. */
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

    @Override
    public SinkResult write(SinkBatch<? extends T> batch) {
        List<? extends ChangeEvent<? extends T>> events = batch.events();
        SinkResult.Builder result = SinkResult.builder(events.size());
        Set<Map<String, AttributeValue>> blocked = new HashSet<>();
        long applied = 0;
        long skipped = 0;
        for (int i = 0; i < events.size(); i++) {
            ChangeEvent<? extends T> e = events.get(i);
            List<ViewUpdate> list;
            try {
                list = Objects.requireNonNull(updates.apply(e), "the update function returned null");
            } catch (RuntimeException ex) {
                result.fail(i, "the view's update function threw " + ex.getClass().getName() + ": "
                        + ex.getMessage(), false);
                continue;
            }
            Set<Map<String, AttributeValue>> seen = new HashSet<>();
            String failure = null;
            boolean retryable = true;
            for (ViewUpdate u : list) {
                if (!seen.add(u.key())) {
                    failure = "the update function returned two updates of one view item for event " + e.eventId()
                            + "; merge them into one expression";
                    retryable = false;
                    break;
                }
                if (blocked.contains(u.key())) {
                    failure = "an earlier event's update of the same view item failed in this call";
                    break;
                }
            }
            if (failure == null) {
                for (ViewUpdate u : list) {
                    Outcome o = apply(u, e);
                    if (o == Outcome.APPLIED) {
                        applied++;
                    } else if (o == Outcome.APPLIED_BEFORE) {
                        skipped++;
                    } else {
                        failure = o.failure;
                        retryable = o.retryable;
                        blocked.add(u.key());
                    }
                }
            }
            if (failure != null) {
                list.forEach(u -> blocked.add(u.key()));
                result.fail(i, failure, retryable);
            }
        }
        return result.count("dynamodb.updates", applied).count("dynamodb.replayed", skipped)
                .count("dynamodb.transactions", applied + skipped).build();
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
            boolean retryable = code == null || code.equals("TransactionConflict") || code.equals("ThrottlingError")
                    || code.equals("ProvisionedThroughputExceeded") || code.equals("RequestLimitExceeded");
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
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(b.toString().getBytes(StandardCharsets.UTF_8));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
        } catch (NoSuchAlgorithmException impossible) {
            throw new IllegalStateException(impossible);
        }
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

        private Builder() {
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
         * @throws IllegalStateException if client, table, ledgerTable or updates is missing, or the
         *     ledger is the view table
         */
        public MaterializedViewSink<T> build() {
            if (client == null) {
                throw new IllegalStateException("client is required");
            }
            if (table == null) {
                throw new IllegalStateException("table is required");
            }
            if (ledger == null) {
                throw new IllegalStateException("ledgerTable is required: the table in which the sink records, "
                        + "per view item and source item, the last change applied, so that a replay on any source "
                        + "(poller, KCL, Lambda) applies nothing twice; MaterializedViewSink.createLedgerTable makes one");
            }
            if (ledger.equals(table)) {
                throw new IllegalStateException("ledgerTable must not be the view table '" + table + "'");
            }
            if (updates == null) {
                throw new IllegalStateException("updates is required");
            }
            return new MaterializedViewSink<>(this);
        }
    }
}
