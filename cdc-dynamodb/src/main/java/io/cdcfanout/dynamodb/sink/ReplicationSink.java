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
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.UnaryOperator;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;
import software.amazon.awssdk.services.dynamodb.model.ResourceNotFoundException;

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
 * <p><b>Deletes.</b> A REMOVE deletes the item when its marker is older. A late duplicate of an
 * older change that arrives after the delete finds no marker and writes the item back until the
 * stream's replay reaches the delete again, which it always does, since sources replay in order
 * from a checkpoint.
 *
 * <p>Items written by a replicator carry {@link Builder#origin} in {@link #ORIGIN_ATTRIBUTE}, the
 * basis for two-way replication without loops (not finished yet: markers from two streams are not
 * comparable, so two-way mode needs a marker ordered across regions).
 */
public final class ReplicationSink implements Sink<Map<String, AttributeValue>> {
    /** The attribute holding the version marker. */
    public static final String VERSION_ATTRIBUTE = "cdc_version";
    /** The attribute naming the replicator that wrote the item. */
    public static final String ORIGIN_ATTRIBUTE = "cdc_origin";
    /** Digits of a version marker: sequence numbers are at most 40 digits. */
    public static final int VERSION_DIGITS = 40;

    private static final String STALE = "(attribute_not_exists(#v) OR #v < :v)";

    private final DynamoDbClient client;
    private final String table;
    private final String origin;
    private final boolean skipTtlDeletes;
    private final UnaryOperator<Map<String, AttributeValue>> itemTransform;

    private ReplicationSink(Builder b) {
        this.client = b.client;
        this.table = b.table;
        this.origin = b.origin;
        this.skipTtlDeletes = b.skipTtlDeletes;
        this.itemTransform = b.itemTransform;
    }

    /** A builder; client, table and origin are required. */
    public static Builder builder() {
        return new Builder();
    }

    /** DynamoDB's item size limit. */
    @Override
    public SinkLimits limits() {
        return new SinkLimits(SinkLimits.NONE.maxBatchEvents(), SinkLimits.NONE.maxBatchBytes(), 400 * 1024);
    }

    @Override
    public SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
        List<? extends ChangeEvent<? extends Map<String, AttributeValue>>> events = batch.events();
        SinkResult.Builder result = SinkResult.builder(events.size());
        // The last event of each key wins; earlier ones are superseded within this call.
        Map<EventKey, Integer> last = new LinkedHashMap<>();
        for (int i = 0; i < events.size(); i++) {
            last.put(events.get(i).key(), i);
        }
        long writes = 0;
        long stale = 0;
        for (int i : last.values()) {
            ChangeEvent<? extends Map<String, AttributeValue>> e = events.get(i);
            if (e.operation() == Operation.REMOVE && e.ttlExpiry() && skipTtlDeletes) {
                continue;
            }
            String version = version(e);
            try {
                if (e.operation() == Operation.REMOVE) {
                    client.deleteItem(r -> r.tableName(table).key(keyOf(e))
                            .conditionExpression(STALE)
                            .expressionAttributeNames(Map.of("#v", VERSION_ATTRIBUTE))
                            .expressionAttributeValues(Map.of(":v", s(version))));
                } else {
                    Map<String, AttributeValue> image = e.after().orElse(null);
                    if (image == null) {
                        result.fail(i, "event " + e.eventId() + " has no new image: replication needs a stream with "
                                + "NEW_IMAGE or NEW_AND_OLD_IMAGES", false);
                        continue;
                    }
                    Map<String, AttributeValue> item = new HashMap<>(itemTransform.apply(image));
                    item.put(VERSION_ATTRIBUTE, s(version));
                    item.put(ORIGIN_ATTRIBUTE, s(origin));
                    client.putItem(r -> r.tableName(table).item(item)
                            .conditionExpression(STALE)
                            .expressionAttributeNames(Map.of("#v", VERSION_ATTRIBUTE))
                            .expressionAttributeValues(Map.of(":v", s(version))));
                }
                writes++;
            } catch (ConditionalCheckFailedException stored) {
                stale++; // the target already holds this version or a newer one
            } catch (ResourceNotFoundException missing) {
                throw new SinkUnavailableException("target table '" + table + "' does not exist (or is not visible "
                        + "to this client's account and region)", missing);
            } catch (AwsServiceException ase) {
                boolean retryable = ase.retryable() || ase.isThrottlingException()
                        || ase.statusCode() >= 500;
                if (!retryable && "AccessDeniedException".equals(ase.awsErrorDetails().errorCode())) {
                    throw new SinkUnavailableException("access denied writing to table '" + table + "': "
                            + ase.awsErrorDetails().errorMessage(), ase);
                }
                result.fail(i, "DynamoDB " + ase.awsErrorDetails().errorCode() + " on table '" + table + "': "
                        + ase.awsErrorDetails().errorMessage(), retryable);
            } catch (SdkException sdk) {
                result.fail(i, "writing to table '" + table + "' failed: " + sdk.getMessage(), sdk.retryable());
            }
        }
        return result.count("dynamodb.writes", writes).count("dynamodb.stale", stale).build();
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
                av = AttributeValue.builder().n(d.toPlainString()).build();
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

        private Builder() {
        }

        /** The target's client; the sink does not close it. */
        public Builder client(DynamoDbClient client) {
            this.client = Objects.requireNonNull(client, "client must not be null");
            return this;
        }

        /** The target table. */
        public Builder table(String table) {
            Objects.requireNonNull(table, "table must not be null");
            if (!table.matches("[A-Za-z0-9_.-]{3,255}")) {
                throw new IllegalArgumentException("table must be 3 to 255 letters, digits, '_', '-' or '.' (was '"
                        + table + "')");
            }
            this.table = table;
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
                throw new IllegalStateException("origin is required");
            }
            return new ReplicationSink(this);
        }
    }
}
