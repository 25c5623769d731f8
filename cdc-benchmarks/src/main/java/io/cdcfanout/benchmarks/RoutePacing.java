package io.cdcfanout.benchmarks;

import io.cdcfanout.api.ChangeEvent;
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
import java.util.concurrent.locks.LockSupport;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Does a slow-flushing route pace the others? The embedded poller on DynamoDB Local at 50 writes/s;
 * write-to-delivery latency of a replication route alone, then beside an S3 route that buffers for a
 * minute (its default), and of a no-op user route with every default. Prints p50 and p99.
 *
 * <p>{@code mvn -B -q -pl cdc-benchmarks exec:exec -Dexec.executable=java -Dexec.args="-cp %classpath
 * io.cdcfanout.benchmarks.RoutePacing"}
 */
public final class RoutePacing {
    private static final int WRITES = 500;

    private RoutePacing() {
    }

    /** Records, per delivered event, now minus the item's write time. */
    private static final class Timing<T> implements Sink<Map<String, AttributeValue>> {
        final Sink<Map<String, AttributeValue>> inner;
        final List<Long> latencies = Collections.synchronizedList(new ArrayList<>());

        Timing(Sink<Map<String, AttributeValue>> inner) {
            this.inner = inner;
        }

        @Override
        public SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
            SinkResult r = inner == null ? SinkResult.allDelivered(batch.size()) : inner.write(batch);
            long now = System.currentTimeMillis();
            for (int i = 0; i < batch.size(); i++) {
                ChangeEvent<? extends Map<String, AttributeValue>> e = batch.events().get(i);
                if (r.status(i) == SinkResult.Status.DELIVERED && e.after().isPresent()) {
                    latencies.add(now - Long.parseLong(e.after().get().get("writtenAt").n()));
                }
            }
            return r;
        }

        @Override
        public int maxConcurrentCalls() {
            return inner == null ? 1 : inner.maxConcurrentCalls();
        }

        @Override
        public io.cdcfanout.api.pipeline.BufferPolicy defaultBuffer() {
            return inner == null ? null : inner.defaultBuffer();
        }
    }

    private static String run(LocalDynamoDb local, LocalS3 s3, String label, boolean withArchive, boolean replica)
            throws Exception {
        DynamoDbClient db = local.client();
        String table = LocalDynamoDb.uniqueName("Pacing");
        local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        String target = LocalDynamoDb.uniqueName("PacingReplica");
        local.createTable(target, null, "id:S");
        Timing<?> timed = new Timing<>(replica ? ReplicationSink.builder().client(db).table(target).origin("p").build()
                : null);
        Pipeline.Builder<Map<String, AttributeValue>> b = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("timed").sink(timed).build());
        if (withArchive) {
            String bucket = s3.bucket(LocalDynamoDb.uniqueName("pacing").toLowerCase());
            b.route(Route.<Map<String, AttributeValue>>builder("archive").sink(S3Sink.builder().client(s3.client())
                    .bucket(bucket).serializer(JsonLinesSerializer.plain()).build()).build()); // its default: a minute
        }
        try (Pipeline<Map<String, AttributeValue>> p = b.build();
                StreamPoller poller = StreamPoller.builder().streamsClient(local.streams()).table(table, db).pipeline(p)
                        .build().start()) { // the poller's defaults
            long next = System.nanoTime();
            for (int i = 0; i < WRITES; i++) {
                next += 20_000_000L; // 50 writes/s
                LockSupport.parkNanos(next - System.nanoTime());
                int v = i;
                db.putItem(r -> r.tableName(table).item(Map.of("id", AttributeValue.fromS("k" + (v % 50)),
                        "v", AttributeValue.fromN(Integer.toString(v)),
                        "writtenAt", AttributeValue.fromN(Long.toString(System.currentTimeMillis())))));
            }
            long deadline = System.currentTimeMillis() + 30_000;
            while (timed.latencies.size() < WRITES && System.currentTimeMillis() < deadline && !poller.isStopped()) {
                LockSupport.parkNanos(10_000_000);
            }
        }
        List<Long> l = new ArrayList<>(timed.latencies);
        Collections.sort(l);
        return String.format("%s: %d delivered, p50 %d ms, p99 %d ms", label, l.size(), l.get(l.size() / 2),
                l.get(l.size() * 99 / 100));
    }

    public static void main(String[] args) throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        try (LocalS3 s3 = new LocalS3()) {
            run(local, s3, "warm-up", false, true);
            System.out.println(run(local, s3, "replication alone", false, true));
            System.out.println(run(local, s3, "replication beside an S3 route buffering a minute", true, true));
            System.out.println(run(local, s3, "a no-op user route, all defaults", false, false));
            System.out.println(run(local, s3, "a no-op user route beside the S3 route", true, false));
        }
        System.exit(0);
    }
}
