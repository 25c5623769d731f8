package io.cdcfanout.dynamodb.sink;

import io.cdcfanout.api.pipeline.PipelineListener;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** Helpers for replication tests: comparable table contents, and waiting on pipeline activity. */
final class Replicas {
    private Replicas() {
    }

    /** The live items of a table keyed by "id": tombstones left out, replication attributes removed. */
    static Map<String, Map<String, AttributeValue>> items(DynamoDbClient db, String table) {
        return db.scanPaginator(r -> r.tableName(table)).items().stream()
                .filter(item -> !item.containsKey(ReplicationSink.DELETED_ATTRIBUTE))
                .map(item -> {
                    Map<String, AttributeValue> copy = new HashMap<>(item);
                    copy.remove(ReplicationSink.VERSION_ATTRIBUTE);
                    copy.remove(ReplicationSink.ORIGIN_ATTRIBUTE);
                    return copy;
                })
                .collect(Collectors.toMap(item -> item.get("id").s(), item -> item));
    }

    /**
     * The live items of a two-way table keyed by "id": tombstones ({@link TwoWayTable#isLive}) left out,
     * the sinks' {@code cdc_} attributes removed.
     */
    static Map<String, Map<String, AttributeValue>> items(DynamoDbClient db, String table, String orderAttribute) {
        return db.scanPaginator(r -> r.tableName(table).consistentRead(true)).items().stream()
                .filter(item -> TwoWayTable.isLive(item, orderAttribute))
                .map(item -> {
                    Map<String, AttributeValue> copy = new HashMap<>(item);
                    copy.keySet().removeIf(n -> n.startsWith("cdc_"));
                    return copy;
                })
                .collect(Collectors.toMap(item -> item.get("id").s(), item -> item));
    }

    /** Counts what routes take and write, and lets a test wait for the next delivery instead of sleeping. */
    static final class Activity implements PipelineListener {
        final AtomicLong in = new AtomicLong();
        final AtomicLong writes = new AtomicLong();
        private long ticks;

        @Override
        public void onEventsIn(String route, int events) {
            in.addAndGet(events);
            tick();
        }

        @Override
        public void onSinkCounters(String route, Map<String, Long> counters) {
            writes.addAndGet(counters.getOrDefault("dynamodb.writes", 0L));
            tick();
        }

        private synchronized void tick() {
            ticks++;
            notifyAll();
        }

        /** Waits up to {@code timeout} for any route activity; false if there was none. */
        synchronized boolean await(Duration timeout) throws InterruptedException {
            long seen = ticks;
            long deadline = System.nanoTime() + timeout.toNanos();
            while (ticks == seen) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                wait(left / 1_000_000 + 1);
            }
            return true;
        }
    }
}
