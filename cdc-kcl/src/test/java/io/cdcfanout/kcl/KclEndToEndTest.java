package io.cdcfanout.kcl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.api.sink.SinkUnavailableException;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.testkit.RecordingSink;
import java.math.BigInteger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * A real KCL 3 worker, with the DynamoDB Streams Kinesis Adapter, on DynamoDB Local: every change
 * arrives once and in order even when a route halts on the way, the lease table's checkpoint follows
 * the acknowledgements, and a second worker taking over the shard starts after them.
 */
class KclEndToEndTest {
    private static final String APP = "cdc-kcl-test";

    /** Halts its route on the first call (the sink is "unavailable"), then records like a RecordingSink. */
    private static final class FlakySink implements Sink<Map<String, AttributeValue>> {
        final RecordingSink<Map<String, AttributeValue>> recorded = new RecordingSink<>();
        final AtomicBoolean down = new AtomicBoolean(true);

        @Override
        public SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
            if (down.get()) {
                throw new SinkUnavailableException("the replica is down (scripted)", null);
            }
            return recorded.write(batch);
        }
    }

    private static Pipeline<Map<String, AttributeValue>> pipeline(Sink<Map<String, AttributeValue>> sink) {
        return Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("replica").sink(sink)
                        .buffer(BufferPolicy.builder().maxAge(Duration.ofSeconds(10)).build()).build())
                .build();
    }

    private static void put(DynamoDbClient db, String table, String key, int version) {
        db.putItem(p -> p.tableName(table).item(Map.of("id", AttributeValue.fromS(key),
                "version", AttributeValue.fromN(Integer.toString(version)))));
    }

    private static void await(LocalKcl worker, BooleanSupplier done, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!done.getAsBoolean()) {
            assertTrue(worker.running(), "the KCL worker stopped before " + what);
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }

    private static Map<String, List<Integer>> versionsByKey(List<? extends ChangeEvent<? extends Map<String,
            AttributeValue>>> events) {
        Map<String, List<Integer>> byKey = new HashMap<>();
        for (ChangeEvent<? extends Map<String, AttributeValue>> e : events) {
            Map<String, AttributeValue> after = e.after().orElseThrow();
            byKey.computeIfAbsent(after.get("id").s(), k -> new ArrayList<>())
                    .add(Integer.parseInt(after.get("version").n()));
        }
        return byKey;
    }

    /** Two KCL workers start here, each taking about 30 s to take its lease. */
    @Test
    @Timeout(300)
    void everyChangeOnceAndInOrderThroughAHaltAndAWorkerChange() throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client(LocalKcl.REGION);
        String table = LocalDynamoDb.uniqueName("KclOrders");
        String arn = LocalDynamoDb.createTable(db, table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        String application = LocalDynamoDb.uniqueName(APP);
        for (int v = 0; v < 5; v++) {
            for (int k = 0; k < 20; k++) {
                put(db, table, "k" + k, v);
            }
        }

        // First worker: the route halts on its first call; the processor keeps the records until it is resumed.
        FlakySink first = new FlakySink();
        try (Pipeline<Map<String, AttributeValue>> pipeline = pipeline(first);
                LocalKcl worker = new LocalKcl(local, arn, application, "worker-1", PipelineProcessorFactory
                        .builder().streamArn(arn).pipeline(pipeline).retryBackoff(Duration.ofMillis(50)).build())) {
            await(worker, () -> pipeline.haltReason("replica").isPresent(), "the route to halt");
            first.down.set(false);
            pipeline.resume("replica");
            await(worker, () -> first.recorded.events().size() >= 100, "100 changes");
            await(worker, () -> checkpoint(db, application).isPresent(), "a checkpoint");
        }
        List<ChangeEvent<? extends Map<String, AttributeValue>>> delivered = first.recorded.events();
        assertEquals(100, delivered.size(), "each change once");
        Map<String, List<Integer>> byKey = versionsByKey(delivered);
        assertEquals(20, byKey.size());
        byKey.forEach((key, versions) -> assertEquals(List.of(0, 1, 2, 3, 4), versions, "order of " + key));
        BigInteger last = new BigInteger(delivered.get(99).position().sequenceNumber());
        assertEquals(last, checkpoint(db, application).orElseThrow(), "the checkpoint is the last acknowledged record");

        // Second worker, same application: it takes the shard over after the checkpoint.
        for (int k = 0; k < 20; k++) {
            put(db, table, "n" + k, 0);
        }
        RecordingSink<Map<String, AttributeValue>> second = new RecordingSink<>();
        try (Pipeline<Map<String, AttributeValue>> pipeline = pipeline(second);
                LocalKcl worker = new LocalKcl(local, arn, application, "worker-2", PipelineProcessorFactory
                        .builder().streamArn(arn).pipeline(pipeline).build())) {
            await(worker, () -> second.events().size() >= 20, "the 20 new changes");
            assertEquals(20, second.events().size(), "nothing acknowledged before was delivered again: "
                    + versionsByKey(second.events()).keySet());

            // The shard closes and a child opens: KCL finishes the parent (its end is checkpointed), then
            // reads the child.
            LocalDynamoDb.rollover(db);
            for (int k = 0; k < 20; k++) {
                put(db, table, "n" + k, 1);
            }
            await(worker, () -> second.events().size() >= 40, "the 20 changes in the child shard");
        }
        List<ChangeEvent<? extends Map<String, AttributeValue>>> taken = second.events();
        assertEquals(40, taken.size());
        versionsByKey(taken).forEach((key, versions) -> {
            assertTrue(key.startsWith("n"), key);
            assertEquals(List.of(0, 1), versions, "order of " + key + " across the parent and the child shard");
        });
        assertEquals(2, taken.stream().map(e -> e.position().shardId()).distinct().count(), "parent and child");
    }

    /** The lease table's checkpoint of the stream's only shard, if one was written. */
    private static java.util.Optional<BigInteger> checkpoint(DynamoDbClient db, String application) {
        for (Map<String, AttributeValue> lease : db.scan(s -> s.tableName(application)).items()) {
            AttributeValue cp = lease.get("checkpoint");
            if (cp != null && cp.s() != null && cp.s().chars().allMatch(Character::isDigit)) {
                return java.util.Optional.of(new BigInteger(cp.s()));
            }
        }
        return java.util.Optional.empty();
    }

    @Test
    void theConfigurationReferenceQuotesTheDefault() throws java.io.IOException {
        String row = "| `PipelineProcessorFactory.Builder.retryBackoff` | `PipelineProcessorFactory."
                + "DEFAULT_RETRY_BACKOFF_MILLIS` | " + PipelineProcessorFactory.DEFAULT_RETRY_BACKOFF_MILLIS + " ms |";
        assertTrue(java.nio.file.Files.readString(java.nio.file.Path.of("../docs/configuration.md")).contains(row),
                "docs/configuration.md has the row " + row);
    }

    @Test
    void theBuilderNamesWhatIsMissingOrWrong() {
        assertEquals("streamArn is required", assertThrows(IllegalStateException.class,
                () -> PipelineProcessorFactory.builder().build()).getMessage());
        assertEquals("pipeline is required", assertThrows(IllegalStateException.class,
                () -> PipelineProcessorFactory.builder()
                        .streamArn("arn:aws:dynamodb:eu-west-1:123456789012:table/T/stream/2026-01-01T00:00:00.000")
                        .build()).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> PipelineProcessorFactory.builder().streamArn("table/T")).getMessage().startsWith("streamArn must"));
        assertEquals("retryBackoff must not be negative (was PT-1S)", assertThrows(IllegalArgumentException.class,
                () -> PipelineProcessorFactory.builder().retryBackoff(Duration.ofSeconds(-1))).getMessage());
    }
}
