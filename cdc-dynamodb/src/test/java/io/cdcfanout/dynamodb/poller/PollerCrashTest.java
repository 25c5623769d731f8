package io.cdcfanout.dynamodb.poller;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.local.LocalDynamoDb;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Kills the poller abruptly (no drain, no checkpoint, no release) at many points while thousands of
 * writes arrive, restarts it from the file checkpoint store each time, and checks that every write
 * reached the sink: at least once, zero loss. Duplicates are counted and printed.
 */
class PollerCrashTest {
    private static final int WRITES = 3000;

    @Test
    @Timeout(180)
    void everyWriteArrivesDespiteCrashesAtManyPoints(@TempDir Path dir) throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        String region = "eu-north-1";
        DynamoDbClient db = local.client(region);
        String table = LocalDynamoDb.uniqueName("Crash");
        String arn = LocalDynamoDb.createTable(db, table, StreamViewType.NEW_IMAGE, "id:S");
        Path checkpoints = dir.resolve("checkpoints.json");
        ArrivalSink sink = new ArrivalSink();
        AtomicInteger written = new AtomicInteger();
        Thread writer = new Thread(() -> {
            for (int i = 0; i < WRITES; i++) {
                int id = i;
                db.putItem(r -> r.tableName(table).item(Map.<String, AttributeValue>of("id", s("item-" + id),
                        "n", n(Integer.toString(id)))));
                written.incrementAndGet();
            }
        }, "writer");
        writer.start();

        Random random = new Random(42);
        List<Pipeline<Map<String, AttributeValue>>> dead = new ArrayList<>();
        int crashes = 0;
        int target = 0;
        while (crashes < 10) {
            CheckpointStore store = CheckpointStore.file(checkpoints);
            // Each incarnation delivers through its own door, shut at the crash: a dead process delivers nothing.
            Door door = new Door(sink);
            Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                    .route(Route.<Map<String, AttributeValue>>builder("sink").sink(door)
                            .retry(RetryPolicy.none())
                            .buffer(BufferPolicy.builder().maxEvents(100).maxAge(Duration.ofMillis(20)).build())
                            .build())
                    .build();
            StreamPoller poller = StreamPoller.builder().streamsClient(local.streams(region)).streamArn(arn)
                    .pipeline(pipeline).checkpointStore(store).workerId("crash-test")
                    .recordsPerCall(1 + random.nextInt(200)).pollInterval(Duration.ofMillis(5)).build().start();
            // Crash after anywhere from 0 to 400 more arrivals: sometimes before the first checkpoint.
            target = Math.min(WRITES, sink.size() + random.nextInt(400));
            assertTrue(sink.await(target, Duration.ofSeconds(60)), "got " + sink.size() + " of " + target);
            door.shut();
            poller.abandon();
            store.close(); // what the OS does to a dead process's file lock
            dead.add(pipeline);
            crashes++;
        }
        writer.join();
        try (CheckpointStore store = CheckpointStore.file(checkpoints);
                Pipeline<Map<String, AttributeValue>> pipeline = StreamPollerTest.pipeline(sink);
                StreamPoller poller = StreamPoller.builder().streamsClient(local.streams(region)).streamArn(arn)
                        .pipeline(pipeline).checkpointStore(store).workerId("crash-test")
                        .pollInterval(Duration.ofMillis(5)).build().start()) {
            long deadline = System.currentTimeMillis() + 60_000;
            while (distinct(sink).size() < WRITES && System.currentTimeMillis() < deadline) {
                sink.await(sink.size() + 1, Duration.ofMillis(500));
            }
            assertTrue(poller.failure().isEmpty());
        }
        dead.forEach(Pipeline::close);
        Set<String> ids = distinct(sink);
        assertEquals(WRITES, written.get());
        assertEquals(WRITES, ids.size(), "every write reached the sink despite " + crashes + " crashes");
        int duplicates = sink.size() - WRITES;
        System.out.printf("crash test: %d writes, %d crashes, %d deliveries, %d duplicates (%.1f%%)%n", WRITES,
                crashes, sink.size(), duplicates, 100.0 * duplicates / WRITES);
    }

    /** Forwards to the shared sink until shut; after that every call fails, as in a dead process. */
    private static final class Door implements Sink<Map<String, AttributeValue>> {
        private final ArrivalSink target;
        private volatile boolean shut;

        Door(ArrivalSink target) {
            this.target = target;
        }

        void shut() {
            synchronized (target) {
                shut = true;
            }
        }

        @Override
        public SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
            synchronized (target) {
                if (shut) {
                    SinkResult.Builder r = SinkResult.builder(batch.size());
                    for (int i = 0; i < batch.size(); i++) {
                        r.fail(i, "the process is dead", true);
                    }
                    return r.build();
                }
                return target.write(batch);
            }
        }
    }

    private static Set<String> distinct(ArrivalSink sink) {
        Set<String> ids = new HashSet<>();
        for (ArrivalSink.Arrival a : sink.arrivals()) {
            ids.add((String) a.event().key().values().get("id"));
        }
        return ids;
    }
}
