package io.cdcfanout.dynamodb.sink;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.dynamodb.StreamReader;
import io.cdcfanout.dynamodb.StreamRecords;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Replication of 10,000 stream changes on DynamoDB Local, in one run: the naive way (one
 * unconditional PutItem or DeleteItem per event, as the seed does) against {@link ReplicationSink}
 * in both write modes, in batches of 500. Prints each round and the medians. Not a test.
 *
 * <pre>
 * mvn -B -q -pl cdc-dynamodb -am install -DskipTests
 * mvn -B -q -pl cdc-dynamodb test-compile exec:exec -Dexec.executable=java -Dexec.classpathScope=test \
 *     -Dexec.args="-cp %classpath io.cdcfanout.dynamodb.sink.ReplicationBenchmark"
 * </pre>
 */
public final class ReplicationBenchmark {
    private static final int CHANGES = 10_000;
    private static final int ROUNDS = 3;
    private static final long[] REQUESTS = new long[2];

    private ReplicationBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client();
        String source = LocalDynamoDb.uniqueName("BenchSource");
        String arn = local.createTable(source, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        Random random = new Random(1);
        System.out.printf("writing %d changes to %s ...%n", CHANGES, source);
        for (int i = 0; i < CHANGES; i++) {
            String id = "k" + random.nextInt(2_000);
            int v = i;
            if (random.nextInt(10) == 0) {
                db.deleteItem(r -> r.tableName(source).key(Map.of("id", LocalDynamoDb.s(id))));
            } else {
                db.putItem(r -> r.tableName(source).item(Map.of("id", LocalDynamoDb.s(id),
                        "v", LocalDynamoDb.n(Integer.toString(v)), "payload", LocalDynamoDb.s("x".repeat(200)))));
            }
            if (i % 2_000 == 1_999) {
                System.out.printf("  %d written%n", i + 1);
            }
        }
        List<ChangeEvent<Map<String, AttributeValue>>> events = StreamReader.readAll(local.streams(), arn).stream()
                .map(r -> StreamRecords.toEvent(r.record(), StreamRecords.sourceOf(arn), r.shardId())).toList();
        System.out.printf("read %d stream records%n", events.size());

        List<Long> naive = new ArrayList<>();
        List<Long> conditional = new ArrayList<>();
        List<Long> batched = new ArrayList<>();
        for (int round = 1; round <= ROUNDS; round++) {
            naive.add(time(() -> naive(db, target(local, "Naive"), events)));
            conditional.add(time(() -> viaSink(db, target(local, "Cond"), events, ReplicationSink.WriteMode.CONDITIONAL)));
            batched.add(time(() -> viaSink(db, target(local, "Batch"), events, ReplicationSink.WriteMode.BATCHED)));
            System.out.printf("round %d: naive %d ms, conditional %d ms, batched %d ms%n", round,
                    naive.get(round - 1), conditional.get(round - 1), batched.get(round - 1));
        }
        long n = median(naive);
        long c = median(conditional);
        long b = median(batched);
        System.out.printf("requests per round: naive %d, conditional %d, batched %d%n", events.size(),
                REQUESTS[0] / ROUNDS, REQUESTS[1] / ROUNDS);
        System.out.printf("medians over %d rounds of %d changes: naive %d ms (%.0f/s), conditional %d ms (%.0f/s, "
                + "%.2fx naive), batched %d ms (%.0f/s, %.2fx naive)%n", ROUNDS, events.size(), n, rate(events, n), c,
                rate(events, c), (double) n / c, b, rate(events, b), (double) n / b);
        System.exit(0); // DynamoDB Local's threads are not daemons
    }

    private static String target(LocalDynamoDb local, String prefix) {
        String table = LocalDynamoDb.uniqueName(prefix);
        local.createTable(table, null, "id:S"); // no stream: measure the writes alone
        return table;
    }

    private static void naive(DynamoDbClient db, String table, List<ChangeEvent<Map<String, AttributeValue>>> events) {
        for (ChangeEvent<Map<String, AttributeValue>> e : events) {
            if (e.operation() == Operation.REMOVE) {
                db.deleteItem(r -> r.tableName(table).key(Map.of("id", LocalDynamoDb.s((String) e.key().values()
                        .get("id")))));
            } else {
                db.putItem(r -> r.tableName(table).item(e.after().orElseThrow()));
            }
        }
    }

    private static void viaSink(DynamoDbClient db, String table, List<ChangeEvent<Map<String, AttributeValue>>> events,
            ReplicationSink.WriteMode mode) {
        ReplicationSink sink = ReplicationSink.builder().client(db).table(table).origin("bench").writeMode(mode).build();
        for (int i = 0; i < events.size(); i += 500) {
            SinkResult r = sink.write(SinkBatch.of("bench", 1, events.subList(i, Math.min(events.size(), i + 500))));
            REQUESTS[mode.ordinal()] += r.counters().getOrDefault("dynamodb.requests", 0L);
            if (!r.allDelivered()) {
                throw new IllegalStateException("not all delivered: " + r);
            }
        }
    }

    private static long time(Runnable r) {
        long start = System.nanoTime();
        r.run();
        return (System.nanoTime() - start) / 1_000_000;
    }

    private static long median(List<Long> xs) {
        List<Long> sorted = new ArrayList<>(xs);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }

    private static double rate(List<?> events, long millis) {
        return events.size() * 1000.0 / Math.max(1, millis);
    }
}
