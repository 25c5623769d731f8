package io.cdcfanout.examples.replication;

import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.dynamodb.sink.ReplicationSink;
import io.cdcfanout.dynamodb.sink.TwoWayTable;
import io.cdcfanout.examples.Embedded;
import io.cdcfanout.examples.Flows;
import io.cdcfanout.local.LocalDynamoDb;
import java.io.PrintStream;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Replication to a second region. First one way: {@code Customers} in the home region is copied to a
 * replica in the other region, through a second DynamoDB client. Then both ways, for multi-master game
 * state: each region's own changes go to the other, the newer write (by the application's
 * {@code updatedAt}) wins, and the replicator's own writes are never sent back, so nothing loops.
 */
public final class ReplicationExample {
    /** The one-way table. */
    public static final String CUSTOMERS = "CustomersReplicated";
    /** The two-way table. */
    public static final String GAME_STATE = "GameState";

    /**
     * What the run showed.
     *
     * @param items customers in the source
     * @param replicaEqual whether the replica holds the same items as the source
     * @param twoWayChanges changes the two regions' applications made
     * @param twoWayTaken changes the two routes took (never more than the applications made)
     * @param twoWayEqual whether both regions hold the same game state
     */
    public record Result(int items, boolean replicaEqual, long twoWayChanges, long twoWayTaken, boolean twoWayEqual) {
    }

    private ReplicationExample() {
    }

    public static void main(String[] args) {
        Embedded.runAndExit(env -> run(env, System.out));
    }

    public static Result run(Embedded env, PrintStream out) {
        DynamoDbClient home = env.dynamoDb();
        DynamoDbClient away = env.dynamoDb(env.away());

        // One way: home -> away.
        createTable(home, CUSTOMERS, true);
        createTable(away, CUSTOMERS, false);
        Flows.Progress progress = env.progress(out);
        boolean replicaEqual;
        int items;
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("replica")
                        .sink(ReplicationSink.builder().client(away).table(CUSTOMERS).origin(env.home()).build())
                        .buffer(BufferPolicy.builder().maxEvents(100).maxAge(Duration.ofMillis(50)).build())
                        .build())
                .listener(progress).build();
                StreamPoller poller = StreamPoller.builder().streamsClient(env.streams(env.home()))
                        .table(CUSTOMERS, home).pipeline(pipeline).pollInterval(Duration.ofMillis(20)).build()
                        .start()) {
            Random random = new Random(3);
            int writes = 0;
            for (int i = 0; i < 400; i++) {
                String id = "C-" + random.nextInt(120);
                if (random.nextInt(10) == 0) {
                    home.deleteItem(d -> d.tableName(CUSTOMERS).key(Map.of("id", AttributeValue.fromS(id))));
                } else {
                    int n = i;
                    home.putItem(p -> p.tableName(CUSTOMERS).item(Map.of("id", AttributeValue.fromS(id),
                            "name", AttributeValue.fromS("Customer " + id), "visits", AttributeValue.fromN("" + n))));
                }
                writes++;
            }
            out.println("  wrote " + writes + " changes to " + CUSTOMERS + " in " + env.home());
            progress.await(() -> items(home, CUSTOMERS).equals(items(away, CUSTOMERS)), poller, Duration.ofSeconds(60),
                    "the replica to catch up");
            items = items(home, CUSTOMERS).size();
            replicaEqual = items(home, CUSTOMERS).equals(items(away, CUSTOMERS));
        }
        out.println("  replica in " + env.away() + " equal to the source: " + (replicaEqual ? "yes" : "no")
                + " (" + items + " customers)");

        // Two ways: home <-> away, last writer wins by updatedAt.
        createTable(home, GAME_STATE, true);
        createTable(away, GAME_STATE, true);
        Flows.Progress twoWay = env.progress(out);
        AtomicLong clock = new AtomicLong(1_000); // the game's update counter, shared like a clock
        long changes = 0;
        long taken;
        boolean converged;
        try (Pipeline<Map<String, AttributeValue>> toAway = twoWayPipeline("to-" + env.away(), home, away, "home", "away",
                twoWay);
                Pipeline<Map<String, AttributeValue>> toHome = twoWayPipeline("to-" + env.home(), away, home, "away",
                        "home", twoWay);
                StreamPoller p1 = StreamPoller.builder().streamsClient(env.streams(env.home())).table(GAME_STATE, home)
                        .pipeline(toAway).pollInterval(Duration.ofMillis(20)).build().start();
                StreamPoller p2 = StreamPoller.builder().streamsClient(env.streams(env.away())).table(GAME_STATE, away)
                        .pipeline(toHome).pollInterval(Duration.ofMillis(20)).build().start()) {
            Thread a = player(home, "home", clock, 1);
            Thread b = player(away, "away", clock, 2);
            a.start();
            b.start();
            join(a);
            join(b);
            changes = 2 * 100;
            out.println("  both regions changed the same 6 players' state " + changes + " times, concurrently");
            twoWay.await(() -> items(home, GAME_STATE).equals(items(away, GAME_STATE)) || p2.failure().isPresent(),
                    p1, Duration.ofSeconds(60),
                    "both regions to converge");
            converged = items(home, GAME_STATE).equals(items(away, GAME_STATE));
            taken = twoWay.count("to-" + env.away() + ".in") + twoWay.count("to-" + env.home() + ".in");
        }
        out.println("  two-way: " + taken + " of " + changes + " changes crossed over (the replicator's own "
                + "writes never go back); both regions equal: " + (converged ? "yes" : "no"));
        return new Result(items, replicaEqual, changes, taken, converged);
    }

    private static Pipeline<Map<String, AttributeValue>> twoWayPipeline(String name, DynamoDbClient source,
            DynamoDbClient target,
            String origin, String side, Flows.Progress progress) {
        return Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder(name)
                        .filter(ReplicationSink.localChanges("updatedAt"))  // never send the replicator's writes back
                        .sink(ReplicationSink.builder().client(target).table(GAME_STATE)
                                .origin(origin)                       // the side whose changes this route carries
                                .twoWay("updatedAt").targetSide(side)  // ordered by updatedAt, into this side
                                .sourceTable(source, GAME_STATE)
                                .build())
                        .buffer(BufferPolicy.builder().maxEvents(50).maxAge(Duration.ofMillis(20)).build())
                        .build())
                .listener(progress).build();
    }

    /** A region's game server: writes through {@link TwoWayTable}, the replication contract made easy. */
    private static Thread player(DynamoDbClient db, String side, AtomicLong clock, long seed) {
        TwoWayTable game = TwoWayTable.builder().client(db).table(GAME_STATE).side(side).orderAttribute("updatedAt")
                .build();
        return new Thread(() -> {
            Random random = new Random(seed);
            for (int n = 0; n < 100; n++) {
                String id = "player-" + random.nextInt(6);
                long at = clock.incrementAndGet();
                long score = seed * 1000 + n;
                try {
                    if (random.nextInt(10) == 0) {
                        game.delete(Map.of("id", AttributeValue.fromS(id)), at);
                    } else {
                        game.put(Map.of("id", AttributeValue.fromS(id), "updatedAt",
                                AttributeValue.fromN(Long.toString(at)), "score", AttributeValue.fromN(Long.toString(score))));
                    }
                } catch (TwoWayTable.LosingWriteException newer) {
                    // the other region wrote this player later: the game reads and retries in real life
                }
            }
        });
    }

    private static void join(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void createTable(DynamoDbClient db, String table, boolean stream) {
        LocalDynamoDb.createTable(db, table, stream ? StreamViewType.NEW_AND_OLD_IMAGES : null, "id:S");
    }

    /** The live items by id: tombstones left out, replication attributes removed. */
    public static Map<String, Map<String, AttributeValue>> items(DynamoDbClient db, String table) {
        return db.scanPaginator(r -> r.tableName(table)).items().stream()
                .filter(item -> TwoWayTable.isLive(item, "updatedAt"))
                .map(item -> {
                    Map<String, AttributeValue> copy = new HashMap<>(item);
                    copy.keySet().removeIf(name -> name.startsWith("cdc_"));
                    return copy;
                })
                .collect(Collectors.toMap(item -> item.get("id").s(), item -> item));
    }
}
