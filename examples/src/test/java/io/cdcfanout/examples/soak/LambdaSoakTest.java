package io.cdcfanout.examples.soak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.sink.MaterializedViewSink;
import io.cdcfanout.dynamodb.sink.ReplicationSink;
import io.cdcfanout.dynamodb.sink.ViewUpdate;
import io.cdcfanout.firehose.FirehoseSink;
import io.cdcfanout.lambda.DynamoDbStreamProcessor;
import io.cdcfanout.local.EventSourceMappingSimulator;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.local.LocalFirehose;
import io.cdcfanout.local.LocalS3;
import io.cdcfanout.local.StreamSimulator;
import io.cdcfanout.s3sink.S3Sink;
import io.cdcfanout.testkit.ManualClock;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Two simulated days of a table under churn, through the Lambda path as the event source mapping
 * drives it (warm and cold containers, kills, retries in other containers, ParallelizationFactor,
 * bisect), into every built-in sink: the S3 archive, Firehose, a one-way replica and an exact view.
 */
class LambdaSoakTest {
    private static final Duration STEP = Duration.ofMinutes(20);
    private static final int STEPS = 2 * 24 * 3;
    private static final int KEYS = 120;
    private static final Pattern EVENT_ID = Pattern.compile("\"eventId\":\"([^\"]+)\"");

    /** Each item's versions in the order first delivered; for per-item order across containers. */
    static final class Order implements Sink<Map<String, AttributeValue>> {
        final Map<String, List<Integer>> firstSeen = new ConcurrentHashMap<>();

        @Override
        public synchronized SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
            for (ChangeEvent<? extends Map<String, AttributeValue>> e : batch.events()) {
                Map<String, AttributeValue> image = e.after().isPresent() ? e.after().get() : e.before().orElseThrow();
                int v = Integer.parseInt(image.get("v").n()) * 2 + (e.after().isPresent() ? 0 : 1);
                List<Integer> seen = firstSeen.computeIfAbsent(image.get("id").s(), k -> new ArrayList<>());
                if (!seen.contains(v)) {
                    seen.add(v);
                }
            }
            return SinkResult.allDelivered(batch.size());
        }

        @Override
        public int maxConcurrentCalls() {
            return 8;
        }
    }

    /** A container's handler; the simulator closes it when the container ends, as the process would. */
    static final class ContainerHandler implements RequestHandler<DynamodbEvent, StreamsEventResponse>, AutoCloseable {
        private final Pipeline<Map<String, AttributeValue>> pipeline;
        private final DynamoDbStreamProcessor processor;

        ContainerHandler(Pipeline<Map<String, AttributeValue>> pipeline) {
            this.pipeline = pipeline;
            this.processor = DynamoDbStreamProcessor.of(pipeline);
        }

        @Override
        public StreamsEventResponse handleRequest(DynamodbEvent event, com.amazonaws.services.lambda.runtime.Context context) {
            return processor.process(event, context);
        }

        @Override
        public void close() {
            pipeline.close();
        }
    }

    private static String bucketOf(String id) {
        return "b" + Math.floorMod(id.hashCode(), 5);
    }

    /** The view: live items per bucket. */
    static List<ViewUpdate> live(ChangeEvent<? extends Map<String, AttributeValue>> e) {
        return switch (e.operation()) {
            case INSERT -> List.of(ViewUpdate.add(Map.of("bucket", AttributeValue.fromS(bucketOf(
                    e.after().orElseThrow().get("id").s()))), "live", 1));
            case REMOVE -> List.of(ViewUpdate.add(Map.of("bucket", AttributeValue.fromS(bucketOf(
                    e.before().orElseThrow().get("id").s()))), "live", -1));
            default -> List.of();
        };
    }

    private static long usedHeapAfterGc() {
        System.gc();
        System.gc();
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }

    @ParameterizedTest(name = "ParallelizationFactor {0}, bisect {1}")
    @CsvSource({"1, false", "10, true"})
    @Timeout(value = 10, unit = java.util.concurrent.TimeUnit.MINUTES)
    void twoDaysIntoEverySinkStayExactAndInOrder(int parallelization, boolean bisect) throws Exception {
        ManualClock clock = new ManualClock();
        DynamoDbClient db = LocalDynamoDb.get().client();
        String replica = LocalDynamoDb.uniqueName("SoakReplica");
        LocalDynamoDb.createTable(db, replica, null, "id:S");
        String view = LocalDynamoDb.uniqueName("SoakView");
        LocalDynamoDb.createTable(db, view, null, "bucket:S");
        String ledger = LocalDynamoDb.uniqueName("SoakLedger");
        MaterializedViewSink.createLedgerTable(db, ledger);
        Order order = new Order();
        RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
        Random random = new Random(parallelization * 31L + (bisect ? 1 : 0));
        Map<String, Integer> versions = new HashMap<>();
        Set<String> liveKeys = new HashSet<>();
        List<Long> heapPerDay = new ArrayList<>();
        int bigItems = 0;
        try (LocalS3 s3 = new LocalS3(); LocalFirehose firehose = new LocalFirehose()) {
            String archive = s3.bucket("soak-archive-" + parallelization);
            Supplier<RequestHandler<DynamodbEvent, StreamsEventResponse>> handlers = () -> {
                // What each container builds at its cold start, as a handler's static field would.
                Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                        .route(Route.<Map<String, AttributeValue>>builder("archive")
                                .sink(S3Sink.builder().client(s3.client()).bucket(archive).build()).build())
                        .route(Route.<Map<String, AttributeValue>>builder("firehose").sink(FirehoseSink.builder()
                                .client(firehose.client()).deliveryStream("soak").build()).build())
                        .route(Route.<Map<String, AttributeValue>>builder("replica").sink(ReplicationSink.builder()
                                .client(db).table(replica).origin("soak").build()).build())
                        .route(Route.<Map<String, AttributeValue>>builder("view").sink(MaterializedViewSink
                                .<Map<String, AttributeValue>>builder().client(db).table(view).ledgerTable(ledger)
                                .updates(LambdaSoakTest::live).build()).build())
                        .route(Route.<Map<String, AttributeValue>>builder("order").sink(order).build())
                        .deadLetterSink(deadLetters).build();
                return new ContainerHandler(pipeline);
            };
            int changes = 0;
            try (StreamSimulator stream = StreamSimulator.builder().clock(clock).seed(parallelization).partitions(2)
                    .maxPartitions(4).splitEvery(3).build();
                    EventSourceMappingSimulator esm = EventSourceMappingSimulator.builder().stream(stream, clock)
                            .handler(handlers).batchSize(100).parallelizationFactor(parallelization)
                            .reportBatchItemFailures(true).bisectBatchOnFunctionError(bisect).killProbability(0.02)
                            .seed(parallelization).build()) {
                for (int step = 1; step <= STEPS; step++) {
                    clock.advance(STEP);
                    for (int w = 0; w < 25; w++) {
                        String key = "k" + random.nextInt(KEYS);
                        Map<String, AttributeValue> id = Map.of("id", AttributeValue.fromS(key));
                        if (liveKeys.contains(key) && random.nextInt(6) == 0) {
                            stream.delete(id);
                            liveKeys.remove(key);
                        } else {
                            int v = versions.merge(key, 1, Integer::sum);
                            Map<String, AttributeValue> item = new HashMap<>(id);
                            item.put("v", AttributeValue.fromN(Integer.toString(v)));
                            if (random.nextInt(200) == 0) {
                                bigItems++;
                                item.put("blob", AttributeValue.fromB(SdkBytes.fromByteArray(new byte[380_000])));
                            }
                            stream.put(item);
                            liveKeys.add(key);
                        }
                        changes++;
                    }
                    esm.drain(50);
                    if (step % 72 == 0) {
                        heapPerDay.add(usedHeapAfterGc());
                    }
                }
                EventSourceMappingSimulator.Stats stats = esm.stats();
                StreamSimulator.Stats streamStats = stream.stats();
                System.out.println("lambda soak (PF " + parallelization + ", bisect " + bisect + "): 2 simulated days, "
                        + changes + " changes (" + bigItems + " of 380 KB); " + stats + "; " + streamStats
                        + "; heap after GC per day " + heapPerDay + "; live threads " + Thread.activeCount());

                assertEquals(List.of(), esm.failures(), "the mapping skipped no batch");
                assertEquals(0, stats.recordsLost(), "nothing trimmed before it was read");
                assertEquals(List.of(), deadLetters.letters(), "no dead letters");
                assertTrue(stats.kills() > 0 && stats.coldStarts() > 1, "containers died and started: " + stats);
                assertTrue(streamStats.shardsClosed() >= 20, "rollovers: " + streamStats);

                // Per-item order, across containers and concurrent batches.
                order.firstSeen.forEach((key, seen) -> {
                    for (int i = 1; i < seen.size(); i++) {
                        assertTrue(seen.get(i) > seen.get(i - 1), key + " out of order: " + seen);
                    }
                });
                int distinct = order.firstSeen.values().stream().mapToInt(List::size).sum();
                assertEquals(changes, distinct, "every change delivered");

                // The replica holds exactly the source's live items (tombstones aside), of bounded size.
                Map<String, Map<String, AttributeValue>> replicated = new TreeMap<>();
                long largestReplica = 0;
                for (Map<String, AttributeValue> item : db.scanPaginator(r -> r.tableName(replica)).items()) {
                    largestReplica = Math.max(largestReplica, size(item));
                    if (!item.containsKey(ReplicationSink.DELETED_ATTRIBUTE)) {
                        replicated.put(item.get("id").s(), item);
                    }
                }
                Map<String, Integer> expectedLive = new TreeMap<>();
                stream.items().forEach((k, item) -> expectedLive.put(item.get("id").s(),
                        Integer.parseInt(item.get("v").n())));
                Map<String, Integer> replicaLive = new TreeMap<>();
                replicated.forEach((k, item) -> replicaLive.put(k, Integer.parseInt(item.get("v").n())));
                assertEquals(expectedLive, replicaLive, "the replica equals the source");
                assertTrue(largestReplica < 380_000 + 1_000, "replica item size bounded: " + largestReplica);

                // The view is exact, and its items small.
                Map<String, Long> expectedView = new TreeMap<>();
                expectedLive.keySet().forEach(k -> expectedView.merge(bucketOf(k), 1L, Long::sum));
                Map<String, Long> counted = new TreeMap<>();
                int largestView = 0;
                for (Map<String, AttributeValue> item : db.scanPaginator(r -> r.tableName(view)).items()) {
                    long n = Long.parseLong(item.get("live").n());
                    if (n != 0) {
                        counted.put(item.get("bucket").s(), n);
                    }
                    largestView = Math.max(largestView, item.size());
                }
                assertEquals(expectedView, counted, "the view counts each change exactly once");
                assertTrue(largestView <= 4, "view items hold their attributes only: " + largestView);

                // The archive holds every change exactly once; Firehose at least once.
                Map<String, Integer> archived = new HashMap<>();
                for (Map.Entry<String, byte[]> o : s3.contents(archive).entrySet()) {
                    for (String line : LocalS3.lines(o.getKey(), o.getValue())) {
                        Matcher m = EVENT_ID.matcher(line);
                        if (m.find()) {
                            archived.merge(m.group(1), 1, Integer::sum);
                        }
                    }
                }
                assertEquals(changes, archived.size(), "every change archived");
                assertTrue(archived.values().stream().allMatch(n -> n == 1), "no change archived twice");
                Set<String> sent = new HashSet<>();
                Matcher m = EVENT_ID.matcher(new String(firehose.concatenated(), StandardCharsets.UTF_8));
                while (m.find()) {
                    sent.add(m.group(1));
                }
                assertEquals(archived.keySet(), sent, "Firehose got every change");
                assertTrue(heapPerDay.get(1) < heapPerDay.get(0) + (96L << 20), "heap per day " + heapPerDay);
            }
        }
    }

    private static long size(Map<String, AttributeValue> item) {
        long n = 0;
        for (Map.Entry<String, AttributeValue> e : item.entrySet()) {
            n += e.getKey().length();
            AttributeValue v = e.getValue();
            n += v.s() != null ? v.s().length() : v.n() != null ? v.n().length() : v.b() != null
                    ? v.b().asByteArray().length : 8;
        }
        return n;
    }
}
