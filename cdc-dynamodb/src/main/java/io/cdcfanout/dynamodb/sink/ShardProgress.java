package io.cdcfanout.dynamodb.sink;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;

/**
 * A view item's per-shard progress for events of named shards, kept bounded. Each attribute
 * ({@value MaterializedViewSink#PROGRESS_PREFIX}{@code <shard>}) holds the last applied sequence number,
 * zero-padded to 40 digits, then {@code @} and the epoch second of that write: it compares like the
 * sequence number, so the sink's condition is unchanged. Shards roll over every few hours; an attribute
 * per shard ever seen would grow a lifetime counter until the 400 KB item limit. So when a shard writes
 * to a view item for the first time, the item's progress of shards that wrote nothing for
 * {@code retention} (at least 25 hours, longer than the stream keeps a record) is removed: no replay
 * can bring their records back. A view item then holds about one attribute per shard active within the
 * retention. Thread-safe.
 */
final class ShardProgress {
    private static final Logger LOG = LoggerFactory.getLogger(ShardProgress.class);

    private final DynamoDbClient client;
    private final String table;
    private final Duration retention;
    private final Clock clock;

    ShardProgress(DynamoDbClient client, String table, Duration retention, Clock clock) {
        this.client = client;
        this.table = table;
        this.retention = retention;
        this.clock = clock;
    }

    static String attribute(String shard) {
        return MaterializedViewSink.PROGRESS_PREFIX + shard;
    }

    /** The stored value for {@code seq40} written now. */
    String value(String seq40) {
        return seq40 + "@" + clock.instant().getEpochSecond();
    }

    /** Whether an update's old values (ReturnValues UPDATED_OLD) show the shard had no progress on the item. */
    static boolean firstOfShard(Map<String, AttributeValue> oldValues, String shard) {
        return oldValues == null || !oldValues.containsKey(attribute(shard));
    }

    /**
     * Removes the view item's progress of shards idle for the retention; rewrites a value of the older
     * form (no write time) with the time now, so that it expires in turn. Each removal is conditional on
     * the value being unchanged; a conflict or an error leaves the item as it is, for the next prune.
     *
     * @return how many attributes were removed
     */
    int prune(Map<String, AttributeValue> viewKey) {
        try {
            Map<String, AttributeValue> item = client.getItem(r -> r.tableName(table).key(viewKey).consistentRead(true))
                    .item();
            if (item == null || item.isEmpty()) {
                return 0;
            }
            long expired = clock.instant().minus(retention).getEpochSecond();
            List<String> remove = new ArrayList<>();
            List<String> stamp = new ArrayList<>();
            List<String> conditions = new ArrayList<>();
            Map<String, String> names = new HashMap<>();
            Map<String, AttributeValue> values = new HashMap<>();
            int n = 0;
            for (Map.Entry<String, AttributeValue> a : item.entrySet()) {
                String v = a.getValue().s();
                if (!a.getKey().startsWith(MaterializedViewSink.PROGRESS_PREFIX) || v == null) {
                    continue;
                }
                int at = v.indexOf('@');
                boolean old = at < 0;
                if (!old && parse(v.substring(at + 1)) >= expired) {
                    continue;
                }
                String name = "#p" + n;
                String was = ":w" + n;
                names.put(name, a.getKey());
                values.put(was, a.getValue());
                conditions.add(name + " = " + was);
                if (old) {
                    values.put(":v" + n, AttributeValue.builder().s(value(v)).build());
                    stamp.add(name + " = :v" + n);
                } else {
                    remove.add(name);
                }
                n++;
            }
            if (n == 0) {
                return 0;
            }
            String expression = (stamp.isEmpty() ? "" : "SET " + String.join(", ", stamp) + " ")
                    + (remove.isEmpty() ? "" : "REMOVE " + String.join(", ", remove));
            client.updateItem(r -> r.tableName(table).key(viewKey).updateExpression(expression.trim())
                    .conditionExpression(String.join(" AND ", conditions)).expressionAttributeNames(names)
                    .expressionAttributeValues(values));
            return remove.size();
        } catch (ConditionalCheckFailedException changed) {
            return 0; // a shard wrote meanwhile: the next first write of a shard prunes again
        } catch (SdkException e) {
            LOG.debug("Pruning the shard progress of a view item in '{}' failed; it is tried again later", table, e);
            return 0;
        }
    }

    private static long parse(String seconds) {
        try {
            return Long.parseLong(seconds);
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE; // not ours to judge: kept
        }
    }
}
