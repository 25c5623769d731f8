package io.cdcfanout.dynamodb.sink;

import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.snapshot.TableSnapshot;
import io.cdcfanout.local.LocalDynamoDb;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.BatchWriteItemResponse;
import software.amazon.awssdk.services.dynamodb.model.PutRequest;
import software.amazon.awssdk.services.dynamodb.model.ScanResponse;
import software.amazon.awssdk.services.dynamodb.model.WriteRequest;

/**
 * Snapshot throughput into {@link ReplicationSink} against its limit, in one run on DynamoDB Local:
 * the raw way (Parallel Scan, each page written with BatchWriteItem, unprocessed items retried) and
 * {@link TableSnapshot} through a pipeline into the sink, with the same segments, threads and page
 * size. After a warm-up round of each, rounds alternate; prints each, the medians and the median of the
 * per-round ratios. Not a test.
 *
 * <pre>
 * mvn -B -q -pl cdc-dynamodb test-compile exec:exec -Dexec.executable=java -Dexec.classpathScope=test \
 *     -Dexec.args="-cp %classpath io.cdcfanout.dynamodb.sink.SnapshotBenchmark 20000"
 * </pre>
 */
public final class SnapshotBenchmark {
    private static final int SEGMENTS = 4;
    private static final int THREADS = 4;
    private static final int PAGE = 500;
    private static final int ROUNDS = 5;

    private SnapshotBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int items = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client();
        String source = LocalDynamoDb.uniqueName("SnapSource");
        LocalDynamoDb.createTable(db, source, null, "id:S");
        List<WriteRequest> batch = new ArrayList<>();
        for (int i = 0; i < items; i++) {
            batch.add(WriteRequest.builder().putRequest(PutRequest.builder().item(Map.of("id", LocalDynamoDb.s("k" + i),
                    "v", LocalDynamoDb.n("1"), "payload", LocalDynamoDb.s("x".repeat(200)))).build()).build());
            if (batch.size() == 25 || i == items - 1) {
                writeAll(db, source, List.copyOf(batch));
                batch.clear();
            }
        }
        System.out.printf("%d items in %s; %d segments, %d threads, pages of %d%n", items, source, SEGMENTS, THREADS,
                PAGE);
        raw(db, source, items); // warm-up of both paths, not counted
        viaSink(db, source, items);
        double[] raw = new double[ROUNDS];
        double[] sink = new double[ROUNDS];
        for (int round = 0; round < ROUNDS; round++) {
            raw[round] = raw(db, source, items);
            sink[round] = viaSink(db, source, items);
            System.out.printf("round %d: raw %.0f items/s, TableSnapshot -> ReplicationSink %.0f items/s (%.2fx)%n",
                    round + 1, raw[round], sink[round], sink[round] / raw[round]);
        }
        double[] ratios = new double[ROUNDS];
        for (int i = 0; i < ROUNDS; i++) {
            ratios[i] = sink[i] / raw[i];
        }
        Arrays.sort(ratios);
        Arrays.sort(raw);
        Arrays.sort(sink);
        System.out.printf("median: raw %.0f items/s, library %.0f items/s; median per-round ratio %.2fx%n",
                raw[ROUNDS / 2], sink[ROUNDS / 2], ratios[ROUNDS / 2]);
        System.exit(0);
    }

    private static double raw(DynamoDbClient db, String source, int items) throws Exception {
        String target = LocalDynamoDb.uniqueName("SnapRaw");
        LocalDynamoDb.createTable(db, target, null, "id:S");
        long start = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<Integer>> done = new ArrayList<>();
            for (int s = 0; s < SEGMENTS; s++) {
                int segment = s;
                done.add(pool.submit(() -> {
                    int n = 0;
                    Map<String, AttributeValue> from = null;
                    do {
                        Map<String, AttributeValue> start0 = from;
                        ScanResponse page = db.scan(r -> r.tableName(source).segment(segment).totalSegments(SEGMENTS)
                                .limit(PAGE).exclusiveStartKey(start0));
                        List<WriteRequest> writes = new ArrayList<>();
                        for (Map<String, AttributeValue> item : page.items()) {
                            writes.add(WriteRequest.builder().putRequest(PutRequest.builder().item(item).build()).build());
                            if (writes.size() == 25) {
                                writeAll(db, target, writes);
                                writes = new ArrayList<>();
                            }
                        }
                        if (!writes.isEmpty()) {
                            writeAll(db, target, writes);
                        }
                        n += page.items().size();
                        from = page.hasLastEvaluatedKey() && !page.lastEvaluatedKey().isEmpty() ? page.lastEvaluatedKey()
                                : null;
                    } while (from != null);
                    return n;
                }));
            }
            int n = 0;
            for (Future<Integer> f : done) {
                n += f.get();
            }
            check(n, items, "raw");
        } finally {
            pool.shutdownNow();
        }
        return items / ((System.nanoTime() - start) / 1e9);
    }

    private static double viaSink(DynamoDbClient db, String source, int items) throws Exception {
        String target = LocalDynamoDb.uniqueName("SnapSink");
        LocalDynamoDb.createTable(db, target, null, "id:S");
        long start = System.nanoTime();
        long sent;
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("replica")
                        .sink(ReplicationSink.builder().client(db).table(target).origin("src")
                                .writeMode(ReplicationSink.WriteMode.BATCHED).build())
                        .buffer(BufferPolicy.builder().maxEvents(PAGE).build())
                        .build())
                .build()) {
            sent = TableSnapshot.builder().client(db).table(source).withoutStream().totalSegments(SEGMENTS).threads(THREADS)
                    .pageLimit(PAGE).build().run(pipeline);
        }
        check(sent, items, "library");
        double rate = items / ((System.nanoTime() - start) / 1e9);
        long stored = db.scanPaginator(r -> r.tableName(target).select("COUNT")).stream().mapToLong(ScanResponse::count)
                .sum();
        check(stored, items, "library's target");
        return rate;
    }

    private static void writeAll(DynamoDbClient db, String table, List<WriteRequest> writes) {
        Map<String, List<WriteRequest>> left = Map.of(table, writes);
        while (!left.isEmpty()) {
            Map<String, List<WriteRequest>> request = left;
            BatchWriteItemResponse r = db.batchWriteItem(b -> b.requestItems(request));
            left = r.hasUnprocessedItems() ? r.unprocessedItems() : Map.of();
        }
    }

    private static void check(long n, int items, String what) {
        if (n != items) {
            throw new IllegalStateException(what + ": " + n + " items, expected " + items);
        }
    }
}
