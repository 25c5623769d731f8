package io.cdcfanout.dynamodb.poller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.PoisonPolicy;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.StreamRecords;
import io.cdcfanout.testkit.ManualClock;
import io.cdcfanout.testkit.ScriptedSink;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.DynamoDbException;
import software.amazon.awssdk.services.dynamodb.model.ExpiredIteratorException;
import software.amazon.awssdk.services.dynamodb.model.GetRecordsRequest;
import software.amazon.awssdk.services.dynamodb.model.GetRecordsResponse;
import software.amazon.awssdk.services.dynamodb.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.dynamodb.model.GetShardIteratorResponse;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.awssdk.services.dynamodb.model.Shard;
import software.amazon.awssdk.services.dynamodb.model.StreamRecord;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.awssdk.services.dynamodb.model.TrimmedDataAccessException;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/**
 * The poller's parts on their own, on a manual clock, with no DynamoDB Local: the shard catalog, the
 * pacer, the lease keeper, the checkpointer and the shard reader (against a scripted streams client).
 */
class PollerPartsTest {
    private static final String ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/Parts/stream/2026-01-01T00:00:00.000";
    private static final Source SOURCE = StreamRecords.sourceOf(ARN);

    private final ManualClock clock = new ManualClock(Instant.parse("2026-11-30T10:00:00Z"));
    private final List<String> told = new CopyOnWriteArrayList<>();
    private final PollerContext ctx = new PollerContext(ARN, SOURCE, "me", clock, new PollerListener() {
        @Override
        public void onShardLost(String shardId, String reason) {
            told.add("lost " + shardId);
        }

        @Override
        public void onCheckpoint(String shardId, Checkpoint checkpoint) {
            told.add("checkpoint " + shardId + " " + checkpoint.sequenceNumber() + (checkpoint.finished() ? " finished"
                    : ""));
        }

        @Override
        public void onRewind(String shardId, String toCheckpoint, String reason) {
            told.add("rewind " + shardId + " to " + toCheckpoint);
        }

        @Override
        public void onBackoff(String shardId, Duration backoff, String reason) {
            told.add("backoff " + shardId + " " + backoff.toMillis() + " " + reason);
        }

        @Override
        public void onIteratorExpired(String shardId, String resumeAfter) {
            told.add("expired " + shardId + " after " + resumeAfter);
        }
    });
    private final Pacer pacer = new Pacer(Duration.ofMillis(250), Duration.ofMillis(50), Duration.ofSeconds(2),
            Duration.ofMillis(1_000));

    private static Shard shard(String id, String parent, boolean closed) {
        return Shard.builder().shardId(id).parentShardId(parent).sequenceNumberRange(r -> r.startingSequenceNumber("1")
                .endingSequenceNumber(closed ? "999" : null)).build();
    }

    private static Record record(String seq) {
        return Record.builder().eventID("e" + seq).eventName("INSERT").dynamodb(StreamRecord.builder()
                .sequenceNumber(seq).approximateCreationDateTime(Instant.parse("2026-11-30T10:00:00Z"))
                .streamViewType(StreamViewType.NEW_IMAGE).keys(Map.of("id", AttributeValue.fromS("k" + seq)))
                .newImage(Map.of("id", AttributeValue.fromS("k" + seq))).build()).build();
    }

    // ------------------------------------------------------------------ ShardCatalog

    @Test
    void theCatalogLetsAChildStartOnlyOnceItsParentIsFinished() {
        ShardCatalog catalog = new ShardCatalog(Map.of(), StartPosition.TRIM_HORIZON);
        catalog.merge(List.of(shard("p", null, true), shard("c", "p", false)));
        ShardState parent = catalog.get("p");
        ShardState child = catalog.get("c");
        assertTrue(catalog.eligible(parent));
        assertFalse(catalog.eligible(child), "the parent is read to its end first");
        parent.finished = true;
        assertTrue(catalog.eligible(child));
        assertFalse(catalog.readable(child), "eligible, but not held");
        child.owned = true;
        assertTrue(catalog.readable(child));
    }

    @Test
    void theCatalogStartsAtCheckpointsAtLatestOnlyOnTheFirstDiscoveryAndReportsVanishedShards() {
        ShardCatalog catalog = new ShardCatalog(Map.of("a", Checkpoint.after("42"), "gone", Checkpoint.after("7"),
                "done", Checkpoint.finished("9")), StartPosition.LATEST);
        List<ShardState> vanished = catalog.merge(List.of(shard("a", null, false), shard("old", null, true),
                shard("open", null, false)));
        assertEquals("42", catalog.get("a").checkpoint);
        assertTrue(catalog.get("old").finished, "closed before the start: nothing new in it");
        assertTrue(catalog.get("open").latest);
        assertEquals(List.of("gone"), vanished.stream().map(s -> s.id).toList(),
                "checkpointed, unfinished and no longer listed: expired with unread records");
        catalog.merge(List.of(shard("later", null, false)));
        assertFalse(catalog.get("later").latest, "a shard found later starts at its beginning");
    }

    // ------------------------------------------------------------------ Pacer

    @Test
    void thePacerReadsAtOnceAfterRecordsSoonWhileActiveSlowlyWhenIdleAndBacksOffExponentially() {
        ShardState s = new ShardState(shard("s", null, false));
        pacer.records(s, 1_000);
        assertEquals(1_000, s.nextPollAt);
        pacer.empty(s, 1_500);
        assertEquals(1_550, s.nextPollAt, "active: within two seconds of records");
        pacer.empty(s, 5_000);
        assertEquals(5_250, s.nextPollAt, "idle");
        List<Long> pauses = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            pauses.add(pacer.pause(s, 0));
        }
        assertEquals(List.of(100L, 200L, 400L, 800L, 1_000L, 1_000L), pauses);
        pacer.empty(s, 0);
        assertEquals(0, s.failures, "a good read resets the backoff");
    }

    // ------------------------------------------------------------------ LeaseKeeper

    @Test
    void theLeaseKeeperRetriesATransientClaimSoonAndGivesUpALostShardAlone() {
        FaultyStore store = new FaultyStore();
        LeaseKeeper leases = new LeaseKeeper(ctx, store);
        ShardCatalog catalog = new ShardCatalog(Map.of(), StartPosition.TRIM_HORIZON);
        catalog.merge(List.of(shard("a", null, false), shard("b", null, false)));
        ctx.discoverAt(clock.millis() + 10_000);
        store.claimFailures.set(1);
        leases.keep(catalog);
        assertEquals(clock.millis() + LeaseKeeper.RETRY_MILLIS, ctx.nextDiscovery(), "tried again in a second");
        assertFalse(catalog.get("a").owned);
        assertTrue(catalog.get("b").owned);
        leases.keep(catalog);
        assertTrue(catalog.get("a").owned);
        catalog.get("a").inFlight.add(new ShardState.InFlight(0, new CompletableFuture<>(), "5", false, List.of(),
                List.of()));
        store.takenOver = true;
        leases.keep(catalog);
        assertFalse(catalog.get("a").owned);
        assertTrue(catalog.get("a").inFlight.isEmpty(), "its unsettled batches are forgotten");
        assertEquals(List.of("lost a", "lost b"), told);
    }

    @Test
    void aShardGivenUpIsTakenBackFromTheCheckpointTheStoreHoldsThen() {
        FaultyStore store = new FaultyStore();
        LeaseKeeper leases = new LeaseKeeper(ctx, store);
        ShardCatalog catalog = new ShardCatalog(Map.of(), StartPosition.TRIM_HORIZON);
        catalog.merge(List.of(shard("a", null, false)));
        leases.keep(catalog);
        ShardState a = catalog.get("a");
        a.checkpoint = "10";
        leases.lose(a, "test");
        store.real.release(ARN, "a", "me"); // as if the lease had lapsed
        store.real.claim(ARN, "a", "other");
        store.real.save(ARN, "a", "other", Checkpoint.after("25"));
        store.real.release(ARN, "a", "other");
        leases.keep(catalog);
        assertTrue(a.owned);
        assertEquals("25", a.checkpoint, "where the other poller left it");
    }

    /**
     * Regression, found by the poller soak: a shard another poller read to its end (and released) was
     * claimed and read again from the TRIM_HORIZON this poller knew at its start, doubling deliveries and
     * moving items back to old versions.
     */
    @Test
    void aShardAnotherPollerFinishedIsNotReadAgainFromAStaleCheckpoint() {
        FaultyStore store = new FaultyStore();
        ShardCatalog catalog = new ShardCatalog(store.load(ARN), StartPosition.TRIM_HORIZON);
        catalog.merge(List.of(shard("a", null, false), shard("b", "a", false)));
        store.real.claim(ARN, "a", "other");
        store.real.save(ARN, "a", "other", Checkpoint.finished("99"));
        store.real.release(ARN, "a", "other");
        LeaseKeeper leases = new LeaseKeeper(ctx, store);
        leases.keep(catalog);
        ShardState a = catalog.get("a");
        assertTrue(a.finished, "the store says another poller finished it");
        assertFalse(a.owned, "released at once");
        assertEquals("99", a.checkpoint);
        leases.keep(catalog);
        assertTrue(catalog.get("b").owned, "its child starts");
    }

    /** Regression: a transient load failure while taking a shard back escaped and stopped the poller. */
    @Test
    void aShardWhoseCheckpointCannotBeReadForNowIsTakenBackOnTheNextTry() {
        FaultyStore store = new FaultyStore();
        LeaseKeeper leases = new LeaseKeeper(ctx, store);
        ShardCatalog catalog = new ShardCatalog(Map.of(), StartPosition.TRIM_HORIZON);
        catalog.merge(List.of(shard("a", null, false)));
        leases.keep(catalog);
        ShardState a = catalog.get("a");
        leases.lose(a, "test");
        store.real.save(ARN, "a", "me", Checkpoint.after("25"));
        store.loadFailures.set(1);
        ctx.discoverAt(clock.millis() + 10_000);
        leases.keep(catalog);
        assertFalse(a.owned, "not read from an unknown checkpoint");
        assertEquals(clock.millis() + LeaseKeeper.RETRY_MILLIS, ctx.nextDiscovery(), "tried again in a second");
        leases.keep(catalog);
        assertTrue(a.owned);
        assertEquals("25", a.checkpoint);
    }

    /** The renewer renews on its own timer and hands a lease taken over to the reading thread. */
    @Test
    void theRenewerRenewsHeldLeasesAndReportsATakeover() {
        FaultyStore store = new FaultyStore();
        java.util.List<String> wakes = new java.util.ArrayList<>();
        LeaseRenewer renewer = new LeaseRenewer(ARN, "me", store, () -> wakes.add("wake"));
        LeaseKeeper leases = new LeaseKeeper(ctx, store, renewer);
        ShardCatalog catalog = new ShardCatalog(Map.of(), StartPosition.TRIM_HORIZON);
        catalog.merge(List.of(shard("a", null, false)));
        leases.keep(catalog);
        assertEquals(java.util.Set.of("a"), renewer.held());
        leases.keep(catalog);
        assertEquals(0, store.count("renew "), "discovery leaves renewal to the renewer");
        renewer.renewAll();
        assertEquals(1, store.count("renew "));
        store.takenOver = true;
        renewer.renewAll();
        assertEquals(List.of("wake"), wakes, "the reading thread is woken");
        leases.collectLost(catalog);
        assertFalse(catalog.get("a").owned);
        assertEquals(java.util.Set.of(), renewer.held());
    }

    // ------------------------------------------------------------------ Checkpointer

    private Pipeline<Map<String, AttributeValue>> pipeline(ScriptedSink<Map<String, AttributeValue>> sink) {
        return Pipeline.<Map<String, AttributeValue>>builder().route(Route.<Map<String, AttributeValue>>builder("r")
                .sink(sink).retry(RetryPolicy.none()).onPoison(PoisonPolicy.HALT_ROUTE).build()).build();
    }

    private ShardState.InFlight submit(Pipeline<Map<String, AttributeValue>> p, ShardState s, String... seqs) {
        List<ChangeEvent<Map<String, AttributeValue>>> events = new ArrayList<>();
        for (String seq : seqs) {
            events.add(StreamRecords.toEvent(record(seq), SOURCE, s.id));
        }
        CompletableFuture<BatchResult<Map<String, AttributeValue>>> done = p.submit(events);
        p.flush().join();
        done.join();
        ShardState.InFlight f = new ShardState.InFlight(s.generation, done, seqs[seqs.length - 1], false, events,
                List.of(seqs));
        s.inFlight.add(f);
        return f;
    }

    @Test
    void theCheckpointMovesOverSettledBatchesInOrderAndAPartlyAcknowledgedBatchRewinds() {
        FaultyStore store = new FaultyStore();
        LeaseKeeper leases = new LeaseKeeper(ctx, store);
        Checkpointer checkpointer = new Checkpointer(ctx, store, leases, pacer);
        ShardState s = new ShardState(shard("s", null, false));
        s.owned = true;
        ScriptedSink<Map<String, AttributeValue>> sink = ScriptedSink.<Map<String, AttributeValue>>builder()
                .fatalWhen(e -> e.eventId().equals("e0005"), "refused").build();
        try (Pipeline<Map<String, AttributeValue>> p = pipeline(sink)) {
            submit(p, s, "0001", "0002");
            submit(p, s, "0003", "0004", "0005", "0006");
            checkpointer.settle(s);
        }
        assertEquals(List.of("checkpoint s 0004", "rewind s to 0004"), told,
                "one save over both settled batches: the acknowledged prefix, in the stream's spelling; then back to it");
        assertTrue(s.inFlight.isEmpty());
        assertEquals(clock.millis() + Pacer.FIRST_PAUSE_MILLIS, s.nextPollAt, "after a pause");
    }

    @Test
    void aSaveThatFailsIsRetriedWhenDueAndAFinishedShardIsReleasedOnceItsSaveLands() {
        FaultyStore store = new FaultyStore();
        LeaseKeeper leases = new LeaseKeeper(ctx, store);
        Checkpointer checkpointer = new Checkpointer(ctx, store, leases, pacer);
        ShardState s = new ShardState(shard("s", null, true));
        store.real.claim(ARN, "s", "me");
        s.owned = true;
        s.checkpoint = "9";
        store.saveFailures.set(1);
        checkpointer.finish(s);
        assertTrue(checkpointer.pending(new ShardCatalogWith(s).catalog));
        assertEquals(0, store.count("release "), "not before the final save is stored");
        checkpointer.settle(s);
        assertEquals(1, store.count("save "), "not due yet");
        clock.advance(Duration.ofMillis(Checkpointer.RETRY_MILLIS));
        checkpointer.settle(s);
        assertEquals(List.of("save s finished", "save s finished", "release s"), store.calls);
        assertFalse(s.owned);
    }

    @Test
    void aSaveRefusedForGoodGivesUpTheShard() {
        CheckpointStore refusing = new CheckpointStore() {
            @Override
            public Map<String, Checkpoint> load(String streamArn) {
                return Map.of();
            }

            @Override
            public boolean claim(String streamArn, String shardId, String owner) {
                return true;
            }

            @Override
            public void save(String streamArn, String shardId, String owner, Checkpoint checkpoint) {
                throw new CdcException("shard taken over", false);
            }

            @Override
            public void forget(String streamArn, String shardId) {
            }

            @Override
            public void release(String streamArn, String shardId, String owner) {
            }
        };
        Checkpointer checkpointer = new Checkpointer(ctx, refusing, new LeaseKeeper(ctx, refusing), pacer);
        ShardState s = new ShardState(shard("s", null, false));
        s.owned = true;
        checkpointer.save(s, Checkpoint.after("5"));
        assertFalse(s.owned);
        assertEquals(List.of("lost s"), told);
    }

    /** A catalog holding one shard. */
    private static final class ShardCatalogWith {
        final ShardCatalog catalog = new ShardCatalog(Map.of(), StartPosition.TRIM_HORIZON);

        ShardCatalogWith(ShardState s) {
            catalog.merge(List.of(s.shard));
            ShardState inCatalog = catalog.get(s.id);
            inCatalog.pendingSave = s.pendingSave;
        }
    }

    // ------------------------------------------------------------------ ShardReader

    /** A streams client that answers GetRecords and GetShardIterator from scripts. */
    private static final class ScriptedStreams implements DynamoDbStreamsClient {
        final Deque<Object> getRecords = new ArrayDeque<>();
        final List<GetShardIteratorRequest> iterators = new ArrayList<>();

        @Override
        public GetShardIteratorResponse getShardIterator(GetShardIteratorRequest request) {
            iterators.add(request);
            return GetShardIteratorResponse.builder().shardIterator("it-" + iterators.size()).build();
        }

        @Override
        public GetRecordsResponse getRecords(GetRecordsRequest request) {
            Object next = getRecords.poll();
            if (next instanceof RuntimeException e) {
                throw e;
            }
            return (GetRecordsResponse) next;
        }

        @Override
        public String serviceName() {
            return "dynamodb";
        }

        @Override
        public void close() {
        }
    }

    private ShardReader reader(ScriptedStreams streams, Pipeline<Map<String, AttributeValue>> p,
            Consumer<ShardState> onEmptyEnd) {
        return new ShardReader(ctx, streams, p, 100, DataLossPolicy.FAIL, pacer, f -> { }, onEmptyEnd);
    }

    @Test
    void theReaderResumesAnExpiredIteratorAfterTheLastRecordItRead() {
        ScriptedStreams streams = new ScriptedStreams();
        streams.getRecords.add(GetRecordsResponse.builder().records(record("0007")).nextShardIterator("next").build());
        streams.getRecords.add(ExpiredIteratorException.builder().message("expired").build());
        ShardState s = new ShardState(shard("s", null, false));
        try (Pipeline<Map<String, AttributeValue>> p = pipeline(ScriptedSink.<Map<String, AttributeValue>>builder()
                .build())) {
            ShardReader reader = reader(streams, p, x -> { });
            reader.poll(s);
            reader.poll(s);
            assertNull(s.iterator);
            streams.getRecords.add(GetRecordsResponse.builder().nextShardIterator("n2").build());
            reader.poll(s);
        }
        assertEquals(List.of("TRIM_HORIZON", "AFTER_SEQUENCE_NUMBER 0007"), streams.iterators.stream()
                .map(r -> r.shardIteratorTypeAsString() + (r.sequenceNumber() == null ? "" : " " + r.sequenceNumber()))
                .toList(), "the stream's own spelling, leading zeros kept");
        assertTrue(told.contains("expired s after 0007"));
    }

    @Test
    void theReaderBacksOffOnTransientErrorsAndStopsOnFatalOnes() {
        ScriptedStreams streams = new ScriptedStreams();
        streams.getRecords.add(DynamoDbException.builder().statusCode(500).awsErrorDetails(AwsErrorDetails.builder()
                .errorCode("InternalServerError").build()).build());
        streams.getRecords.add(DynamoDbException.builder().statusCode(400).awsErrorDetails(AwsErrorDetails.builder()
                .errorCode("ValidationException").build()).build());
        ShardState s = new ShardState(shard("s", null, false));
        try (Pipeline<Map<String, AttributeValue>> p = pipeline(ScriptedSink.<Map<String, AttributeValue>>builder()
                .build())) {
            ShardReader reader = reader(streams, p, x -> { });
            reader.poll(s);
            assertEquals(List.of("backoff s 100 InternalServerError (HTTP 500)"), told);
            CdcException fatal = assertThrows(CdcException.class, () -> reader.poll(s));
            assertFalse(fatal.retryable());
            assertTrue(fatal.getMessage().contains("ValidationException"), fatal.getMessage());
        }
    }

    @Test
    void aTrimmedHorizonIsReopenedOnceThenReportedAsDataLoss() {
        ScriptedStreams streams = new ScriptedStreams();
        streams.getRecords.add(TrimmedDataAccessException.builder().message("trimmed").build());
        streams.getRecords.add(TrimmedDataAccessException.builder().message("trimmed again").build());
        ShardState s = new ShardState(shard("s", null, false));
        try (Pipeline<Map<String, AttributeValue>> p = pipeline(ScriptedSink.<Map<String, AttributeValue>>builder()
                .build())) {
            ShardReader reader = reader(streams, p, x -> { });
            reader.poll(s);
            assertTrue(s.horizonReopened);
            CdcException loss = assertThrows(CdcException.class, () -> reader.poll(s));
            assertTrue(loss.getMessage().startsWith("data loss on " + ARN + " shard s"), loss.getMessage());
        }
    }
}
