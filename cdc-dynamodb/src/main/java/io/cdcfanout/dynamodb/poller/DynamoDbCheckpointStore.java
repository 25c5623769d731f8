package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.aws.internal.AwsErrors;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import io.cdcfanout.dynamodb.internal.DynamoDbErrors;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeDefinition;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.BillingMode;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;
import software.amazon.awssdk.services.dynamodb.model.KeySchemaElement;
import software.amazon.awssdk.services.dynamodb.model.KeyType;
import software.amazon.awssdk.services.dynamodb.model.QueryRequest;
import software.amazon.awssdk.services.dynamodb.model.QueryResponse;
import software.amazon.awssdk.services.dynamodb.model.ResourceInUseException;
import software.amazon.awssdk.services.dynamodb.model.ScalarAttributeType;

/**
 * Checkpoints in a DynamoDB table (hash key {@code streamArn}, range key {@code shardId}), with
 * exclusive ownership by conditional writes: a claim succeeds only if the shard has no owner, the
 * same owner, or an owner whose heartbeat is older than the lease; a save succeeds only for the
 * owner. So two pollers never both read a shard, and a crashed poller's shards are taken over
 * once its lease runs out. Heartbeats compare wall clocks, so hosts must keep them roughly in sync
 * (well within the lease). Thread-safe.
 */
public final class DynamoDbCheckpointStore implements CheckpointStore {
    /** Default for {@link Builder#lease}, in seconds. */
    public static final long DEFAULT_LEASE_SECONDS = 60;

    private final DynamoDbClient client;
    private final String table;
    private final Duration lease;
    private final Clock clock;

    private DynamoDbCheckpointStore(Builder b) {
        this.client = b.client;
        this.table = b.table;
        this.lease = b.lease;
        this.clock = b.clock;
        if (b.createTable) {
            createTable();
        }
    }

    /** A builder; {@link Builder#client} and {@link Builder#table} are required. */
    public static Builder builder() {
        return new Builder();
    }

    private void createTable() {
        try {
            client.createTable(r -> r.tableName(table)
                    .keySchema(KeySchemaElement.builder().attributeName("streamArn").keyType(KeyType.HASH).build(),
                            KeySchemaElement.builder().attributeName("shardId").keyType(KeyType.RANGE).build())
                    .attributeDefinitions(
                            AttributeDefinition.builder().attributeName("streamArn")
                                    .attributeType(ScalarAttributeType.S).build(),
                            AttributeDefinition.builder().attributeName("shardId")
                                    .attributeType(ScalarAttributeType.S).build())
                    .billingMode(BillingMode.PAY_PER_REQUEST));
            client.waiter().waitUntilTableExists(r -> r.tableName(table));
        } catch (ResourceInUseException e) {
            // Someone created it first: fine.
        } catch (SdkException e) {
            throw error("cannot create checkpoint table '" + table + "'", e);
        }
    }

    @Override
    public java.util.Optional<Duration> lease() {
        return java.util.Optional.of(lease);
    }

    @Override
    public Map<String, Checkpoint> load(String streamArn) {
        Map<String, Checkpoint> result = new HashMap<>();
        Map<String, AttributeValue> start = null;
        try {
            do {
                QueryRequest.Builder q = QueryRequest.builder().tableName(table).consistentRead(true)
                        .keyConditionExpression("streamArn = :s")
                        .expressionAttributeValues(Map.of(":s", s(streamArn)));
                if (start != null) {
                    q.exclusiveStartKey(start);
                }
                QueryResponse page = client.query(q.build());
                for (Map<String, AttributeValue> item : page.items()) {
                    AttributeValue cp = item.get("checkpoint");
                    if (cp != null && cp.s() != null) {
                        result.put(item.get("shardId").s(), Checkpoint.decode(cp.s()));
                    }
                }
                start = page.hasLastEvaluatedKey() && !page.lastEvaluatedKey().isEmpty() ? page.lastEvaluatedKey()
                        : null;
            } while (start != null);
        } catch (SdkException e) {
            throw error("cannot read checkpoints of " + streamArn + " from table '" + table + "'", e);
        }
        return result;
    }

    @Override
    public boolean claim(String streamArn, String shardId, String owner) {
        long now = clock.millis();
        try {
            client.updateItem(r -> r.tableName(table).key(key(streamArn, shardId))
                    .updateExpression("SET #o = :me, heartbeat = :now")
                    .conditionExpression("attribute_not_exists(#o) OR #o = :me OR heartbeat < :expired")
                    .expressionAttributeNames(Map.of("#o", "owner"))
                    .expressionAttributeValues(Map.of(":me", s(owner), ":now", n(now),
                            ":expired", n(now - lease.toMillis()))));
            return true;
        } catch (ConditionalCheckFailedException e) {
            return false;
        } catch (SdkException e) {
            throw error("cannot claim shard " + shardId + " in table '" + table + "'", e);
        }
    }

    @Override
    public void save(String streamArn, String shardId, String owner, Checkpoint checkpoint) {
        try {
            client.updateItem(r -> r.tableName(table).key(key(streamArn, shardId))
                    .updateExpression("SET checkpoint = :cp, heartbeat = :now")
                    .conditionExpression("#o = :me")
                    .expressionAttributeNames(Map.of("#o", "owner"))
                    .expressionAttributeValues(Map.of(":cp", s(checkpoint.encode()), ":me", s(owner),
                            ":now", n(clock.millis()))));
        } catch (ConditionalCheckFailedException e) {
            throw new CdcException("shard " + shardId + " of " + streamArn + " is no longer owned by '" + owner
                    + "' (table '" + table + "'): another poller took it over, so this one must stop reading it",
                    e, false);
        } catch (SdkException e) {
            throw error("cannot save the checkpoint of shard " + shardId + " in table '" + table + "'", e);
        }
    }

    @Override
    public void forget(String streamArn, String shardId) {
        try {
            client.deleteItem(r -> r.tableName(table).key(key(streamArn, shardId)));
        } catch (SdkException e) {
            throw error("cannot delete the row of departed shard " + shardId + " in table '" + table + "'", e);
        }
    }

    @Override
    public void release(String streamArn, String shardId, String owner) {
        try {
            client.updateItem(r -> r.tableName(table).key(key(streamArn, shardId))
                    .updateExpression("REMOVE #o")
                    .conditionExpression("#o = :me")
                    .expressionAttributeNames(Map.of("#o", "owner"))
                    .expressionAttributeValues(Map.of(":me", s(owner))));
        } catch (ConditionalCheckFailedException e) {
            // Not ours any more: nothing to give up.
        } catch (SdkException e) {
            throw error("cannot release shard " + shardId + " in table '" + table + "'", e);
        }
    }

    private static CdcException error(String what, SdkException e) {
        return new CdcException(what + ": " + AwsErrors.describe(e), e, AwsErrors.retryable(e));
    }

    private static Map<String, AttributeValue> key(String streamArn, String shardId) {
        return Map.of("streamArn", s(streamArn), "shardId", s(shardId));
    }

    private static AttributeValue s(String v) {
        return AttributeValue.builder().s(v).build();
    }

    private static AttributeValue n(long v) {
        return AttributeValue.builder().n(Long.toString(v)).build();
    }

    /** Builds a {@link DynamoDbCheckpointStore}; reusable. */
    public static final class Builder {
        private DynamoDbClient client;
        private String table;
        private Duration lease = Duration.ofSeconds(DEFAULT_LEASE_SECONDS);
        private Clock clock = Clock.systemUTC();
        private boolean createTable;

        private Builder() {
        }

        /** The client for the checkpoint table; the store does not close it. */
        public Builder client(DynamoDbClient client) {
            this.client = Objects.requireNonNull(client, "client must not be null");
            return this;
        }

        /** The checkpoint table's name: 3 to 255 of letters, digits, '_', '-' and '.'. */
        public Builder table(String table) {
            this.table = DynamoDbErrors.checkTable(table);
            return this;
        }

        /**
         * How long a claim lives without a heartbeat before another poller may take the shard;
         * default {@value #DEFAULT_LEASE_SECONDS} s. Pollers renew well within it.
         */
        public Builder lease(Duration lease) {
            Objects.requireNonNull(lease, "lease must not be null");
            if (lease.compareTo(Duration.ofSeconds(1)) < 0) {
                throw new IllegalArgumentException("lease must be at least 1 second (was " + lease + ")");
            }
            this.lease = lease;
            return this;
        }

        /** The clock for heartbeats; the system UTC clock by default. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock must not be null");
            return this;
        }

        /** Whether {@link #build()} creates the table (on-demand) when it is missing; false by default. */
        public Builder createTableIfMissing(boolean createTable) {
            this.createTable = createTable;
            return this;
        }

        /**
         * A store.
         *
         * @throws IllegalStateException if client or table is missing
         * @throws CdcException if the table must be created and cannot be
         */
        public DynamoDbCheckpointStore build() {
            if (client == null) {
                throw new IllegalStateException("client is required");
            }
            if (table == null) {
                throw new IllegalStateException("table is required");
            }
            return new DynamoDbCheckpointStore(this);
        }
    }
}
