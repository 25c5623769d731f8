package io.cdcfanout.dynamodb.sink;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.sink.SinkBatch;
import java.time.Instant;
import java.util.List;
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
        try (Pipeline<Map<String, AttributeValue>> ew = pipeline("to-west", east, west, table, "east", "west", activity,
                deadLetters);
                Pipeline<Map<String, AttributeValue>> we = pipeline("to-east", west, east, table, "west", "east", activity,
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

    private static ChangeEvent<Map<String, AttributeValue>> event(String table, Operation op, long seq,
            Map<String, AttributeValue> before, Map<String, AttributeValue> after) {
        return ChangeEvent.<Map<String, AttributeValue>>builder().operation(op).source(Source.ofTable(table))
                .position(new Position("shardId-1", Long.toString(seq))).creationTime(Instant.now())
                .eventId("e" + seq).key(EventKey.of(table, "id", "player-1")).before(before).after(after).build();
    }

    /** Regression: a retried copy of a write that the other side's application deleted brought the item back. */
    @Test
    void aLateCopyOfADeletedVersionDoesNotBringTheItemBack() {
        String table = LocalDynamoDb.uniqueName("Late");
        DynamoDbClient east = local.client("us-east-2");
        DynamoDbClient west = local.client("ap-northeast-1");
        LocalDynamoDb.createTable(east, table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        LocalDynamoDb.createTable(west, table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        ReplicationSink toEast = ReplicationSink.builder().client(east).table(table).origin("west")
                .twoWay("updatedAt", "east", west, table).build();
        ReplicationSink toWest = ReplicationSink.builder().client(west).table(table).origin("east")
                .twoWay("updatedAt", "west", east, table).build();
        Map<String, AttributeValue> v1270 = Map.of("id", s("player-1"), "updatedAt", n("1270"), "score", n("2143"));
        west.putItem(r -> r.tableName(table).item(v1270));
        ChangeEvent<Map<String, AttributeValue>> westPut = event(table, Operation.INSERT, 10, null, v1270);

        assertTrue(toEast.write(SinkBatch.of("to-east", 1, List.of(westPut))).allDelivered());
        Map<String, AttributeValue> eastCopy = east.getItem(g -> g.tableName(table)
                .key(Map.of("id", s("player-1")))).item();
        east.deleteItem(d -> d.tableName(table).key(Map.of("id", s("player-1")))); // the east application
        assertTrue(toWest.write(SinkBatch.of("to-west", 1,
                List.of(event(table, Operation.REMOVE, 20, eastCopy, null)))).allDelivered());
        // A late copy of the deleted version (a retry after a timeout, or a replay) reaches east again.
        assertTrue(toEast.write(SinkBatch.of("to-east", 2, List.of(westPut))).allDelivered());

        assertEquals(Map.of(), Replicas.items(east, table), "the delete stands in east");
        assertEquals(Map.of(), Replicas.items(west, table), "and in west");
    }

    private static Pipeline<Map<String, AttributeValue>> pipeline(String name, DynamoDbClient source,
            DynamoDbClient target, String table,
            String origin, String targetSide, Replicas.Activity activity, RecordingDeadLetterSink deadLetters) {
        return Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder(name)
                        .filter(ReplicationSink.localChanges())
                        .sink(ReplicationSink.builder().client(target).table(table).origin(origin)
                                .twoWay("updatedAt", targetSide, source, table).build())
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
