package io.cdcfanout.kcl;

import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.local.LocalDynamoDb;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.GetRecordsResponse;
import software.amazon.awssdk.services.dynamodb.model.ShardIteratorType;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/**
 * A backlog of changes read under KCL against the raw GetRecords limit (one loop reading the shard as
 * fast as it can), on DynamoDB Local: how close the KCL processor comes to the stream's own speed. The
 * KCL rate is measured from its first delivery to its last, so the lease's start-up is left out. Not a
 * test.
 *
 * <pre>
 * mvn -B -q -pl cdc-kcl exec:exec -Dexec.executable=java -Dexec.classpathScope=test \
 *     -Dexec.args="-cp %classpath io.cdcfanout.kcl.KclBacklogBenchmark"
 * </pre>
 */
public final class KclBacklogBenchmark {
    private static final int CHANGES = Integer.getInteger("changes", 30_000);
    private static final long IDLE_MILLIS = Long.getLong("idleMillis", 0);

    private KclBacklogBenchmark() {
    }

    /** Counts deliveries and notes the first and last times. */
    private static final class Counting implements Sink<Map<String, AttributeValue>> {
        final AtomicLong delivered = new AtomicLong();
        volatile long first;
        volatile long last;

        @Override
        public SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
            long now = System.nanoTime();
            if (first == 0) {
                first = now;
            }
            delivered.addAndGet(batch.size());
            last = now;
            return SinkResult.allDelivered(batch.size());
        }
    }

    public static void main(String[] args) throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client(LocalKcl.REGION);
        String table = LocalDynamoDb.uniqueName("KclBacklog");
        String arn = LocalDynamoDb.createTable(db, table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        for (int i = 0; i < CHANGES; i++) {
            int v = i;
            db.putItem(p -> p.tableName(table).item(Map.of("id", AttributeValue.fromS("k" + (v % 1_000)),
                    "v", AttributeValue.fromN(Integer.toString(v)))));
        }
        // The limit: one loop reading the shard with GetRecords, 1000 records a call, no pause.
        DynamoDbStreamsClient streams = local.streams(LocalKcl.REGION);
        String shard = streams.describeStream(r -> r.streamArn(arn)).streamDescription().shards().get(0).shardId();
        long start = System.nanoTime();
        long read = 0;
        String it = streams.getShardIterator(r -> r.streamArn(arn).shardId(shard)
                .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).shardIterator();
        while (read < CHANGES && it != null) {
            String current = it;
            GetRecordsResponse page = streams.getRecords(r -> r.shardIterator(current).limit(1000));
            read += page.records().size();
            it = page.nextShardIterator();
        }
        double limit = read / ((System.nanoTime() - start) / 1e9);

        Counting sink = new Counting();
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("noop").sink(sink).build()).build();
                LocalKcl worker = new LocalKcl(local, arn, LocalDynamoDb.uniqueName("backlog"), "w",
                        PipelineProcessorFactory.builder().streamArn(arn).pipeline(pipeline).build(), IDLE_MILLIS)) {
            long deadline = System.nanoTime() + 600_000_000_000L;
            while (sink.delivered.get() < CHANGES && System.nanoTime() < deadline && worker.running()) {
                LockSupport.parkNanos(50_000_000);
            }
        }
        double kcl = sink.delivered.get() / ((sink.last - sink.first) / 1e9);
        System.out.printf("%d changes: raw GetRecords %.0f records/s; under KCL (idleTimeBetweenReads %d ms) %.0f "
                + "records/s = %.2fx the limit (%d delivered)%n", CHANGES, limit, IDLE_MILLIS, kcl, kcl / limit,
                sink.delivered.get());
        System.exit(0);
    }
}
