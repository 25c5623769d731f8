package io.cdcfanout.s3sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.sink.EventSerializer;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.local.LocalS3;
import io.cdcfanout.testkit.ManualClock;
import io.cdcfanout.testkit.TestEvents;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The archive when the source names no shard (Lambda: every event is in {@link Position#UNKNOWN_SHARD}),
 * against s3proxy. Regression: two shards' interleaved sequence numbers fell inside each other's archived
 * ranges and the index skipped them as already archived; 2 of 5 events were silently lost.
 */
class S3SinkWithoutShardTest {
    private static final JsonLinesSerializer JSON_LINES = JsonLinesSerializer.plain();
    private static final Instant T0 = Instant.parse("2026-11-24T19:10:00Z");
    private static LocalS3 s3;
    private static int buckets;

    @BeforeAll
    static void start() throws Exception {
        s3 = new LocalS3();
    }

    @AfterAll
    static void stop() {
        s3.close();
    }

    private static synchronized String newBucket() {
        return s3.bucket("lambda-" + ++buckets);
    }

    /** Events as the Lambda handler makes them: shard unknown, the given sequence numbers. */
    private static List<ChangeEvent<Map<String, Object>>> events(String item, long... seqs) {
        List<ChangeEvent<Map<String, Object>>> out = new ArrayList<>();
        for (long seq : seqs) {
            TestEvents t = TestEvents.forTable("Invoices", "id").shard(Position.UNKNOWN_SHARD).nextSequence(seq)
                    .clock(new ManualClock(T0));
            out.add(t.insert(item + "-" + seq, Map.of("amount", seq)));
        }
        return out;
    }

    private static S3Sink sink(String bucket) {
        return S3Sink.builder().client(s3.client()).bucket(bucket).prefix("archive").serializer(JSON_LINES).build();
    }

    /** Every archived line (data objects only), checking none is there twice. */
    private static List<String> archive(String bucket) {
        List<String> all = new ArrayList<>();
        TreeMap<String, byte[]> objects = s3.contents(bucket);
        objects.forEach((key, bytes) -> {
            if (key.endsWith(".jsonl.gz")) {
                all.addAll(LocalS3.lines(key, bytes));
            }
        });
        assertEquals(all.size(), Set.copyOf(all).size(), "an event is archived twice: " + objects.keySet());
        return all;
    }

    private static SinkResult write(S3Sink sink, List<ChangeEvent<Map<String, Object>>> batch) {
        return sink.write(SinkBatch.of("archive", 1, batch));
    }

    @Test
    void twoShardsThroughTwoHandlersArchiveEveryEventOnceAndTheirReplaysAddNothing() {
        String bucket = newBucket();
        List<ChangeEvent<Map<String, Object>>> shardA = events("a", 100, 300, 500);
        List<ChangeEvent<Map<String, Object>>> shardB = events("b", 200, 400);
        S3Sink containerA = sink(bucket);
        S3Sink containerB = sink(bucket);
        SinkResult a = write(containerA, shardA);
        SinkResult b = write(containerB, shardB);
        assertTrue(a.allDelivered() && b.allDelivered());
        assertEquals(0L, b.counters().get("s3.skipped"), "shard B's events are not inside shard A's object");
        assertEquals(5, archive(bucket).size(), "all 5 events archived");
        // The event source mapping retries each batch, on the other container: nothing is added.
        SinkResult replayA = write(containerB, shardA);
        SinkResult replayB = write(containerA, shardB);
        assertTrue(replayA.allDelivered() && replayB.allDelivered());
        assertEquals(3L, replayA.counters().get("s3.skipped"));
        assertEquals(2L, replayB.counters().get("s3.skipped"));
        assertEquals(5, archive(bucket).size());
        // A retry from the middle of a batch, longer than the first: only the new event is written.
        List<ChangeEvent<Map<String, Object>>> longer = new ArrayList<>(shardA.subList(1, 3));
        longer.addAll(events("a", 700));
        SinkResult retry = write(sink(bucket), longer);
        assertEquals(2L, retry.counters().get("s3.skipped"));
        assertEquals(6, archive(bucket).size());
        System.out.printf("S3 without shard ids: first write %s%n", a.counters());
    }

    @Test
    void concurrentBatchesOfOneShardArchiveEveryEventOnceAndTheirReplaysAddNothing() throws Exception {
        String bucket = newBucket();
        int lanes = 4;
        List<List<ChangeEvent<Map<String, Object>>>> batches = new ArrayList<>();
        for (int lane = 0; lane < lanes; lane++) {
            long[] seqs = new long[20];
            for (int i = 0; i < seqs.length; i++) {
                seqs[i] = 1000 + (long) i * lanes + lane; // the mapping splits one shard by key: interleaved
            }
            batches.add(events("lane" + lane, seqs));
        }
        ExecutorService pool = Executors.newFixedThreadPool(lanes);
        try {
            for (int round = 0; round < 2; round++) {
                List<Future<SinkResult>> results = new ArrayList<>();
                for (List<ChangeEvent<Map<String, Object>>> batch : batches) {
                    results.add(pool.submit(() -> write(sink(bucket), batch))); // one container per batch
                }
                for (Future<SinkResult> f : results) {
                    assertTrue(f.get().allDelivered(), f.get().toString());
                }
                assertEquals(lanes * 20, archive(bucket).size(), "round " + round);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Regression: an object was named, and indexed, with the range of its whole group. */
    @Test
    void anObjectIsNamedAfterTheEventsItHoldsNotThoseTheSerializerRejected() {
        String bucket = newBucket();
        EventSerializer picky = new EventSerializer() {
            @Override
            public void write(ChangeEvent<?> event, OutputStream out) throws IOException {
                if (event.position().sequenceNumber().equals("100") || event.position().sequenceNumber().equals("104")) {
                    throw new IOException("refused");
                }
                JSON_LINES.write(event, out);
            }

            @Override
            public String contentType() {
                return JSON_LINES.contentType();
            }

            @Override
            public String fileExtension() {
                return JSON_LINES.fileExtension();
            }
        };
        TestEvents t = TestEvents.forTable("Invoices", "id").shard("shardId-1").nextSequence(100)
                .clock(new ManualClock(T0));
        List<ChangeEvent<Map<String, Object>>> batch = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            batch.add(t.insert("inv-" + i, Map.of("amount", i)));
        }
        S3Sink sink = S3Sink.builder().client(s3.client()).bucket(bucket).prefix("archive").serializer(picky).build();
        SinkResult r = sink.write(SinkBatch.of("archive", 1, batch));
        assertEquals(SinkResult.Status.FAILED_FATAL, r.status(0));
        assertEquals(SinkResult.Status.FAILED_FATAL, r.status(4));
        assertEquals(Set.of("archive/table=Invoices/dt=2026-11-24/hour=19/shardId-1-101-103.jsonl.gz"),
                s3.contents(bucket).keySet());
    }

    @Test
    void snapshotItemsAreArchivedOnceUnderTheirOwnNamesAcrossRestartsAndContainers() {
        String bucket = newBucket();
        TestEvents t = TestEvents.forTable("Invoices", "id").shard("shardId-1").nextSequence(1).clock(new ManualClock(T0));
        List<ChangeEvent<Map<String, Object>>> snapshot = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            ChangeEvent<Map<String, Object>> e = t.insert("inv-" + i, Map.of("amount", i));
            snapshot.add(ChangeEvent.<Map<String, Object>>builder().operation(io.cdcfanout.api.Operation.SNAPSHOT)
                    .source(e.source()).position(Position.SNAPSHOT).creationTime(T0).eventId("snapshot-inv-" + i)
                    .key(e.key()).after(e.after().orElseThrow()).sizeBytes(e.sizeBytes()).build());
        }
        // Three pages through two containers, then a restarted segment reads pages 2 and 3 again.
        assertTrue(write(sink(bucket), snapshot.subList(0, 10)).allDelivered());
        assertTrue(write(sink(bucket), snapshot.subList(10, 20)).allDelivered());
        assertTrue(write(sink(bucket), snapshot.subList(20, 30)).allDelivered());
        SinkResult again = write(sink(bucket), snapshot.subList(10, 30));
        assertTrue(again.allDelivered());
        assertEquals(20L, again.counters().get("s3.skipped"));
        assertEquals(30, archive(bucket).size(), "every item once");
        assertTrue(s3.contents(bucket).keySet().stream().filter(k -> k.endsWith(".jsonl.gz"))
                .allMatch(k -> k.contains("/" + Position.SNAPSHOT_SHARD + "-0-0-")), s3.contents(bucket).keySet()::toString);
        assertTrue(archive(bucket).stream().allMatch(line -> line.contains("\"SNAPSHOT\"")), "the kind is in each line");
    }

    private static List<ChangeEvent<Map<String, Object>>> snapshotEvents(int n, Instant readAt) {
        TestEvents t = TestEvents.forTable("Invoices", "id").shard("shardId-1").nextSequence(1).clock(new ManualClock(T0));
        List<ChangeEvent<Map<String, Object>>> snapshot = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ChangeEvent<Map<String, Object>> e = t.insert("inv-" + i, Map.of("amount", i));
            snapshot.add(ChangeEvent.<Map<String, Object>>builder().operation(io.cdcfanout.api.Operation.SNAPSHOT)
                    .source(e.source()).position(Position.SNAPSHOT).creationTime(readAt).eventId("snapshot-inv-" + i)
                    .key(e.key()).after(e.after().orElseThrow()).sizeBytes(e.sizeBytes()).build());
        }
        return snapshot;
    }

    /**
     * Regression: snapshot events were partitioned by their read time, so a segment restarted in the next
     * hour looked for earlier objects in another partition and archived its items a second time.
     */
    @Test
    void aSnapshotRestartedInAnotherHourAddsNoLine() {
        String bucket = newBucket();
        assertTrue(write(sink(bucket), snapshotEvents(20, T0)).allDelivered());
        SinkResult restarted = write(sink(bucket), snapshotEvents(20, T0.plusSeconds(7_200)));
        assertTrue(restarted.allDelivered());
        assertEquals(20L, restarted.counters().get("s3.skipped"));
        assertEquals(20, archive(bucket).size());
        assertTrue(s3.contents(bucket).keySet().stream().allMatch(k -> k.startsWith("archive/snapshot/snapshot-0-0-") || k.startsWith("archive/snapshot/_snapshot-0-0-")),
                s3.contents(bucket).keySet()::toString);
        String other = newBucket();
        S3Sink hive = S3Sink.builder().client(s3.client()).bucket(other).prefix("archive").snapshotPartition("dt=snapshot")
                .serializer(JSON_LINES).build();
        assertTrue(write(hive, snapshotEvents(3, T0)).allDelivered());
        assertTrue(s3.contents(other).keySet().stream().allMatch(k -> k.startsWith("archive/dt=snapshot/")));
    }

    /**
     * Regression: a redrive object was named by its range alone; every snapshot event has the range 0-0,
     * so a second redrive of other snapshot events overwrote the first.
     */
    @Test
    void twoRedrivesOfSnapshotEventsKeepBoth() {
        String bucket = newBucket();
        List<ChangeEvent<Map<String, Object>>> events = snapshotEvents(4, T0);
        java.util.BitSet all = new java.util.BitSet();
        all.set(0, 2);
        assertTrue(sink(bucket).write(SinkBatch.of("archive", 1, events.subList(0, 2), all)).allDelivered());
        assertTrue(sink(bucket).write(SinkBatch.of("archive", 1, events.subList(2, 4), all)).allDelivered());
        assertEquals(4, archive(bucket).size());
        assertTrue(s3.contents(bucket).keySet().stream().allMatch(k -> k.matches("archive/snapshot/snapshot-0-0-[0-9a-f]{16}-redrive\\.jsonl\\.gz")),
                s3.contents(bucket).keySet()::toString);
    }
}
