package io.cdcfanout.dynamodb.poller;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.local.WireFaults;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/** Faults in the lease-keeping calls of the checkpoint store: claim, renew, release, and a lost lease. */
class PollerLeaseFaultTest {
    private static final Duration WAIT = Duration.ofSeconds(40);
    private final LocalDynamoDb local = LocalDynamoDb.get();

    private static void put(DynamoDbClient db, String table, int version) {
        db.putItem(r -> r.tableName(table).item(Map.of("id", s("k"), "v", n(Integer.toString(version)))));
    }

    private static List<Integer> versions(ArrivalSink sink) {
        return sink.arrivals().stream().map(a -> Integer.parseInt(a.event().after().orElseThrow().get("v").n()))
                .toList();
    }

    private StreamPoller.Builder poller(String arn, Pipeline<Map<String, AttributeValue>> pipeline,
            CheckpointStore store) {
        return StreamPoller.builder().streamsClient(local.streams()).streamArn(arn).pipeline(pipeline)
                .checkpointStore(store).workerId("w").pollInterval(Duration.ofMillis(10))
                .shardDiscoveryInterval(Duration.ofMillis(100));
    }

    /** Regression: a retryable claim failure during discovery escaped run() and stopped the poller. */
    @Test
    void aClaimThatFailsTransientlyIsTriedAgainAndStopsNothing() throws Exception {
        String table = LocalDynamoDb.uniqueName("ClaimFault");
        String arn = local.createTable(table, StreamViewType.NEW_IMAGE, "id:S");
        FaultyStore store = new FaultyStore();
        store.claimFailures.set(3);
        ArrivalSink sink = new ArrivalSink();
        try (Pipeline<Map<String, AttributeValue>> pipeline = StreamPollerTest.pipeline(sink);
                StreamPoller poller = poller(arn, pipeline, store).build().start()) {
            for (int v = 1; v <= 20; v++) {
                put(local.client(), table, v);
            }
            assertTrue(sink.await(20, WAIT), "got " + sink.size() + "; " + poller.failure());
            assertEquals(Optional.empty(), poller.failure());
        }
        assertTrue(store.count("claim ") >= 4, store.calls.toString());
        assertEquals(IntStream.rangeClosed(1, 20).boxed().toList(), versions(sink));
    }

    /** Regression: a transient failure of the first {@code CheckpointStore.load} stopped the poller for good. */
    @Test
    void aLoadThatFailsTransientlyAtStartIsTriedAgainAndStopsNothing() throws Exception {
        String table = LocalDynamoDb.uniqueName("LoadFault");
        String arn = local.createTable(table, StreamViewType.NEW_IMAGE, "id:S");
        FaultyStore store = new FaultyStore();
        store.loadFailures.set(2);
        ArrivalSink sink = new ArrivalSink();
        try (Pipeline<Map<String, AttributeValue>> pipeline = StreamPollerTest.pipeline(sink);
                StreamPoller poller = poller(arn, pipeline, store).maxBackoff(Duration.ofMillis(50)).build().start()) {
            for (int v = 1; v <= 5; v++) {
                put(local.client(), table, v);
            }
            assertTrue(sink.await(5, WAIT), "got " + sink.size() + "; " + poller.failure());
            assertEquals(Optional.empty(), poller.failure());
        }
        assertTrue(store.count("load") >= 3, store.calls.toString());
    }

    @Test
    void aRenewalOrAReleaseThatFailsTransientlyStopsNothing() throws Exception {
        String table = LocalDynamoDb.uniqueName("RenewFault");
        String arn = local.createTable(table, StreamViewType.NEW_IMAGE, "id:S");
        FaultyStore store = new FaultyStore();
        store.renewFailures.set(3);
        store.releaseFailures.set(5);
        ArrivalSink sink = new ArrivalSink();
        try (Pipeline<Map<String, AttributeValue>> pipeline = StreamPollerTest.pipeline(sink);
                StreamPoller poller = poller(arn, pipeline, store).build().start()) {
            for (int v = 1; v <= 10; v++) {
                put(local.client(), table, v);
            }
            assertTrue(sink.await(10, WAIT), "got " + sink.size());
            local.rollover(); // the shard ends: it is released (which fails) and its child is claimed
            for (int v = 11; v <= 20; v++) {
                put(local.client(), table, v);
            }
            assertTrue(sink.await(20, WAIT), "got " + sink.size() + "; " + poller.failure());
            assertTrue(store.await("renew ", 6, WAIT), store.calls.toString()); // renewals come every 100 ms
            assertTrue(store.count("release ") >= 1, store.calls.toString());
            assertEquals(Optional.empty(), poller.failure());
        }
        assertEquals(IntStream.rangeClosed(1, 20).boxed().toList(), versions(sink));
    }

    /** Regression: a throttled DescribeStream returned before renewing the leases, which then lapsed. */
    @Test
    void leasesAreRenewedWhileDescribeStreamFails() throws Exception {
        String table = LocalDynamoDb.uniqueName("DescribeFault");
        String arn = local.createTable(table, StreamViewType.NEW_IMAGE, "id:S");
        FaultyStore store = new FaultyStore();
        ArrivalSink sink = new ArrivalSink();
        try (WireFaults wire = new WireFaults(local.endpoint());
                DynamoDbStreamsClient streams = DynamoDbStreamsClient.builder().endpointOverride(wire.endpoint())
                        .region(Region.US_EAST_1).credentialsProvider(StaticCredentialsProvider.create(
                                AwsBasicCredentials.create("local", "local"))).build();
                Pipeline<Map<String, AttributeValue>> pipeline = StreamPollerTest.pipeline(sink);
                StreamPoller poller = poller(arn, pipeline, store).streamsClient(streams).build().start()) {
            put(local.client(), table, 1);
            assertTrue(sink.await(1, WAIT), "got " + sink.size());
            long renewalsBefore = store.count("renew ");
            wire.inject(WireFaults.operation("DescribeStream"),
                    WireFaults.Fault.awsJson(400, "LimitExceededException"), 12);
            assertTrue(wire.awaitExhausted(WAIT), "the throttled DescribeStream calls happened: "
                    + wire.faulted().size());
            assertTrue(store.count("renew ") - renewalsBefore >= 2,
                    "leases renewed during " + wire.faulted().size() + " throttled DescribeStream calls: "
                            + (store.count("renew ") - renewalsBefore));
            put(local.client(), table, 2);
            assertTrue(sink.await(2, WAIT), "got " + sink.size());
            assertEquals(Optional.empty(), poller.failure());
        }
    }

    /** Regression: losing one shard's lease stopped the whole poller ("taken over"). */
    @Test
    void aLostLeaseGivesUpThatShardAloneAndItIsTakenBackFromTheStoredCheckpoint() throws Exception {
        String table = LocalDynamoDb.uniqueName("LostLease");
        String arn = local.createTable(table, StreamViewType.NEW_IMAGE, "id:S");
        FaultyStore store = new FaultyStore();
        List<String> lost = new CopyOnWriteArrayList<>();
        java.util.concurrent.CountDownLatch gaveUp = new java.util.concurrent.CountDownLatch(1);
        PollerListener listener = new PollerListener() {
            @Override
            public void onShardLost(String shardId, String reason) {
                lost.add(shardId + ": " + reason);
                gaveUp.countDown();
            }
        };
        ArrivalSink sink = new ArrivalSink();
        try (Pipeline<Map<String, AttributeValue>> pipeline = StreamPollerTest.pipeline(sink);
                StreamPoller poller = poller(arn, pipeline, store).listener(listener).build().start()) {
            for (int v = 1; v <= 10; v++) {
                put(local.client(), table, v);
            }
            assertTrue(sink.await(10, WAIT), "got " + sink.size());
            store.takenOver = true;
            assertTrue(gaveUp.await(WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS), "the shard was "
                    + "given up");
            assertEquals(1, lost.size(), "the shard was given up once: " + lost);
            assertFalse(poller.isStopped(), "the poller goes on: " + poller.failure());
            for (int v = 11; v <= 20; v++) {
                put(local.client(), table, v);
            }
            store.takenOver = false; // the other poller released it
            assertTrue(sink.await(20, WAIT), "got " + sink.size());
            assertEquals(Optional.empty(), poller.failure());
        }
        assertEquals(IntStream.rangeClosed(1, 20).boxed().collect(Collectors.toCollection(TreeSet::new)),
                new TreeSet<>(versions(sink)), "every change arrives; some may twice, after the takeback");
    }

    /** Regression: a finished shard whose final save was deferred kept its lease until stop. */
    @Test
    void aFinishedShardIsReleasedOnceItsDeferredFinalSaveLands() throws Exception {
        String table = LocalDynamoDb.uniqueName("DeferredRelease");
        String arn = local.createTable(table, StreamViewType.NEW_IMAGE, "id:S");
        FaultyStore store = new FaultyStore();
        store.failSaveOf = cp -> cp.finished();
        store.saveFailures.set(2);
        ArrivalSink sink = new ArrivalSink();
        try (Pipeline<Map<String, AttributeValue>> pipeline = StreamPollerTest.pipeline(sink);
                StreamPoller poller = poller(arn, pipeline, store).build().start()) {
            put(local.client(), table, 1);
            assertTrue(sink.await(1, WAIT), "got " + sink.size());
            local.rollover();
            put(local.client(), table, 2);
            assertTrue(sink.await(2, WAIT), "got " + sink.size());
            assertTrue(store.await("release ", 1, WAIT), "released while running: " + store.calls);
            assertEquals(1, store.count("release "), "released once: " + store.calls);
            assertTrue(store.calls.indexOf(store.calls.stream().filter(c -> c.startsWith("release ")).findFirst()
                    .orElseThrow()) > store.calls.lastIndexOf(store.calls.stream()
                            .filter(c -> c.endsWith(" finished")).reduce((a, b) -> b).orElseThrow()),
                    "after the final save: " + store.calls);
            assertEquals(Optional.empty(), poller.failure());
        }
    }

    /**
     * Regression: leases were renewed on the reading thread, which blocks in {@code pipeline.submit}
     * while a route is full. A sink stalled past the lease let a second worker take the shard while the
     * owner still held its records (300 duplicates, versions moving backwards).
     */
    @Test
    void aLeaseIsKeptWhileTheReadingThreadIsBlockedByAStalledSink() throws Exception {
        String table = LocalDynamoDb.uniqueName("StalledLease");
        String arn = local.createTable(table, StreamViewType.NEW_IMAGE, "id:S");
        io.cdcfanout.testkit.ManualClock clock = new io.cdcfanout.testkit.ManualClock();
        io.cdcfanout.testkit.ManualScheduler timer = new io.cdcfanout.testkit.ManualScheduler(clock);
        DynamoDbCheckpointStore store = DynamoDbCheckpointStore.builder().client(local.client())
                .table(LocalDynamoDb.uniqueName("StalledLeaseCheckpoints")).createTableIfMissing(true)
                .lease(Duration.ofSeconds(10)).clock(clock).build();
        java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
        io.cdcfanout.testkit.ScriptedSink<Map<String, AttributeValue>> sink =
                io.cdcfanout.testkit.ScriptedSink.<Map<String, AttributeValue>>builder().gate(gate).build();
        String shard = local.streams().describeStream(r -> r.streamArn(arn)).streamDescription().shards().get(0)
                .shardId();
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(io.cdcfanout.api.pipeline.Route.<Map<String, AttributeValue>>builder("stalled").sink(sink)
                        .buffer(io.cdcfanout.api.pipeline.BufferPolicy.builder().maxEvents(5).capacity(5)
                                .offerTimeout(Duration.ofMinutes(2)).build()).build()).build();
                StreamPoller poller = poller(arn, pipeline, store).leaseTimer(timer).build().start()) {
            for (int v = 1; v <= 30; v++) {
                String id = "k" + v;
                db().putItem(r -> r.tableName(table).item(Map.of("id", s(id), "v", n("1"))));
            }
            long deadline = System.currentTimeMillis() + WAIT.toMillis();
            while (sink.calls() == 0 && System.currentTimeMillis() < deadline) {
                Thread.onSpinWait();
            }
            assertTrue(sink.calls() > 0, "the sink was called and stalls");
            // 30 s on the store's clock, three times the lease, while the reading thread is blocked.
            for (int second = 0; second < 30; second++) {
                timer.advance(Duration.ofSeconds(1));
            }
            assertFalse(store.claim(arn, shard, "intruder"), "the stalled owner's lease is still live");
            gate.countDown();
            deadline = System.currentTimeMillis() + WAIT.toMillis();
            while (sink.delivered().events().size() < 30 && System.currentTimeMillis() < deadline) {
                Thread.onSpinWait();
            }
            assertEquals(30, sink.delivered().events().size(), "each record delivered once, by the owner");
            assertEquals(Optional.empty(), poller.failure());
        }
    }

    private DynamoDbClient db() {
        return local.client();
    }
}
