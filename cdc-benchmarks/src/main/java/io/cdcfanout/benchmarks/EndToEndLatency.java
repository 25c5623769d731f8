package io.cdcfanout.benchmarks;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.dynamodb.poller.PollerListener;
import io.cdcfanout.dynamodb.poller.StartPosition;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.dynamodb.sink.ReplicationSink;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.local.LocalS3;
import io.cdcfanout.s3sink.S3Sink;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ShardIteratorType;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/**
 * Write → visible-in-sink latency on DynamoDB Local, against this machine's floor. A writer puts items
 * at a steady rate, each stamped with {@code System.nanoTime()}.
 * <ul>
 *   <li><b>Floor:</b> the raw SDK reads the shard in a tight GetRecords loop; latency is when a record
 *       first shows.</li>
 *   <li><b>cdc-fanout:</b> the embedded poller feeds a pipeline with a table sink (replication to a
 *       table in another region) and an S3 sink (s3proxy); latency is when the sink's write for the
 *       event has returned.</li>
 * </ul>
 * Each measured round of the library comes right after a floor round of its own, and its ratios are
 * taken against that floor: absolute times on a shared machine drift. Every round reads from LATEST
 * on tables made once for the run.
 * Arguments: writes per second (default 100), seconds per round (default 10), pairs of rounds per
 * setting (default 3), and the active poll intervals in ms to try (default: 50, the poller's default,
 * then 1 and 0). Prints every round, then the median of each ratio per setting.
 */
public final class EndToEndLatency {
    /**
     * The replica's region: a second database of DynamoDB Local, as in cross-region replication.
     * {@code -DreplicaRegion=us-east-1} puts it beside the source, where DynamoDB Local makes the
     * sink's write wait for the source's writes and stream reads.
     */
    private static final java.util.concurrent.atomic.AtomicInteger ROUNDS = new java.util.concurrent.atomic.AtomicInteger();
    private static final String REPLICA_REGION = System.getProperty("replicaRegion", "us-west-2");

    private EndToEndLatency() {
    }

    /** One library round's p50s, with the floor measured just before it. */
    private record Pair(long floor, long submitted, long handed, long table, long s3, long sourcePut,
            long sinkWrite) {
        double ratio(long value) {
            return (double) value / floor;
        }
    }

    public static void main(String[] args) throws Exception {
        int rate = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        int pairs = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        List<Long> intervals = new ArrayList<>();
        for (int i = 3; i < args.length; i++) {
            intervals.add(Long.parseLong(args[i]));
        }
        if (intervals.isEmpty()) {
            intervals = List.of(StreamPoller.Builder.DEFAULT_ACTIVE_POLL_INTERVAL_MILLIS, 1L, 0L);
        }
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client("us-east-1");
        int writes = rate * seconds;
        System.out.printf("DynamoDB Local in-process; rounds of %d writes at %d/s; %d pairs per setting; replica in %s%n",
                writes, rate, pairs, REPLICA_REGION);
        Map<Long, List<Pair>> results = new java.util.LinkedHashMap<>();
        Map<String, List<Double>> distribution = new java.util.LinkedHashMap<>(); // the last pair, first setting
        try (LocalS3 s3 = new LocalS3()) {
            s3.bucket("latency");
            // Warm-up of both paths, not counted.
            Tables tables = Tables.create(db, local.client(REPLICA_REGION));
            floor(local, db, tables, rate, rate * 3);
            library(local, db, tables, s3, rate, rate * 3, intervals.get(intervals.size() - 1));
            for (int round = 1; round <= pairs; round++) {
                for (long interval : intervals) {
                    Sample floor = floor(local, db, tables, rate, writes);
                    Map<String, Sample> r = library(local, db, tables, s3, rate, writes, interval);
                    Pair pair = new Pair(floor.p50(), r.get("submitted").p50(), r.get("handed").p50(),
                            r.get("table").p50(), r.get("s3").p50(), r.get("source put").p50(),
                            r.get("sink write").p50());
                    results.computeIfAbsent(interval, k -> new ArrayList<>()).add(pair);
                    if (interval == intervals.get(0)) {
                        distribution.put("floor: raw GetRecords", millis(floor));
                        distribution.put("written to the table", millis(r.get("table")));
                        distribution.put("written to S3", millis(r.get("s3")));
                    }
                    System.out.printf("%nPair %d, activePollInterval %d ms%n", round, interval);
                    floor.print("floor: raw GetRecords loop");
                    r.get("table").print("cdc-fanout, written to the table");
                    r.get("s3").print("cdc-fanout, written to S3");
                    r.get("submitted").print("  submitted to the pipeline by the poller");
                    r.get("handed").print("  handed to a sink (its write not counted)");
                    r.get("source put").print("  the writer's own PutItem");
                    r.get("sink write").print("  a sink's write call");
                    System.out.printf("  p50 / floor: written to the table %.2fx, to S3 %.2fx; handed %.2fx; "
                            + "submitted %.2fx%n", pair.ratio(pair.table()), pair.ratio(pair.s3()),
                            pair.ratio(pair.handed()), pair.ratio(pair.submitted()));
                }
            }
        }
        System.out.printf("%nMedians over %d pairs (p50, and p50 / the floor of the same pair):%n", pairs);
        System.out.printf("%-22s %8s %10s %10s %10s %10s %8s %8s%n", "activePollInterval", "floor", "submitted",
                "handed", "table", "S3", "put", "sink");
        results.forEach((interval, list) -> System.out.printf("%-22s %6.1fms %9.2fx %9.2fx %9.2fx %9.2fx %6.1fms %6.1fms%n",
                interval + " ms", median(list, Pair::floor) / 1e6,
                medianRatio(list, Pair::submitted), medianRatio(list, Pair::handed),
                medianRatio(list, Pair::table), medianRatio(list, Pair::s3),
                median(list, Pair::sourcePut) / 1e6, median(list, Pair::sinkWrite) / 1e6));
        Plot.cdf(Plot.dir().resolve("latency-cdf.svg"), "Write to delivery, activePollInterval "
                + intervals.get(0) + " ms (" + writes + " writes at " + rate + "/s)", distribution);
        System.exit(0); // DynamoDB Local's threads are not daemons
    }

    private static List<Double> millis(Sample s) {
        return s.sorted().stream().map(n -> n / 1e6).toList();
    }

    private static double median(List<Pair> list, java.util.function.ToLongFunction<Pair> f) {
        return medianOf(list.stream().mapToDouble(f::applyAsLong).sorted().toArray());
    }

    private static double medianRatio(List<Pair> list, java.util.function.ToLongFunction<Pair> f) {
        return medianOf(list.stream().mapToDouble(p -> p.ratio(f.applyAsLong(p))).sorted().toArray());
    }

    private static double medianOf(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** Sorted latencies in nanoseconds. */
    private record Sample(List<Long> sorted) {
        static Sample of(List<Long> latencies, int expected, String what) {
            List<Long> copy;
            synchronized (latencies) {
                copy = new ArrayList<>(latencies);
            }
            if (copy.size() < expected) {
                throw new IllegalStateException(what + ": only " + copy.size() + " of " + expected + " arrived");
            }
            Collections.sort(copy);
            return new Sample(copy);
        }

        long pct(double q) {
            return sorted.get((int) Math.min(sorted.size() - 1, Math.floor(q * sorted.size())));
        }

        long p50() {
            return pct(0.5);
        }

        void print(String what) {
            System.out.printf("%-44s p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms  (%d)%n", what, p50() / 1e6,
                    pct(0.99) / 1e6, sorted.get(sorted.size() - 1) / 1e6, sorted.size());
        }
    }

    /**
     * Writes {@code n} items at {@code rate}/s, each stamped with its nanoTime; blocks until done.
     * Adds each PutItem's duration to {@code puts}.
     */
    private static void write(DynamoDbClient db, String table, int rate, int n, List<Long> puts)
            throws InterruptedException {
        long period = TimeUnit.SECONDS.toNanos(1) / rate;
        long next = System.nanoTime();
        for (int i = 0; i < n; i++) {
            // Parks, never spins: on a 2-core machine a spinning writer would take a core from the servers.
            for (long left = next - System.nanoTime(); left > 0; left = next - System.nanoTime()) {
                LockSupport.parkNanos(left);
            }
            next += period;
            String id = "item-" + i;
            long stamp = System.nanoTime();
            db.putItem(p -> p.tableName(table).item(Map.of("id", AttributeValue.fromS(id),
                    "writtenAt", AttributeValue.fromN(Long.toString(stamp)))));
            puts.add(System.nanoTime() - stamp);
        }
    }

    /**
     * The tables, made once: DynamoDB Local slows down as streamed tables are created and deleted
     * (PutItem from 2.5 to 4.4 ms over 12 rounds of a new table each), while a reused table speeds up.
     */
    private record Tables(String floor, String floorArn, String source, String replica) {
        static Tables create(DynamoDbClient db, DynamoDbClient target) {
            String floor = LocalDynamoDb.uniqueName("Floor");
            String floorArn = LocalDynamoDb.createTable(db, floor, StreamViewType.NEW_IMAGE, "id:S");
            String source = LocalDynamoDb.uniqueName("Source");
            LocalDynamoDb.createTable(db, source, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
            String replica = LocalDynamoDb.uniqueName("Replica");
            LocalDynamoDb.createTable(target, replica, null, "id:S");
            // A record in each stream: DynamoDB Local may trim the start of a fresh stream's first iterator.
            for (String t : List.of(floor, source)) {
                db.putItem(p -> p.tableName(t).item(Map.of("id", AttributeValue.fromS("prime"),
                        "writtenAt", AttributeValue.fromN("0"))));
            }
            return new Tables(floor, floorArn, source, replica);
        }
    }

    private static Sample floor(LocalDynamoDb local, DynamoDbClient db, Tables tables, int rate, int n)
            throws Exception {
        String table = tables.floor();
        String arn = tables.floorArn();
        DynamoDbStreamsClient streams = local.streams("us-east-1");
        String shard = streams.describeStream(d -> d.streamArn(arn)).streamDescription().shards().stream()
                .filter(sh -> sh.sequenceNumberRange().endingSequenceNumber() == null).reduce((a, b) -> b)
                .orElseThrow().shardId();
        List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch ready = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            String iterator = streams.getShardIterator(g -> g.streamArn(arn).shardId(shard)
                    .shardIteratorType(ShardIteratorType.LATEST)).shardIterator();
            ready.countDown();
            while (!stop.get() && iterator != null) {
                String it = iterator;
                var response = streams.getRecords(g -> g.shardIterator(it));
                long now = System.nanoTime();
                response.records().forEach(r -> latencies.add(now
                        - Long.parseLong(r.dynamodb().newImage().get("writtenAt").n())));
                iterator = response.nextShardIterator();
            }
        }, "floor-reader");
        reader.start();
        ready.await();
        write(db, table, rate, n, new ArrayList<>());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (latencies.size() < n && System.nanoTime() < deadline) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
        stop.set(true);
        reader.join();
        return Sample.of(latencies, n, "floor");
    }

    /** A sink that records, per delivered event, the time from its write to the end of this write call. */
    private static final class Timed<T> implements Sink<T> {
        private final Sink<T> delegate;
        private final List<Long> written = Collections.synchronizedList(new ArrayList<>());
        private final List<Long> handed;
        private final List<Long> calls;

        Timed(Sink<T> delegate, List<Long> handed, List<Long> calls) {
            this.delegate = delegate;
            this.handed = handed;
            this.calls = calls;
        }

        @Override
        public SinkResult write(SinkBatch<? extends T> batch) {
            long start = System.nanoTime();
            SinkResult result = delegate.write(batch);
            long now = System.nanoTime();
            calls.add(now - start);
            for (int i = 0; i < batch.size(); i++) {
                if (result.status(i) == SinkResult.Status.DELIVERED) {
                    ChangeEvent<? extends T> e = batch.events().get(i);
                    @SuppressWarnings("unchecked")
                    Map<String, AttributeValue> image = (Map<String, AttributeValue>) e.raw().after().orElseThrow();
                    long writtenAt = Long.parseLong(image.get("writtenAt").n());
                    written.add(now - writtenAt);
                    handed.add(start - writtenAt);
                }
            }
            return result;
        }

        @Override
        public void close() {
            delegate.close();
        }
    }

    /** Records, per event, when the poller submitted it: the reading side's share of the latency. */
    private static final class Stamped implements Pipeline<Map<String, AttributeValue>> {
        private final Pipeline<Map<String, AttributeValue>> delegate;
        private final List<Long> submitted = Collections.synchronizedList(new ArrayList<>());

        Stamped(Pipeline<Map<String, AttributeValue>> delegate) {
            this.delegate = delegate;
        }

        @Override
        public java.util.concurrent.CompletableFuture<io.cdcfanout.api.pipeline.BatchResult<Map<String, AttributeValue>>>
                submit(List<ChangeEvent<Map<String, AttributeValue>>> events) {
            long now = System.nanoTime();
            for (ChangeEvent<Map<String, AttributeValue>> e : events) {
                submitted.add(now - Long.parseLong(e.after().orElseThrow().get("writtenAt").n()));
            }
            return delegate.submit(events);
        }

        @Override
        public java.util.concurrent.CompletableFuture<Void> flush() {
            return delegate.flush();
        }

        @Override
        public java.util.concurrent.CompletableFuture<io.cdcfanout.api.pipeline.BatchResult<Map<String, AttributeValue>>>
                redrive(List<io.cdcfanout.api.sink.DeadLetter> letters) {
            return delegate.redrive(letters);
        }

        @Override
        public void resume(String route) {
            delegate.resume(route);
        }

        @Override
        public java.util.Optional<String> haltReason(String route) {
            return delegate.haltReason(route);
        }

        @Override
        public List<String> routes() {
            return delegate.routes();
        }

        @Override
        public io.cdcfanout.api.pipeline.PipelineStats stats() {
            return delegate.stats();
        }

        @Override
        public void close() {
            delegate.close();
        }
    }

    /** The p50s of one round: written to the table and to S3, submitted, handed, source put, sink write. */
    private static Map<String, Sample> library(LocalDynamoDb local, DynamoDbClient db, Tables tables, LocalS3 s3,
            int rate, int n, long pollMillis) throws Exception {
        // The poller's defaults but for the active poll interval (the idle one stays at 250 ms), reading
        // from LATEST: this round's writes only.
        String table = tables.source();
        String replica = tables.replica();
        DynamoDbClient target = local.client(REPLICA_REGION);
        List<Long> handed = Collections.synchronizedList(new ArrayList<>());
        List<Long> calls = Collections.synchronizedList(new ArrayList<>());
        List<Long> puts = new ArrayList<>();
        Timed<Map<String, AttributeValue>> tableSink = new Timed<>(ReplicationSink.builder().client(target)
                .table(replica).origin("latency").build(), handed, calls);
        Timed<Object> s3Sink = new Timed<>(S3Sink.builder().client(s3.client()).bucket("latency")
                .prefix(table + "-" + ROUNDS.incrementAndGet()).serializer(JsonLinesSerializer.plain()).build(),
                handed, calls);
        // maxAge zero: a route sends as soon as its previous call is done.
        BufferPolicy fresh = BufferPolicy.builder().maxEvents(500).maxAge(Duration.ZERO).build();
        Map<String, Sample> out = new java.util.HashMap<>();
        CountDownLatch reading = new CountDownLatch(1);
        try (Stamped pipeline = new Stamped(Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("table").sink(tableSink).buffer(fresh).build())
                .route(Route.<Map<String, AttributeValue>>builder("s3").sink(s3Sink).buffer(fresh).build())
                .build());
                StreamPoller poller = StreamPoller.builder().streamsClient(local.streams("us-east-1"))
                        .table(table, db).pipeline(pipeline).activePollInterval(Duration.ofMillis(pollMillis))
                        .startPosition(StartPosition.LATEST).listener(new PollerListener() {
                            @Override
                            public void onShardStarted(String shardId, String from) {
                                reading.countDown();
                            }
                        }).build().start()) {
            if (!reading.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the poller did not start reading");
            }
            write(db, table, rate, n, puts);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while ((tableSink.written.size() < n || s3Sink.written.size() < n) && System.nanoTime() < deadline
                    && poller.failure().isEmpty()) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
            out.put("table", Sample.of(tableSink.written, n, "table sink"));
            out.put("s3", Sample.of(s3Sink.written, n, "S3 sink"));
            out.put("submitted", Sample.of(pipeline.submitted, n, "submitted"));
            out.put("handed", Sample.of(handed, 2 * n, "handed"));
            out.put("source put", Sample.of(puts, n, "source put"));
            out.put("sink write", Sample.of(calls, 1, "sink write"));
        }
        return out;
    }
}
