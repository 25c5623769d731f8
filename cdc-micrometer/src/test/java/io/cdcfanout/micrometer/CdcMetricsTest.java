package io.cdcfanout.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkUnavailableException;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import io.cdcfanout.testkit.ScriptedSink;
import io.cdcfanout.testkit.TestEvents;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/** The meters after a flow with a retry, a dead letter and a halt, on a SimpleMeterRegistry. */
class CdcMetricsTest {

    private static double count(MeterRegistry r, String name, String... tags) {
        return r.get(name).tags(tags).counter().count();
    }

    private static double gauge(MeterRegistry r, String name, String... tags) {
        return r.get(name).tags(tags).gauge().value();
    }

    @Test
    void aRetryADeadLetterAndAHaltShowInTheMeters() {
        TestEvents t = TestEvents.forTable("Orders", "id").shard("shardId-1");
        List<ChangeEvent<Map<String, Object>>> events = List.of(t.insert("a", Map.of()), t.insert("b", Map.of()),
                t.insert("c", Map.of()));
        ScriptedSink<Map<String, Object>> flaky = ScriptedSink.<Map<String, Object>>builder()
                .failEvent(events.get(0).eventId(), 1) // one retry
                .fatalWhen(e -> e.eventId().equals(events.get(1).eventId()), "rejected") // one dead letter
                .build();
        Sink<Map<String, Object>> down = batch -> {
            throw new SinkUnavailableException("the table is gone", null);
        };
        CdcMetrics metrics = new CdcMetrics();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        RetryPolicy quick = RetryPolicy.builder().maxAttempts(3).initialBackoff(Duration.ofMillis(1)).build();
        try (Pipeline<Map<String, Object>> pipeline = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("orders").sink(flaky).retry(quick).build())
                .route(Route.<Map<String, Object>>builder("mirror").sink(down).retry(quick).build())
                .deadLetterSink(new RecordingDeadLetterSink()).listener(metrics).build()) {
            metrics.watch(pipeline).bindTo(registry);
            pipeline.submit(events);
            pipeline.flush().join();

            assertEquals(3, count(registry, "cdc.events.in", "route", "orders"));
            assertEquals(2, count(registry, "cdc.events.delivered", "route", "orders"));
            assertEquals(1, count(registry, "cdc.events.dead.lettered", "route", "orders", "cause", "sink"));
            assertTrue(count(registry, "cdc.retries", "route", "orders") >= 1, "a retry");
            assertEquals(1, count(registry, "cdc.routes.halted", "route", "mirror"));
            assertEquals(1, gauge(registry, "cdc.route.halted", "route", "mirror"));
            assertEquals(0, gauge(registry, "cdc.route.halted", "route", "orders"));
            assertEquals(0, gauge(registry, "cdc.route.buffered", "route", "orders"));
            assertTrue(registry.get("cdc.flushes").tags("route", "orders").counters().stream()
                    .mapToDouble(c -> c.count()).sum() >= 1, "flushes by cause");
            assertEquals(1, registry.get("cdc.delivery.lag").tags("route", "orders").timers().size());
            assertTrue(registry.getMeters().stream().flatMap(m -> m.getId().getTags().stream())
                    .noneMatch(tag -> tag.getValue().contains("the table is gone")), "no reason in a tag");
        }
    }

    @Test
    void thePollersShardsShowIteratorAndCheckpointAges() throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        String table = LocalDynamoDb.uniqueName("Metered");
        String arn = local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        for (int i = 0; i < 5; i++) {
            String id = "i" + i;
            local.client().putItem(r -> r.tableName(table).item(Map.of("id", AttributeValue.fromS(id))));
        }
        CdcMetrics metrics = new CdcMetrics();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        CountDownLatch checkpointed = new CountDownLatch(1);
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("all").sink(new io.cdcfanout.testkit.RecordingSink<>())
                        .build()).listener(metrics).build();
                StreamPoller poller = StreamPoller.builder().streamsClient(local.streams()).streamArn(arn)
                        .pipeline(pipeline).pollInterval(Duration.ofMillis(10)).listener(metrics)
                        .listener(new io.cdcfanout.dynamodb.poller.PollerListener() {
                            @Override
                            public void onCheckpoint(String shardId, io.cdcfanout.dynamodb.poller.Checkpoint c) {
                                checkpointed.countDown();
                            }
                        }).build()) {
            metrics.watch(pipeline).watch(poller).bindTo(registry);
            poller.start();
            assertTrue(checkpointed.await(30, TimeUnit.SECONDS), "both listeners are called");
            String shard = poller.stats().shards().get(0).shardId();
            assertEquals(5, count(registry, "cdc.poller.records", "shard", shard));
            assertEquals(1, gauge(registry, "cdc.poller.shards.owned"));
            // The poller publishes its shards' state once per pass: wait for the pass after the checkpoint.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (Double.isNaN(gauge(registry, "cdc.poller.checkpoint.age", "shard", shard))
                    && System.nanoTime() < deadline) {
                java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
            }
            assertTrue(gauge(registry, "cdc.poller.iterator.age", "shard", shard) >= 0);
            assertTrue(gauge(registry, "cdc.poller.checkpoint.age", "shard", shard) >= 0);
            assertEquals(0, gauge(registry, "cdc.poller.records.in.flight", "shard", shard));
        }
    }
}
