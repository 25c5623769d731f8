package io.cdcfanout.benchmarks;

import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.local.LocalDynamoDb;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.PutRequest;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.awssdk.services.dynamodb.model.WriteRequest;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/**
 * Memory under volume: 10⁶ stream records through the embedded poller and a pipeline whose route
 * serializes every event to JSON Lines, in a JVM started with {@code -Xmx128m}. DynamoDB Local runs in a
 * child JVM with its own heap, so only the poller and the pipeline are in this one. The heap in use
 * after a full GC is printed after each 10⁵ events; it must stay flat. Argument: the number of events
 * (default 1,000,000).
 */
public final class MemoryFlat {
    private MemoryFlat() {
    }

    public static void main(String[] args) throws Exception {
        int total = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process dynamo = new ProcessBuilder(java, "-Xmx6g", "-cp", System.getProperty("java.class.path"),
                "com.amazonaws.services.dynamodbv2.local.main.ServerRunner", "-inMemory", "-port",
                Integer.toString(port), "-disableTelemetry")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            run(port, total);
        } finally {
            dynamo.destroyForcibly();
        }
        System.exit(0);
    }

    private static void run(int port, int total) throws Exception {
        URI endpoint = URI.create("http://127.0.0.1:" + port);
        var credentials = StaticCredentialsProvider.create(AwsBasicCredentials.create("local", "local"));
        DynamoDbClient db = DynamoDbClient.builder().endpointOverride(endpoint).region(Region.US_EAST_1)
                .credentialsProvider(credentials).build();
        DynamoDbStreamsClient streams = DynamoDbStreamsClient.builder().endpointOverride(endpoint)
                .region(Region.US_EAST_1).credentialsProvider(credentials).build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                db.listTables();
                break;
            } catch (RuntimeException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(200); // a program waiting for a child process to listen, not a test
            }
        }
        String table = "Memory";
        LocalDynamoDb.createTable(db, table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        System.out.printf("max heap %d MiB; %,d events%n", Runtime.getRuntime().maxMemory() >> 20, total);

        AtomicLong delivered = new AtomicLong();
        JsonLinesSerializer jsonLines = JsonLinesSerializer.plain();
        OutputStream nowhere = OutputStream.nullOutputStream();
        Sink<Map<String, AttributeValue>> serialize = batch -> {
            try {
                for (var e : batch.events()) {
                    jsonLines.write(e, nowhere);
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            delivered.addAndGet(batch.size());
            synchronized (delivered) {
                delivered.notifyAll();
            }
            return SinkResult.allDelivered(batch.size());
        };
        ExecutorService writers = Executors.newFixedThreadPool(4);
        long started = System.nanoTime();
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("archive").sink(serialize)
                        .buffer(BufferPolicy.builder().maxEvents(1000).maxAge(Duration.ofMillis(100)).build())
                        .build())
                .build();
                StreamPoller poller = StreamPoller.builder().streamsClient(streams).table(table, db)
                        .pipeline(pipeline).build().start()) {
            int perWriter = total / 4;
            for (int w = 0; w < 4; w++) {
                int from = w * perWriter;
                writers.execute(() -> write(db, table, from, perWriter));
            }
            long next = 100_000;
            List<String> rows = new ArrayList<>();
            while (delivered.get() < total) {
                if (poller.failure().isPresent()) {
                    throw new IllegalStateException("the poller failed", poller.failure().get());
                }
                if (delivered.get() >= next) {
                    System.gc();
                    long used = memory.getHeapMemoryUsage().getUsed();
                    String row = String.format("%,9d events  heap in use after GC %6.1f MiB  (%,.0f events/s)",
                            delivered.get(), used / 1048576.0,
                            delivered.get() / ((System.nanoTime() - started) / 1e9));
                    rows.add(row);
                    System.out.println(row);
                    next += 100_000;
                }
                synchronized (delivered) {
                    delivered.wait(1_000); // woken by each delivered batch
                }
            }
        } finally {
            writers.shutdownNow();
        }
        System.gc();
        System.out.printf("done: %,d events; heap in use after GC %.1f MiB%n", delivered.get(),
                memory.getHeapMemoryUsage().getUsed() / 1048576.0);
    }

    private static void write(DynamoDbClient db, String table, int from, int count) {
        List<WriteRequest> batch = new ArrayList<>(25);
        for (int i = from; i < from + count; i++) {
            batch.add(WriteRequest.builder().putRequest(PutRequest.builder().item(Map.of(
                    "id", AttributeValue.fromS("item-" + i),
                    "amount", AttributeValue.fromN(Integer.toString(i % 10_000)),
                    "note", AttributeValue.fromS("a change event of moderate size, " + i))).build()).build());
            if (batch.size() == 25 || i == from + count - 1) {
                Map<String, List<WriteRequest>> pending = Map.of(table, List.copyOf(batch));
                while (!pending.isEmpty()) {
                    Map<String, List<WriteRequest>> request = pending;
                    pending = db.batchWriteItem(r -> r.requestItems(request)).unprocessedItems();
                }
                batch.clear();
            }
        }
    }
}
