package io.cdcfanout.dynamodb.sink;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.StreamReader;
import io.cdcfanout.dynamodb.StreamRecords;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.local.WireFaults;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Replication throughput with the library's defaults (8 lanes, the table sink's 16 concurrent calls)
 * against the naive loop (one PutItem or DeleteItem per event, in order), on raw DynamoDB Local and
 * behind a {@link WireFaults} proxy that adds 5 ms to every answer, like an in-region AWS round trip.
 * Not a test.
 *
 * <pre>
 * mvn -B -q -pl cdc-dynamodb exec:exec -Dexec.executable=java -Dexec.classpathScope=test \
 *     -Dexec.args="-cp %classpath io.cdcfanout.dynamodb.sink.ReplicationLatencyBenchmark"
 * </pre>
 */
public final class ReplicationLatencyBenchmark {
    private static final int CHANGES = 2_000;

    private ReplicationLatencyBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client();
        String source = LocalDynamoDb.uniqueName("LatSource");
        String arn = local.createTable(source, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        Random random = new Random(1);
        for (int i = 0; i < CHANGES; i++) {
            String id = "k" + random.nextInt(1_000);
            int v = i;
            if (random.nextInt(10) == 0) {
                db.deleteItem(r -> r.tableName(source).key(Map.of("id", LocalDynamoDb.s(id))));
            } else {
                db.putItem(r -> r.tableName(source).item(Map.of("id", LocalDynamoDb.s(id),
                        "v", LocalDynamoDb.n(Integer.toString(v)), "payload", LocalDynamoDb.s("x".repeat(200)))));
            }
        }
        List<ChangeEvent<Map<String, AttributeValue>>> events = StreamReader.readAll(local.streams(), arn).stream()
                .map(r -> StreamRecords.toEvent(r.record(), StreamRecords.sourceOf(arn), r.shardId())).toList();
        System.out.printf("%d stream records%n", events.size());
        try (WireFaults proxy = new WireFaults(local.endpoint())) {
            proxy.latency(Duration.ofMillis(5));
            DynamoDbClient slow = DynamoDbClient.builder().endpointOverride(URI.create(proxy.endpoint().toString()))
                    .region(Region.US_EAST_1)
                    .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("local", "local")))
                    .build();
            for (Object[] target : new Object[][] {{"raw DynamoDB Local", db}, {"5 ms round trip", slow}}) {
                DynamoDbClient client = (DynamoDbClient) target[1];
                double naive = naive(local, client, events);
                double conditional = viaPipeline(local, client, events, ReplicationSink.WriteMode.CONDITIONAL);
                double batched = viaPipeline(local, client, events, ReplicationSink.WriteMode.BATCHED);
                System.out.printf("%s: naive %.0f/s; CONDITIONAL %.0f/s (%.1fx), %d requests; BATCHED %.0f/s (%.1fx), "
                        + "%d requests%n", target[0], naive, conditional, conditional / naive, REQUESTS[0], batched,
                        batched / naive, REQUESTS[1]);
            }
        }
        System.exit(0); // DynamoDB Local's threads are not daemons
    }

    private static final long[] REQUESTS = new long[2];

    /** Counts how many calls run at once. */
    private static final class Counting implements io.cdcfanout.api.sink.Sink<Map<String, AttributeValue>> {
        final ReplicationSink sink;
        final java.util.concurrent.atomic.AtomicInteger now = new java.util.concurrent.atomic.AtomicInteger();
        static final java.util.concurrent.atomic.AtomicInteger MAX = new java.util.concurrent.atomic.AtomicInteger();

        Counting(ReplicationSink sink) {
            this.sink = sink;
        }

        @Override
        public io.cdcfanout.api.sink.SinkResult write(
                io.cdcfanout.api.sink.SinkBatch<? extends Map<String, AttributeValue>> batch) {
            MAX.accumulateAndGet(now.incrementAndGet(), Math::max);
            try {
                return sink.write(batch);
            } finally {
                now.decrementAndGet();
            }
        }

        @Override
        public int maxConcurrentCalls() {
            return sink.maxConcurrentCalls();
        }

        @Override
        public io.cdcfanout.api.sink.SinkLimits limits() {
            return sink.limits();
        }
    }

    private static String target(LocalDynamoDb local) {
        String table = LocalDynamoDb.uniqueName("LatTarget");
        local.createTable(table, null, "id:S");
        return table;
    }

    private static double naive(LocalDynamoDb local, DynamoDbClient client,
            List<ChangeEvent<Map<String, AttributeValue>>> events) {
        String table = target(local);
        long start = System.nanoTime();
        for (ChangeEvent<Map<String, AttributeValue>> e : events) {
            if (e.operation() == Operation.REMOVE) {
                client.deleteItem(r -> r.tableName(table).key(Map.of("id", LocalDynamoDb.s((String) e.key().values()
                        .get("id")))));
            } else {
                client.putItem(r -> r.tableName(table).item(e.after().orElseThrow()));
            }
        }
        return events.size() / ((System.nanoTime() - start) / 1e9);
    }

    private static double viaPipeline(LocalDynamoDb local, DynamoDbClient client,
            List<ChangeEvent<Map<String, AttributeValue>>> events, ReplicationSink.WriteMode mode) {
        String table = target(local);
        AtomicLong requests = new AtomicLong();
        PipelineListener counting = new PipelineListener() {
            @Override
            public void onSinkCounters(String route, Map<String, Long> counters) {
                requests.addAndGet(counters.getOrDefault("dynamodb.requests", 0L));
            }
        };
        long start = System.nanoTime();
        try (Pipeline<Map<String, AttributeValue>> p = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("replica")
                        .sink(new Counting(ReplicationSink.builder().client(client).table(table).origin("bench")
                                .writeMode(mode).build()))
                        .build()) // the defaults
                .listener(counting).build()) {
            List<CompletableFuture<BatchResult<Map<String, AttributeValue>>>> done = new ArrayList<>();
            for (int i = 0; i < events.size(); i += 1_000) { // the poller's pages
                done.add(p.submit(events.subList(i, Math.min(events.size(), i + 1_000))));
            }
            p.flush();
            for (CompletableFuture<BatchResult<Map<String, AttributeValue>>> f : done) {
                if (!f.join().succeeded()) {
                    throw new IllegalStateException("not all delivered");
                }
            }
        }
        REQUESTS[mode.ordinal()] = requests.get();
        System.out.println("  calls at once, at most: " + Counting.MAX.getAndSet(0));
        return events.size() / ((System.nanoTime() - start) / 1e9);
    }
}
