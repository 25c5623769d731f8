package io.cdcfanout.dynamodb.sink;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.local.WireFaults;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * The usage-metrics view (events per user per hour, 50 users, one shard) with the library's defaults,
 * on raw DynamoDB Local and behind a 5 ms round trip: events per second, and requests against the
 * distinct view items of each call. The naive way is one conditional UpdateItem per event. Not a test.
 *
 * <pre>
 * mvn -B -q -pl cdc-dynamodb exec:exec -Dexec.executable=java -Dexec.classpathScope=test \
 *     -Dexec.args="-cp %classpath io.cdcfanout.dynamodb.sink.ViewLatencyBenchmark"
 * </pre>
 */
public final class ViewLatencyBenchmark {
    private static final int EVENTS = 20_000;
    private static final Integer MAX_EVENTS = Integer.getInteger("maxEvents");

    private ViewLatencyBenchmark() {
    }

    /** Counts, per call, the distinct view items and the transactions the sink made. */
    private static final class Counting implements Sink<Map<String, AttributeValue>> {
        final MaterializedViewSink<Map<String, AttributeValue>> sink;
        final AtomicLong items = new AtomicLong();
        final AtomicLong transactions = new AtomicLong();
        final AtomicLong calls = new AtomicLong();

        Counting(MaterializedViewSink<Map<String, AttributeValue>> sink) {
            this.sink = sink;
        }

        @Override
        public SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
            Set<Object> distinct = new HashSet<>();
            batch.events().forEach(e -> distinct.add(MaterializedViewSinkTest.usage(e).get(0).key()));
            SinkResult r = sink.write(batch);
            items.addAndGet(distinct.size());
            transactions.addAndGet(r.counters().getOrDefault("dynamodb.transactions", 0L));
            calls.incrementAndGet();
            return r;
        }

        @Override
        public int maxConcurrentCalls() {
            return sink.maxConcurrentCalls();
        }

        @Override
        public Object orderKey(ChangeEvent<? extends Map<String, AttributeValue>> event) {
            return sink.orderKey(event);
        }
    }

    public static void main(String[] args) throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        List<ChangeEvent<Map<String, AttributeValue>>> events = new ArrayList<>(EVENTS);
        Source source = Source.ofTable("ApiCalls");
        for (int i = 0; i < EVENTS; i++) {
            String id = "call-" + i;
            events.add(ChangeEvent.<Map<String, AttributeValue>>builder().operation(Operation.INSERT).source(source)
                    .position(new Position("shardId-1", Integer.toString(1_000 + i)))
                    .creationTime(Instant.parse("2024-05-01T10:00:00Z")).eventId("e" + i)
                    .key(EventKey.of("ApiCalls", "id", id))
                    .after(Map.of("id", s(id), "user", s("user-" + (i % 50)), "at", n("1714557600"))).build());
        }
        try (WireFaults proxy = new WireFaults(local.endpoint())) {
            proxy.latency(Duration.ofMillis(5));
            DynamoDbClient slow = DynamoDbClient.builder().endpointOverride(URI.create(proxy.endpoint().toString()))
                    .region(Region.US_EAST_1)
                    .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("local", "local")))
                    .build();
            for (Object[] target : new Object[][] {{"raw DynamoDB Local", local.client()}, {"5 ms round trip", slow}}) {
                DynamoDbClient client = (DynamoDbClient) target[1];
                String view = LocalDynamoDb.uniqueName("UsageView");
                local.createTable(view, null, "user:S", "hour:S");
                String ledger = LocalDynamoDb.uniqueName("UsageLedger");
                MaterializedViewSink.createLedgerTable(local.client(), ledger);
                Counting sink = new Counting(MaterializedViewSink.<Map<String, AttributeValue>>builder().client(client)
                        .table(view).ledgerTable(ledger).updates(MaterializedViewSinkTest::usage).build());
                long start = System.nanoTime();
                try (Pipeline<Map<String, AttributeValue>> p = Pipeline.<Map<String, AttributeValue>>builder()
                        .route(Route.<Map<String, AttributeValue>>builder("usage").sink(sink)
                                .buffer(MAX_EVENTS == null ? sink.sink.defaultBuffer()
                                        : io.cdcfanout.api.pipeline.BufferPolicy.builder().maxEvents(MAX_EVENTS).build())
                                .build()).build()) {
                    List<CompletableFuture<BatchResult<Map<String, AttributeValue>>>> done = new ArrayList<>();
                    for (int i = 0; i < EVENTS; i += 1_000) {
                        done.add(p.submit(events.subList(i, i + 1_000)));
                    }
                    p.flush();
                    done.forEach(f -> {
                        if (!f.join().succeeded()) {
                            throw new IllegalStateException("not all applied");
                        }
                    });
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                System.out.printf("%s: %.0f events/s; %d calls, %d transactions for %d distinct view items per call "
                        + "summed (%.3f per item; naive: %d requests)%n", target[0], EVENTS / seconds, sink.calls.get(),
                        sink.transactions.get(), sink.items.get(),
                        (double) sink.transactions.get() / sink.items.get(), EVENTS);
            }
        }
        System.exit(0);
    }
}
