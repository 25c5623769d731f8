package io.cdcfanout.benchmarks;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
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
 *   <li><b>cdc-fanout:</b> the embedded poller feeds a pipeline with a table sink (replication) and an
 *       S3 sink (s3proxy); latency is when the sink's write for the event has returned.</li>
 * </ul>
 * Arguments: writes per second (default 100), seconds (default 10), and the active poll intervals in ms
 * to try (default: the poller's default, 50, and 1). Prints p50, p99 and max per way.
 */
public final class EndToEndLatency {
    private EndToEndLatency() {
    }

    public static void main(String[] args) throws Exception {
        int rate = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        List<Long> intervals = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            intervals.add(Long.parseLong(args[i]));
        }
        if (intervals.isEmpty()) {
            intervals = List.of(StreamPoller.Builder.DEFAULT_ACTIVE_POLL_INTERVAL_MILLIS, 1L);
        }
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client("us-east-1");
        int writes = rate * seconds;
        System.out.printf("DynamoDB Local in-process; %d writes at %d/s%n", writes, rate);

        // Warm-up of both paths, then the measured rounds.
        floor(local, db, rate, Math.min(writes, rate * 2));
        List<Long> floor = floor(local, db, rate, writes);
        print("floor: raw GetRecords loop", floor);
        try (LocalS3 s3 = new LocalS3()) {
            s3.bucket("latency");
            library(local, db, s3, rate, Math.min(writes, rate * 2), intervals.get(0));
            for (long interval : intervals) {
                List<List<Long>> r = library(local, db, s3, rate, writes, interval);
                print("cdc-fanout, activePollInterval " + interval + " ms, table sink", r.get(0));
                print("cdc-fanout, activePollInterval " + interval + " ms, S3 sink", r.get(1));
                print("  submitted to the pipeline by the poller", r.get(4));
                print("  handed to the table sink (its write not counted)", r.get(2));
                print("  handed to the S3 sink (its write not counted)", r.get(3));
                System.out.printf("  p50 ratio to the floor: written to table %.2fx, to S3 %.2fx; handed to a sink %.2fx%n",
                        (double) pct(r.get(0), 0.5) / pct(floor, 0.5), (double) pct(r.get(1), 0.5) / pct(floor, 0.5),
                        (double) pct(r.get(2), 0.5) / pct(floor, 0.5));
            }
        }
        System.exit(0); // DynamoDB Local's threads are not daemons
    }

    /** Writes {@code n} items at {@code rate}/s, each stamped with its nanoTime; blocks until done. */
    private static void write(DynamoDbClient db, String table, int rate, int n) throws InterruptedException {
        long period = TimeUnit.SECONDS.toNanos(1) / rate;
        long next = System.nanoTime();
        for (int i = 0; i < n; i++) {
            while (System.nanoTime() < next) {
                Thread.onSpinWait();
            }
            next += period;
            String id = "item-" + i;
            db.putItem(p -> p.tableName(table).item(Map.of("id", AttributeValue.fromS(id),
                    "writtenAt", AttributeValue.fromN(Long.toString(System.nanoTime())))));
        }
    }

    private static List<Long> floor(LocalDynamoDb local, DynamoDbClient db, int rate, int n) throws Exception {
        String table = LocalDynamoDb.uniqueName("Floor");
        String arn = LocalDynamoDb.createTable(db, table, StreamViewType.NEW_IMAGE, "id:S");
        DynamoDbStreamsClient streams = local.streams("us-east-1");
        String shard = streams.describeStream(d -> d.streamArn(arn)).streamDescription().shards().get(0).shardId();
        List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch ready = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            String iterator = streams.getShardIterator(g -> g.streamArn(arn).shardId(shard)
                    .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).shardIterator();
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
        write(db, table, rate, n);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (latencies.size() < n && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        stop.set(true);
        reader.join();
        return sorted(latencies, n, "floor");
    }

    /** A sink that records, per delivered event, the time from its write to the end of this write call. */
    private static final class Timed<T> implements Sink<T> {
        private final Sink<T> delegate;
        private final List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
        private final List<Long> received = Collections.synchronizedList(new ArrayList<>());

        Timed(Sink<T> delegate) {
            this.delegate = delegate;
        }

        @Override
        public SinkResult write(SinkBatch<? extends T> batch) {
            long start = System.nanoTime();
            SinkResult result = delegate.write(batch);
            long now = System.nanoTime();
            for (int i = 0; i < batch.size(); i++) {
                if (result.status(i) == SinkResult.Status.DELIVERED) {
                    ChangeEvent<? extends T> e = batch.events().get(i);
                    @SuppressWarnings("unchecked")
                    Map<String, AttributeValue> image = (Map<String, AttributeValue>) e.raw().after().orElseThrow();
                    long writtenAt = Long.parseLong(image.get("writtenAt").n());
                    latencies.add(now - writtenAt);
                    received.add(start - writtenAt);
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
        public void close() {
            delegate.close();
        }
    }

    private static List<List<Long>> library(LocalDynamoDb local, DynamoDbClient db, LocalS3 s3, int rate, int n,
            long pollMillis) throws Exception {
        // The poller's defaults but for the active poll interval; the idle one stays at 250 ms.
        String table = LocalDynamoDb.uniqueName("Source");
        String replica = LocalDynamoDb.uniqueName("Replica");
        LocalDynamoDb.createTable(db, table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        LocalDynamoDb.createTable(db, replica, null, "id:S");
        Timed<Map<String, AttributeValue>> tableSink = new Timed<>(ReplicationSink.builder().client(db)
                .table(replica).origin("latency").build());
        Timed<Object> s3Sink = new Timed<>(S3Sink.builder().client(s3.client()).bucket("latency")
                .prefix(table).serializer(JsonLinesSerializer.plain()).build());
        BufferPolicy fresh = BufferPolicy.builder().maxEvents(500).maxAge(Duration.ofMillis(1)).build();
        try (Stamped pipeline = new Stamped(Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("table").sink(tableSink).buffer(fresh).build())
                .route(Route.<Map<String, AttributeValue>>builder("s3").sink(s3Sink).buffer(fresh).build())
                .build());
                StreamPoller poller = StreamPoller.builder().streamsClient(local.streams("us-east-1"))
                        .table(table, db).pipeline(pipeline).activePollInterval(Duration.ofMillis(pollMillis))
                        .build().start()) {
            write(db, table, rate, n);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while ((tableSink.latencies.size() < n || s3Sink.latencies.size() < n) && System.nanoTime() < deadline
                    && poller.failure().isEmpty()) {
                Thread.onSpinWait();
            }
            return List.of(sorted(tableSink.latencies, n, "table sink"), sorted(s3Sink.latencies, n, "S3 sink"),
                    sorted(tableSink.received, n, "table sink"), sorted(s3Sink.received, n, "S3 sink"),
                    sorted(pipeline.submitted, n, "submitted"));
        }
    }

    private static List<Long> sorted(List<Long> latencies, int expected, String what) {
        List<Long> copy;
        synchronized (latencies) {
            copy = new ArrayList<>(latencies);
        }
        if (copy.size() < expected) {
            throw new IllegalStateException(what + ": only " + copy.size() + " of " + expected + " writes arrived");
        }
        Collections.sort(copy);
        return copy;
    }

    private static long pct(List<Long> sorted, double q) {
        return sorted.get((int) Math.min(sorted.size() - 1, Math.floor(q * sorted.size())));
    }

    private static void print(String what, List<Long> sorted) {
        System.out.printf("%-56s p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms  (%d writes)%n", what,
                pct(sorted, 0.5) / 1e6, pct(sorted, 0.99) / 1e6, sorted.get(sorted.size() - 1) / 1e6, sorted.size());
    }
}
