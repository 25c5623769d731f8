package io.cdcfanout.dynamodb.sink;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import io.cdcfanout.dynamodb.internal.DynamoDbErrors;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;

/**
 * Keeps a materialized view: a user function maps each event to {@link ViewUpdate}s (counters with
 * ADD, latest values with SET, removals), applied with UpdateItem.
 *
 * <p><b>Exactly once under replays.</b> Sequence numbers are ordered only within a shard, and a view
 * item gathers events from many shards, so each view item keeps, per source shard, the last applied
 * sequence number in an attribute {@code cdc_seq_<shardId>}, zero-padded to 40 digits so that string
 * order is numeric order (sequence numbers outgrow DynamoDB's 38-digit numbers). The update and the
 * check of that attribute are one conditional UpdateItem, so an event applied before (a replay, a
 * retry, a duplicate) fails the condition and changes nothing. To keep each view item's updates in
 * shard order, an update that fails makes every later update of the same view item in the call fail
 * too, so they are retried together, in order.
 *
 * <p>Limits: at most one update per view item per event; a dead-lettered event that is redriven
 * after later events of its shard reached the same view item is a no-op there. Each source shard
 * leaves one small attribute in the view items it touched.
 *
 * @param <T> the image type of the events
 */
public final class MaterializedViewSink<T> implements Sink<T> {
    /** The prefix of the per-shard progress attributes. */
    public static final String PROGRESS_PREFIX = "cdc_seq_";

    private static final Pattern SET = Pattern.compile("(?i)\\bSET\\s+");

    private final DynamoDbClient client;
    private final String table;
    private final Function<? super ChangeEvent<? extends T>, List<ViewUpdate>> updates;

    private MaterializedViewSink(Builder<T> b) {
        this.client = b.client;
        this.table = b.table;
        this.updates = b.updates;
    }

    /** A builder; client, table and updates are required. */
    public static <T> Builder<T> builder() {
        return new Builder<>();
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
                    try {
                        apply(u, e);
                        applied++;
                    } catch (ConditionalCheckFailedException done) {
                        skipped++; // applied before: a replay or a retry
                    } catch (SdkException ex) {
                        failure = DynamoDbErrors.describe(ex, table); // throws if the table is unusable
                        retryable = DynamoDbErrors.retryable(ex);
                        blocked.add(u.key());
                    }
                }
            }
            if (failure != null) {
                list.forEach(u -> blocked.add(u.key()));
                result.fail(i, failure, retryable);
            }
        }
        return result.count("dynamodb.updates", applied).count("dynamodb.replayed", skipped).build();
    }

    private void apply(ViewUpdate u, ChangeEvent<?> e) {
        String seq = ReplicationSink.version(e);
        Map<String, String> names = new HashMap<>(u.names());
        names.put("#cdcp", PROGRESS_PREFIX + e.position().shardId());
        Map<String, AttributeValue> values = new HashMap<>(u.values());
        values.put(":cdcs", AttributeValue.builder().s(seq).build());
        // One SET clause per expression: join the user's, if any.
        Matcher set = SET.matcher(u.updateExpression());
        String expression = set.find()
                ? u.updateExpression().substring(0, set.end()) + "#cdcp = :cdcs, " + u.updateExpression().substring(set.end())
                : u.updateExpression() + " SET #cdcp = :cdcs";
        client.updateItem(r -> r.tableName(table).key(u.key()).updateExpression(expression)
                .conditionExpression("attribute_not_exists(#cdcp) OR #cdcp < :cdcs")
                .expressionAttributeNames(names).expressionAttributeValues(values));
    }

    /** Builds a {@link MaterializedViewSink}; reusable. */
    public static final class Builder<T> {
        private DynamoDbClient client;
        private String table;
        private Function<? super ChangeEvent<? extends T>, List<ViewUpdate>> updates;

        private Builder() {
        }

        /** The view table's client; the sink does not close it. */
        public Builder<T> client(DynamoDbClient client) {
            this.client = Objects.requireNonNull(client, "client must not be null");
            return this;
        }

        /** The view table. */
        public Builder<T> table(String table) {
            this.table = DynamoDbErrors.checkTable(table);
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
         * @throws IllegalStateException if client, table or updates is missing
         */
        public MaterializedViewSink<T> build() {
            if (client == null) {
                throw new IllegalStateException("client is required");
            }
            if (table == null) {
                throw new IllegalStateException("table is required");
            }
            if (updates == null) {
                throw new IllegalStateException("updates is required");
            }
            return new MaterializedViewSink<>(this);
        }
    }
}
