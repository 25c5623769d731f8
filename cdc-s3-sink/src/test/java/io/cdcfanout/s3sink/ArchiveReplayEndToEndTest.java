package io.cdcfanout.s3sink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.dynamodb.poller.Checkpoint;
import io.cdcfanout.dynamodb.poller.CheckpointStore;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.local.LocalS3;
import io.cdcfanout.testkit.RecordingListener;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * The whole archive path, DynamoDB Local → poller → S3 sink → s3proxy, when checkpoints are lost: a
 * second poller, with another sink instance and other flush timing, reads the stream again from an
 * old checkpoint, and the archive still holds every change exactly once, its first objects unchanged.
 */
class ArchiveReplayEndToEndTest {

    /** A store that stops saving after a while, as if the process died before its last checkpoints. */
    private static final class ForgetfulStore implements CheckpointStore {
        private final CheckpointStore delegate = CheckpointStore.inMemory();
        private final AtomicBoolean forgetting = new AtomicBoolean();

        @Override
        public Map<String, Checkpoint> load(String streamArn) {
            return delegate.load(streamArn);
        }

        @Override
        public boolean claim(String streamArn, String shardId, String owner) {
            return delegate.claim(streamArn, shardId, owner);
        }

        @Override
        public void save(String streamArn, String shardId, String owner, Checkpoint checkpoint) {
            if (!forgetting.get()) {
                delegate.save(streamArn, shardId, owner, checkpoint);
            }
        }

        @Override
        public void release(String streamArn, String shardId, String owner) {
            delegate.release(streamArn, shardId, owner);
        }

        @Override
        public void forget(String streamArn, String shardId) {
            delegate.forget(streamArn, shardId);
        }
    }

    private static List<String> eventIds(TreeMap<String, byte[]> objects) {
        List<String> ids = new ArrayList<>();
        for (Map.Entry<String, byte[]> o : objects.entrySet()) {
            for (String line : LocalS3.lines(o.getKey(), o.getValue())) {
                int at = line.indexOf("\"eventId\":\"") + 11;
                ids.add(line.substring(at, line.indexOf('"', at)));
            }
        }
        return ids;
    }

    private static void put(DynamoDbClient db, String table, int from, int to) {
        for (int i = from; i < to; i++) {
            int n = i;
            db.putItem(p -> p.tableName(table).item(Map.of("id", AttributeValue.fromS("inv-" + (n % 40)),
                    "version", AttributeValue.fromN(Integer.toString(n)))));
        }
    }

    @Test
    void aReplayFromLostCheckpointsAddsNothingTwice() throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client("eu-north-1");
        String table = LocalDynamoDb.uniqueName("Invoices");
        LocalDynamoDb.createTable(db, table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        ForgetfulStore store = new ForgetfulStore();
        try (LocalS3 s3 = new LocalS3()) {
            String bucket = s3.bucket("replay-archive");

            // First run: 300 changes, flushed every 40 events or 5 ms; checkpoints stop after the first 100.
            RecordingListener first = new RecordingListener();
            try (Pipeline<Map<String, AttributeValue>> pipeline = pipeline(s3, bucket, 40, first);
                    StreamPoller poller = poller(local, db, table, store, pipeline)) {
                put(db, table, 0, 100);
                awaitDelivered(first, 100, poller);
                store.forgetting.set(true);
                put(db, table, 100, 300);
                awaitDelivered(first, 300, poller);
            }
            TreeMap<String, byte[]> before = s3.contents(bucket);
            List<String> ids = eventIds(before);
            assertEquals(300, ids.size());
            assertEquals(300, new HashSet<>(ids).size());

            // Second run after the "crash": a new sink, other flush points (every 17 events), the stream read
            // again from the checkpoint at about 100, and 50 new changes.
            store.forgetting.set(false);
            RecordingListener second = new RecordingListener();
            try (Pipeline<Map<String, AttributeValue>> pipeline = pipeline(s3, bucket, 17, second);
                    StreamPoller poller = poller(local, db, table, store, pipeline)) {
                put(db, table, 300, 350);
                // The replay starts at the last saved checkpoint, which may lag the 100th change; so wait
                // for the 50 new changes to be written, not for a count of deliveries.
                awaitNewlyWritten(second, 50, poller);
            }
            TreeMap<String, byte[]> after = s3.contents(bucket);
            before.forEach((key, bytes) -> assertArrayEquals(bytes, after.get(key), "unchanged: " + key));
            List<String> all = eventIds(after);
            Set<String> unique = new HashSet<>(all);
            assertEquals(350, all.size(), "every change once; replayed ones were recognized as archived");
            assertEquals(350, unique.size());
            assertTrue(second.count("archive.sink.s3.skipped") >= 150,
                    "the replay skipped what the first run archived: " + second.count("archive.sink.s3.skipped"));
        }
    }

    private static StreamPoller poller(LocalDynamoDb local, DynamoDbClient db, String table, CheckpointStore store,
            Pipeline<Map<String, AttributeValue>> pipeline) {
        return StreamPoller.builder().streamsClient(local.streams("eu-north-1")).table(table, db)
                .checkpointStore(store).pipeline(pipeline).pollInterval(Duration.ofMillis(10)).build().start();
    }

    private static Pipeline<Map<String, AttributeValue>> pipeline(LocalS3 s3, String bucket, int perObject,
            RecordingListener listener) {
        return Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("archive")
                        .sink(S3Sink.builder().client(s3.client()).bucket(bucket).prefix("cdc")
                                .serializer(JsonLinesSerializer.plain()).build())
                        .buffer(BufferPolicy.builder().maxEvents(perObject).maxAge(Duration.ofMillis(5)).build())
                        .build())
                .listener(listener).build();
    }

    private static void awaitDelivered(RecordingListener listener, long n, StreamPoller poller) {
        await(() -> listener.count("archive.delivered"), n, poller);
    }

    /** Waits until {@code n} events were delivered by writing them, not by finding them archived. */
    private static void awaitNewlyWritten(RecordingListener listener, long n, StreamPoller poller) {
        await(() -> listener.count("archive.delivered") - listener.count("archive.sink.s3.skipped"), n, poller);
    }

    private static void await(java.util.function.LongSupplier count, long n, StreamPoller poller) {
        long deadline = System.nanoTime() + Duration.ofSeconds(40).toNanos();
        while (count.getAsLong() < n) {
            assertTrue(poller.failure().isEmpty(), () -> "the poller failed: " + poller.failure().get());
            assertTrue(System.nanoTime() < deadline, "timed out at " + count.getAsLong() + " of " + n);
            Thread.onSpinWait();
        }
    }
}
