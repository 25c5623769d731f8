package io.cdcfanout.dynamodb.poller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.sink.MaterializedViewSink;
import io.cdcfanout.dynamodb.sink.ReplicationSink;
import io.cdcfanout.dynamodb.sink.ViewUpdate;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.local.StreamSimulator;
import io.cdcfanout.testkit.ManualClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/**
 * Two simulated days of a table under churn, read by two poller workers over the stream simulator:
 * shards roll over and split, records are trimmed after a day, iterators expire between phases, calls
 * are throttled and fail with 500s, one worker is killed and restarted. The stream's time is virtual
 * (20 minutes a phase); the pollers run in real time, with their leases in DynamoDB Local.
 */
class PollerSoakTest {
    private static final Duration PHASE = Duration.ofMinutes(20);
    private static final int PHASES = 2 * 24 * 3; // two days
    private static final int KEYS = 150;

    /** What the workers delivered, shared as a real destination would be. */
    static final class Delivered implements Sink<Map<String, AttributeValue>> {
        final Map<String, List<Integer>> firstSeen = new ConcurrentHashMap<>();
        final AtomicInteger deliveries = new AtomicInteger();
        final AtomicInteger backwards = new AtomicInteger();
        private final Map<String, Integer> highest = new HashMap<>();

        /** Set to make the next write stall this long (real time), as a slow destination would. */
        final java.util.concurrent.atomic.AtomicReference<Duration> stallOnce = new java.util.concurrent.atomic.AtomicReference<>();
        final AtomicInteger stalls = new AtomicInteger();

        @Override
        public SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
            Duration stall = stallOnce.getAndSet(null);
            if (stall != null) {
                stalls.incrementAndGet();
                try {
                    Thread.sleep(stall.toMillis()); // the destination hangs; the poller must keep its leases
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return record(batch);
        }

        private synchronized SinkResult record(SinkBatch<? extends Map<String, AttributeValue>> batch) {
            for (ChangeEvent<? extends Map<String, AttributeValue>> e : batch.events()) {
                Map<String, AttributeValue> image = e.after().isPresent() ? e.after().get() : e.before().orElseThrow();
                String key = image.get("id").s();
                int v = Integer.parseInt(image.get("v").n()) * 2 + (e.after().isPresent() ? 0 : 1);
                deliveries.incrementAndGet();
                List<Integer> seen = firstSeen.computeIfAbsent(key, k -> new ArrayList<>());
                if (!seen.contains(v)) {
                    seen.add(v);
                }
                Integer top = highest.get(key);
                if (top != null && v < top) {
                    backwards.incrementAndGet();
                }
                highest.merge(key, v, Math::max);
            }
            notifyAll();
            return SinkResult.allDelivered(batch.size());
        }

        /** Waits until {@code n} distinct changes arrived; false on timeout. */
        synchronized boolean awaitDistinct(int n, Duration timeout) throws InterruptedException {
            long deadline = System.currentTimeMillis() + timeout.toMillis();
            while (distinct() < n) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) {
                    return false;
                }
                wait(left);
            }
            return true;
        }

        synchronized int distinct() {
            return firstSeen.values().stream().mapToInt(List::size).sum();
        }
    }

    /** Counts lost shards per worker. */
    static final class Lost implements PollerListener {
        final AtomicInteger lost = new AtomicInteger();
        final AtomicInteger forgotten = new AtomicInteger();
        final AtomicInteger expired = new AtomicInteger();

        @Override
        public void onShardLost(String shardId, String reason) {
            lost.incrementAndGet();
        }

        @Override
        public void onShardForgotten(String shardId) {
            forgotten.incrementAndGet();
        }

        @Override
        public void onIteratorExpired(String shardId, String resumeAfter) {
            expired.incrementAndGet();
        }
    }

    private static StreamPoller worker(StreamSimulator sim, DynamoDbStreamsClient client, String id,
            CheckpointStore store, Pipeline<Map<String, AttributeValue>> pipeline, Lost lost) {
        return StreamPoller.builder().streamsClient(client).streamArn(sim.streamArn()).pipeline(pipeline)
                .checkpointStore(store).workerId(id).pollInterval(Duration.ofMillis(20))
                .activePollInterval(Duration.ofMillis(5)).maxBackoff(Duration.ofMillis(200))
                .shardDiscoveryInterval(Duration.ofMillis(150)).listener(lost).build().start();
    }

    /** The tables a worker's pipeline writes besides the shared sink: a one-way replica and a view. */
    record Tables(DynamoDbClient db, String replica, String view, java.time.Clock clock) {
    }

    private static String bucketOf(String id) {
        return "b" + Math.floorMod(id.hashCode(), 7);
    }

    /** The view: live items per bucket, exact on the shard-progress path (no ledger). */
    static List<ViewUpdate> live(ChangeEvent<? extends Map<String, AttributeValue>> e) {
        return switch (e.operation()) {
            case INSERT -> List.of(ViewUpdate.add(Map.of("bucket", AttributeValue.fromS(bucketOf(
                    e.after().orElseThrow().get("id").s()))), "live", 1));
            case REMOVE -> List.of(ViewUpdate.add(Map.of("bucket", AttributeValue.fromS(bucketOf(
                    e.before().orElseThrow().get("id").s()))), "live", -1));
            default -> List.of();
        };
    }

    private static Pipeline<Map<String, AttributeValue>> pipeline(Delivered sink, Tables t) {
        BufferPolicy buffer = BufferPolicy.builder().maxEvents(200).maxAge(Duration.ofMillis(5)).build();
        return Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("sink").sink(sink).buffer(buffer).build())
                .route(Route.<Map<String, AttributeValue>>builder("replica").sink(ReplicationSink.builder()
                        .client(t.db()).table(t.replica()).origin("soak").clock(t.clock()).build()).buffer(buffer).build())
                .route(Route.<Map<String, AttributeValue>>builder("view").sink(MaterializedViewSink
                        .<Map<String, AttributeValue>>builder().client(t.db()).table(t.view()).clock(t.clock())
                        .ledgerRetention(Duration.ofHours(25)).updates(PollerSoakTest::live).build()).buffer(buffer)
                        .build())
                .build();
    }

    private static long usedHeapAfterGc() {
        System.gc();
        System.gc();
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }

    @Test
    @org.junit.jupiter.api.Timeout(value = 10, unit = java.util.concurrent.TimeUnit.MINUTES)
    void twoDaysOfChurnAcrossRolloversSplitsTrimsThrottlesAndAKilledWorker() throws Exception {
        ManualClock virtual = new ManualClock();
        DynamoDbClient db = LocalDynamoDb.get().client();
        String checkpoints = LocalDynamoDb.uniqueName("SoakCheckpoints");
        Tables tables = new Tables(db, LocalDynamoDb.uniqueName("SoakReplica"), LocalDynamoDb.uniqueName("SoakView"),
                virtual);
        LocalDynamoDb.createTable(db, tables.replica(), null, "id:S");
        LocalDynamoDb.createTable(db, tables.view(), null, "bucket:S");
        Delivered sink = new Delivered();
        Random random = new Random(22);
        Map<String, Integer> versions = new HashMap<>();
        java.util.Set<String> live = new java.util.HashSet<>();
        int expected = 0;
        int bigItems = 0;
        List<Long> heapPerDay = new ArrayList<>();
        try (StreamSimulator sim = StreamSimulator.builder().clock(virtual).seed(22).partitions(2).maxPartitions(4)
                .splitEvery(3).throttleProbability(0.02).serverErrorProbability(0.01).emptyPageProbability(0.05)
                .build();
                DynamoDbStreamsClient clientA = sim.client("worker-a");
                DynamoDbStreamsClient clientA2 = sim.client("worker-a");
                DynamoDbStreamsClient clientB = sim.client("worker-b")) {
            CheckpointStore storeA = DynamoDbCheckpointStore.builder().client(db).table(checkpoints)
                    .createTableIfMissing(true).lease(Duration.ofSeconds(3)).build();
            CheckpointStore storeB = DynamoDbCheckpointStore.builder().client(db).table(checkpoints)
                    .lease(Duration.ofSeconds(3)).build();
            Lost lostA = new Lost();
            Lost lostB = new Lost();
            Pipeline<Map<String, AttributeValue>> pipeA = pipeline(sink, tables);
            Pipeline<Map<String, AttributeValue>> pipeB = pipeline(sink, tables);
            StreamPoller a = worker(sim, clientA, "worker-a", storeA, pipeA, lostA);
            StreamPoller b = worker(sim, clientB, "worker-b", storeB, pipeB, lostB);
            StreamPoller restarted = null;
            Pipeline<Map<String, AttributeValue>> pipeA2 = null;
            Lost lostA2 = new Lost();
            try {
                for (int phase = 1; phase <= PHASES; phase++) {
                    virtual.advance(PHASE);
                    for (int w = 0; w < 20; w++) {
                        String key = "k" + random.nextInt(KEYS);
                        int v = versions.merge(key, 1, Integer::sum);
                        if (random.nextInt(25) == 0 && live.contains(key)) {
                            // A REMOVE carries the last version; the next put goes on from it.
                            versions.put(key, v - 1);
                            sim.delete(Map.of("id", AttributeValue.fromS(key)));
                            live.remove(key);
                        } else if (random.nextInt(150) == 0) {
                            bigItems++;
                            sim.put(Map.of("id", AttributeValue.fromS(key), "v", AttributeValue.fromN(Integer.toString(v)),
                                    "blob", AttributeValue.fromB(SdkBytes.fromByteArray(new byte[380_000]))));
                        } else {
                            sim.put(Map.of("id", AttributeValue.fromS(key), "v", AttributeValue.fromN(Integer.toString(v))));
                        }
                        if (!live.contains(key) && versions.get(key) == v) {
                            live.add(key);
                        }
                        expected++;
                    }
                    if (phase == 60) {
                        sink.stallOnce.set(Duration.ofSeconds(7)); // more than twice the 3-second lease
                    }
                    if (phase == 40) {
                        PollerAccess.crash(a); // SIGKILL: no drain, no checkpoint, no release
                    }
                    if (phase == 46) {
                        pipeA2 = pipeline(sink, tables);
                        restarted = worker(sim, clientA2, "worker-a", storeA, pipeA2, lostA2);
                    }
                    sink.awaitDistinct(expected, Duration.ofSeconds(60));
                    assertEquals(expected, sink.distinct(), "phase " + phase + ": every change delivered; "
                            + sim.stats() + "; b " + b.failure() + "; a " + a.failure());
                    if (phase % 72 == 0) {
                        heapPerDay.add(usedHeapAfterGc());
                    }
                    if (phase % 18 == 0) {
                        System.out.println("poller soak: " + phase * PHASE.toMinutes() / 60 + " simulated hours, "
                                + expected + " changes delivered; " + sim.stats());
                    }
                }
            } finally {
                if (restarted != null) {
                    restarted.close();
                }
                b.close();
                pipeB.close();
                pipeA.close();
                if (pipeA2 != null) {
                    pipeA2.close();
                }
            }
            StreamSimulator.Stats stats = sim.stats();
            System.out.println("poller soak: " + PHASES * PHASE.toMinutes() / 60 / 24 + " simulated days, " + expected
                    + " changes (" + bigItems + " of 380 KB), " + sink.deliveries.get() + " deliveries, "
                    + sink.backwards.get() + " re-deliveries of older versions; " + stats + "; lost leases b="
                    + lostB.lost.get() + " a'=" + lostA2.lost.get() + "; expired iterators "
                    + (lostA.expired.get() + lostB.expired.get() + lostA2.expired.get()) + "; checkpoints forgotten "
                    + (lostB.forgotten.get() + lostA2.forgotten.get()) + "; heap after GC per day " + heapPerDay);

            // Order: each item's changes first arrived in the order they were made.
            sink.firstSeen.forEach((key, seen) -> {
                for (int i = 1; i < seen.size(); i++) {
                    assertTrue(seen.get(i) > seen.get(i - 1), key + " out of order: " + seen);
                }
            });
            // The service's behaviours happened.
            assertTrue(stats.shardsClosed() >= 20, "rollovers: " + stats);
            assertTrue(stats.partitions() > 2, "splits: " + stats);
            assertTrue(stats.recordsTrimmed() > 0, "trims: " + stats);
            assertTrue(stats.throttled() > 0 && stats.serverErrors() > 0, "throttles and 500s: " + stats);
            // Leases: the living workers never lost one, so no shard was read by two at once.
            assertEquals(0, lostB.lost.get(), "worker b lost a lease while alive");
            assertEquals(0, lostA2.lost.get(), "the restarted worker lost a lease while alive");
            sim.readerRuns().forEach((shard, runs) -> assertTrue(new java.util.HashSet<>(runs).size() == runs.size(),
                    "shard " + shard + " read by two workers at once: " + runs));
            // The checkpoint table holds the shards still in the stream, not one row per shard ever seen.
            int rows = db.scan(r -> r.tableName(checkpoints)).count();
            assertTrue(rows <= stats.shards() + 1, "checkpoint rows " + rows + " for " + stats.shards()
                    + " shards in the stream (" + (stats.shards() + stats.shardsClosed()) + " ever)");
            // A stall longer than the lease happened, and no living worker lost a lease over it (above).
            assertEquals(1, sink.stalls.get(), "the sink stalled once");
            // The replica equals the source's live items; its items are the source's, with no growth.
            Map<String, Integer> expectedLive = new java.util.TreeMap<>();
            sim.items().forEach((k, item) -> expectedLive.put(item.get("id").s(), Integer.parseInt(item.get("v").n())));
            Map<String, Integer> replicaLive = new java.util.TreeMap<>();
            long largestReplica = 0;
            for (Map<String, AttributeValue> item : db.scanPaginator(r -> r.tableName(tables.replica())).items()) {
                largestReplica = Math.max(largestReplica, item.size());
                if (!item.containsKey(ReplicationSink.DELETED_ATTRIBUTE)) {
                    replicaLive.put(item.get("id").s(), Integer.parseInt(item.get("v").n()));
                }
            }
            assertEquals(expectedLive, replicaLive, "the replica equals the source");
            // The view is exact, and each item holds the progress of recently active shards only.
            Map<String, Long> expectedView = new java.util.TreeMap<>();
            expectedLive.keySet().forEach(k -> expectedView.merge(bucketOf(k), 1L, Long::sum));
            Map<String, Long> counted = new java.util.TreeMap<>();
            int largestView = 0;
            for (Map<String, AttributeValue> item : db.scanPaginator(r -> r.tableName(tables.view())).items()) {
                long n = Long.parseLong(item.get("live").n());
                if (n != 0) {
                    counted.put(item.get("bucket").s(), n);
                }
                largestView = Math.max(largestView, item.size());
            }
            System.out.println("poller soak: largest view item " + largestView + " attributes, largest replica item "
                    + largestReplica + " attributes, checkpoint rows " + db.scan(r -> r.tableName(checkpoints)).count());
            assertEquals(expectedView, counted, "the view counts each change exactly once");
            long everShards = stats.shards() + stats.shardsClosed();
            assertTrue(largestView < everShards, "a view item holds " + largestView + " attributes for "
                    + everShards + " shards ever: the progress of idle shards is pruned");
            // Heap flat from day to day.
            assertTrue(heapPerDay.get(1) < heapPerDay.get(0) + (64L << 20), "heap per day " + heapPerDay);
        }
    }
}
