package io.cdcfanout.dynamodb.sink;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Two "regions" of DynamoDB Local, each table replicating into the other while writers change the
 * same keys on both sides at once: the tables converge, and no change bounces back and forth.
 */
class TwoWayReplicationTest {
    private final LocalDynamoDb local = LocalDynamoDb.get();

    @Test
    void twoTablesConvergeAfterConcurrentWritesWithoutLoops() throws Exception {
        String table = LocalDynamoDb.uniqueName("GameState");
        DynamoDbClient east = local.client("us-east-2");
        DynamoDbClient west = local.client("ap-northeast-1");
        String eastArn = LocalDynamoDb.createTable(east, table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        String westArn = LocalDynamoDb.createTable(west, table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        Replicas.Activity activity = new Replicas.Activity(); // both directions
        RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
        AtomicLong clock = new AtomicLong(1_000); // the application's update counter, shared like a clock
        long localChanges;
        try (Pipeline<Map<String, AttributeValue>> ew = pipeline("to-west", west, table, "east", "west", activity,
                deadLetters);
                Pipeline<Map<String, AttributeValue>> we = pipeline("to-east", east, table, "west", "east", activity,
                        deadLetters);
                StreamPoller p1 = StreamPoller.builder().streamsClient(local.streams("us-east-2")).streamArn(eastArn)
                        .pipeline(ew).pollInterval(Duration.ofMillis(10)).build().start();
                StreamPoller p2 = StreamPoller.builder().streamsClient(local.streams("ap-northeast-1"))
                        .streamArn(westArn).pipeline(we).pollInterval(Duration.ofMillis(10)).build().start()) {
            Thread eastWriter = writer(east, table, clock, 1);
            Thread westWriter = writer(west, table, clock, 2);
            eastWriter.start();
            westWriter.start();
            eastWriter.join();
            westWriter.join();
            localChanges = 2 * 150;
            long deadline = System.currentTimeMillis() + 40_000;
            while (!Replicas.items(east, table).equals(Replicas.items(west, table)) && System.currentTimeMillis() < deadline) {
                activity.await(Duration.ofMillis(500)); // the tables change only when a route delivers
            }
            while (activity.await(Duration.ofMillis(500))) {
                // wait for half a second without any route activity: a loop would keep writing
            }
            long settled = activity.writes.get();
            activity.await(Duration.ofMillis(500));
            assertEquals(settled, activity.writes.get(), "no writes after settling");
            assertTrue(p1.failure().isEmpty() && p2.failure().isEmpty());
        }
        assertEquals(Replicas.items(east, table), Replicas.items(west, table), "both sides hold the same items");
        long in = activity.in.get();
        long writes = activity.writes.get();
        System.out.printf("two-way: %d local changes, %d taken by the routes, %d replicated writes%n", localChanges, in,
                writes);
        assertTrue(in <= localChanges, "only the applications' own changes are replicated, never a replicator's: " + in);
        assertTrue(writes <= in, "each taken change is written at most once: " + writes);
        assertEquals(0, deadLetters.letters().size());
    }

    private static Pipeline<Map<String, AttributeValue>> pipeline(String name, DynamoDbClient target, String table,
            String origin, String targetSide, Replicas.Activity activity, RecordingDeadLetterSink deadLetters) {
        return Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder(name)
                        .filter(ReplicationSink.localChanges())
                        .sink(ReplicationSink.builder().client(target).table(table).origin(origin)
                                .twoWay("updatedAt", targetSide).build())
                        .buffer(BufferPolicy.builder().maxEvents(50).maxAge(Duration.ofMillis(20)).build())
                        .build())
                .listener(activity).deadLetterSink(deadLetters).build();
    }

    private static Thread writer(DynamoDbClient db, String table, AtomicLong clock, long seed) {
        return new Thread(() -> {
            Random random = new Random(seed);
            for (int n = 0; n < 150; n++) {
                int i = n;
                String id = "player-" + random.nextInt(8);
                long at = clock.incrementAndGet();
                if (random.nextInt(8) == 0) {
                    db.deleteItem(r -> r.tableName(table).key(Map.of("id", s(id))));
                } else {
                    db.putItem(r -> r.tableName(table).item(Map.of("id", s(id), "updatedAt", n(Long.toString(at)),
                            "score", n(Long.toString(seed * 1000 + i)))));
                }
            }
        });
    }

    /** The live items (tombstones left out), without replication attributes. */
}
