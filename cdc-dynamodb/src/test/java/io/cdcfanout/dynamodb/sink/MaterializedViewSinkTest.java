package io.cdcfanout.dynamodb.sink;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.dynamodb.StreamReader;
import io.cdcfanout.dynamodb.StreamRecords;
import java.time.Duration;
import java.util.ArrayList;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/** Usage metrics (events per user per hour) as a view, exact when whole batches are replayed. */
class MaterializedViewSinkTest {
    private static final DateTimeFormatter HOUR = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH").withZone(ZoneOffset.UTC);

    /** The usage-metrics view: one counter per user and hour of the event's time attribute. */
    static List<ViewUpdate> usage(ChangeEvent<? extends Map<String, AttributeValue>> e) {
        if (e.operation() != Operation.INSERT) {
            return List.of();
        }
        Map<String, AttributeValue> item = e.after().orElseThrow();
        String hour = HOUR.format(Instant.ofEpochSecond(Long.parseLong(item.get("at").n())));
        return List.of(new ViewUpdate(Map.of("user", item.get("user"), "hour", s(hour)),
                "ADD #count :one SET #last = :id", Map.of("#count", "count", "#last", "lastEvent"),
                Map.of(":one", n("1"), ":id", s(e.eventId()))));
    }

    static String ledger(DynamoDbClient db) {
        String name = LocalDynamoDb.uniqueName("Ledger");
        MaterializedViewSink.createLedgerTable(db, name);
        return name;
    }

    @Test
    void countsAreExactAfterReplayingWholeBatchesFromSeveralShards() {
        String region = "af-south-1";
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client(region);
        String source = LocalDynamoDb.uniqueName("Usage");
        String arn = LocalDynamoDb.createTable(db, source, StreamViewType.NEW_IMAGE, "id:S");
        String view = LocalDynamoDb.uniqueName("UsageByHour");
        LocalDynamoDb.createTable(db, view, StreamViewType.KEYS_ONLY, "user:S", "hour:S");
        Random random = new Random(3);
        Map<String, Integer> expected = new HashMap<>();
        long base = Instant.parse("2024-05-01T10:00:00Z").getEpochSecond();
        for (int i = 0; i < 240; i++) {
            String user = "u" + random.nextInt(4);
            long at = base + random.nextInt(3 * 3600);
            int id = i;
            db.putItem(r -> r.tableName(source).item(Map.of("id", s("e" + id), "user", s(user),
                    "at", n(Long.toString(at)))));
            expected.merge(user + "|" + HOUR.format(Instant.ofEpochSecond(at)), 1, Integer::sum);
            if (i == 80 || i == 160) {
                LocalDynamoDb.rollover(db); // events from three shards feed the same view items
            }
        }
        List<ChangeEvent<Map<String, AttributeValue>>> events = StreamReader.readAll(local.streams(region), arn)
                .stream().map(r -> StreamRecords.toEvent(r.record(), StreamRecords.sourceOf(arn), r.shardId()))
                .toList();
        assertEquals(240, events.size());
        MaterializedViewSink<Map<String, AttributeValue>> sink = MaterializedViewSink.<Map<String, AttributeValue>>builder()
                .client(db).table(view).ledgerTable(ledger(db)).updates(MaterializedViewSinkTest::usage).build();

        for (int round = 0; round < 3; round++) { // the first pass, then two replays of every batch
            for (int i = 0; i < events.size(); i += 30) {
                SinkResult r = sink.write(SinkBatch.of("usage", 1, events.subList(i, Math.min(events.size(), i + 30))));
                assertTrue(r.allDelivered(), r.toString());
                if (round > 0) {
                    assertEquals(0L, r.counters().get("dynamodb.updates"), "a replay changes nothing");
                }
            }
        }
        Map<String, Integer> counted = new HashMap<>();
        db.scanPaginator(r -> r.tableName(view)).items().forEach(item ->
                counted.put(item.get("user").s() + "|" + item.get("hour").s(), Integer.parseInt(item.get("count").n())));
        assertEquals(expected, counted);
    }

    @Test
    void twoUpdatesOfOneViewItemForOneEventAreRefused() {
        LocalDynamoDb local = LocalDynamoDb.get();
        String view = LocalDynamoDb.uniqueName("View");
        local.createTable(view, StreamViewType.KEYS_ONLY, "k:S");
        String source = LocalDynamoDb.uniqueName("Src");
        String arn = local.createTable(source, StreamViewType.NEW_IMAGE, "id:S");
        local.client().putItem(r -> r.tableName(source).item(Map.of("id", s("x"))));
        List<ChangeEvent<Map<String, AttributeValue>>> events = StreamReader.readAll(local.streams(), arn).stream()
                .map(r -> StreamRecords.toEvent(r.record(), StreamRecords.sourceOf(arn), r.shardId())).toList();
        MaterializedViewSink<Map<String, AttributeValue>> sink = MaterializedViewSink.<Map<String, AttributeValue>>builder()
                .client(local.client()).table(view).ledgerTable(ledger(local.client()))
                .updates(e -> List.of(ViewUpdate.add(Map.of("k", s("a")), "n", 1), ViewUpdate.add(Map.of("k", s("a")),
                        "m", 1)))
                .build();
        SinkResult r = sink.write(SinkBatch.of("v", 1, events));
        assertEquals(SinkResult.Status.FAILED_FATAL, r.status(0));
        assertEquals("the update function returned two updates of one view item for event " + events.get(0).eventId()
                + "; merge them into one expression", r.reason(0));
    }

    /** An event of a named shard: the poller's or KCL's. */
    private static ChangeEvent<Map<String, AttributeValue>> shardEvent(String shard, String id, String user, long seq) {
        return ChangeEvent.<Map<String, AttributeValue>>builder().operation(Operation.INSERT)
                .source(io.cdcfanout.api.Source.ofTable("Usage"))
                .position(new io.cdcfanout.api.Position(shard, Long.toString(seq)))
                .creationTime(Instant.parse("2024-05-01T10:00:00Z")).eventId("ev-" + id)
                .key(io.cdcfanout.api.EventKey.of("Usage", "id", id))
                .after(Map.of("id", s(id), "user", s(user), "at", n("1714557600"))).build();
    }

    /**
     * Regression: a view item gained a {@code cdc_seq_<shard>} attribute for every shard it ever saw, so a
     * lifetime counter fed from 600 shards held 603 attributes, on its way to the 400 KB item limit.
     */
    @Test
    void aViewItemHoldsTheProgressOfRecentShardsOnlyHoweverManyRollOver() {
        DynamoDbClient db = LocalDynamoDb.get().client();
        String view = LocalDynamoDb.uniqueName("LifetimeView");
        LocalDynamoDb.createTable(db, view, StreamViewType.KEYS_ONLY, "user:S", "hour:S");
        io.cdcfanout.testkit.ManualClock clock = new io.cdcfanout.testkit.ManualClock();
        MaterializedViewSink<Map<String, AttributeValue>> sink = MaterializedViewSink
                .<Map<String, AttributeValue>>builder().client(db).table(view).clock(clock)
                .updates(MaterializedViewSinkTest::usage).build();
        int shards = 150;
        List<List<ChangeEvent<Map<String, AttributeValue>>>> batches = new ArrayList<>();
        long seq = 1_000;
        int most = 0;
        for (int i = 0; i < shards; i++) {
            // A shard rolls over every 4 hours; each one's sequence numbers go on from its parent's.
            String shard = String.format("shardId-%020d-%08x", i, i);
            List<ChangeEvent<Map<String, AttributeValue>>> batch = List.of(shardEvent(shard, i + "a", "u1", seq++),
                    shardEvent(shard, i + "b", "u1", seq++));
            batches.add(batch);
            assertTrue(sink.write(SinkBatch.of("usage", 1, batch)).allDelivered());
            if (i > 0) { // a replay of the previous shard's batch changes nothing
                SinkResult replay = sink.write(SinkBatch.of("usage", 2, batches.get(i - 1)));
                assertEquals(0L, replay.counters().get("dynamodb.updates"), "shard " + i);
            }
            Map<String, AttributeValue> item = db.scan(r -> r.tableName(view)).items().get(0);
            most = Math.max(most, (int) item.keySet().stream()
                    .filter(a -> a.startsWith(MaterializedViewSink.PROGRESS_PREFIX)).count());
            clock.advance(Duration.ofHours(4));
        }
        assertEquals(Map.of("u1", 2 * shards), counts(db, view), "the count is exact");
        long retained = MaterializedViewSink.DEFAULT_LEDGER_RETENTION_HOURS / 4;
        assertTrue(most <= retained + 2, "at most the shards of the last " + retained * 4 + " hours, plus the "
                + "newest: " + most);
    }

    private static ChangeEvent<Map<String, AttributeValue>> lambdaEvent(String id, String user, String seq) {
        return ChangeEvent.<Map<String, AttributeValue>>builder().operation(Operation.INSERT)
                .source(io.cdcfanout.api.Source.ofTable("Usage"))
                .position(new io.cdcfanout.api.Position(StreamRecords.UNKNOWN_SHARD, seq))
                .creationTime(Instant.parse("2024-05-01T10:00:00Z")).eventId("ev-" + id)
                .key(io.cdcfanout.api.EventKey.of("Usage", "id", id))
                .after(Map.of("id", s(id), "user", s(user), "at", n("1714557600"))).build();
    }

    private static Map<String, Integer> counts(DynamoDbClient db, String view) {
        Map<String, Integer> counted = new HashMap<>();
        db.scanPaginator(r -> r.tableName(view)).items().forEach(item ->
                counted.put(item.get("user").s(), Integer.parseInt(item.get("count").n())));
        return counted;
    }

    /**
     * Regression: on the Lambda path every event had the shard {@code unknown-shard}, so all shards shared
     * one progress attribute; shard B's lower sequence numbers looked applied and the count was 3, not 5.
     */
    @Test
    void twoShardsWithInterleavedSequenceNumbersThroughTwoHandlersCountEveryEventOnceAndReplaysNothing() {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client();
        String view = LocalDynamoDb.uniqueName("LambdaView");
        LocalDynamoDb.createTable(db, view, StreamViewType.KEYS_ONLY, "user:S", "hour:S");
        String ledger = ledger(db);
        // Shard A: 100, 300, 500; shard B: 200, 400 - one user, one hour, so one view item.
        List<ChangeEvent<Map<String, AttributeValue>>> shardA = List.of(lambdaEvent("a1", "u", "100"),
                lambdaEvent("a2", "u", "300"), lambdaEvent("a3", "u", "500"));
        List<ChangeEvent<Map<String, AttributeValue>>> shardB = List.of(lambdaEvent("b1", "u", "200"),
                lambdaEvent("b2", "u", "400"));
        MaterializedViewSink.Builder<Map<String, AttributeValue>> builder = MaterializedViewSink
                .<Map<String, AttributeValue>>builder().client(db).table(view).ledgerTable(ledger)
                .updates(MaterializedViewSinkTest::usage);
        MaterializedViewSink<Map<String, AttributeValue>> containerA = builder.build();
        MaterializedViewSink<Map<String, AttributeValue>> containerB = builder.build();
        assertTrue(containerA.write(SinkBatch.of("usage", 1, shardA)).allDelivered());
        assertTrue(containerB.write(SinkBatch.of("usage", 1, shardB)).allDelivered());
        assertEquals(Map.of("u", 5), counts(db, view));
        // The event source mapping retries each batch (on the other container, say): nothing changes.
        SinkResult replayA = containerB.write(SinkBatch.of("usage", 1, shardA));
        SinkResult replayB = containerA.write(SinkBatch.of("usage", 1, shardB));
        assertTrue(replayA.allDelivered() && replayB.allDelivered());
        assertEquals(0L, replayA.counters().get("dynamodb.updates") + replayB.counters().get("dynamodb.updates"));
        assertEquals(Map.of("u", 5), counts(db, view));
    }

    /** Batches of one shard run at once (ParallelizationFactor), each with its own keys, then replay. */
    @Test
    void concurrentBatchesOfOneShardCountEveryEventOnceAndTheirReplaysNothing() throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client();
        String view = LocalDynamoDb.uniqueName("ParallelView");
        LocalDynamoDb.createTable(db, view, StreamViewType.KEYS_ONLY, "user:S", "hour:S");
        String ledger = ledger(db);
        MaterializedViewSink<Map<String, AttributeValue>> sink = MaterializedViewSink
                .<Map<String, AttributeValue>>builder().client(db).table(view).ledgerTable(ledger)
                .updates(MaterializedViewSinkTest::usage).build();
        int lanes = 4;
        List<List<ChangeEvent<Map<String, AttributeValue>>>> batches = new java.util.ArrayList<>();
        for (int lane = 0; lane < lanes; lane++) {
            List<ChangeEvent<Map<String, AttributeValue>>> batch = new java.util.ArrayList<>();
            for (int i = 0; i < 25; i++) {
                // Interleaved sequence numbers across lanes, as the mapping splits one shard by key.
                batch.add(lambdaEvent("l" + lane + "-" + i, "u" + (i % 3), Integer.toString(1000 + i * lanes + lane)));
            }
            batches.add(batch);
        }
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(lanes);
        try {
            for (int round = 0; round < 2; round++) { // a run, then a replay of every batch, all at once
                List<java.util.concurrent.Future<SinkResult>> results = new java.util.ArrayList<>();
                for (List<ChangeEvent<Map<String, AttributeValue>>> batch : batches) {
                    results.add(pool.submit(() -> {
                        SinkResult r = sink.write(SinkBatch.of("usage", 1, batch));
                        for (int attempt = 2; !r.allDelivered() && attempt < 20; attempt++) {
                            r = sink.write(SinkBatch.of("usage", attempt, batch)); // transaction conflicts
                        }
                        return r;
                    }));
                }
                for (java.util.concurrent.Future<SinkResult> f : results) {
                    assertTrue(f.get().allDelivered(), f.get().toString());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        Map<String, Integer> expected = new HashMap<>();
        for (int i = 0; i < 25; i++) {
            expected.merge("u" + (i % 3), lanes, Integer::sum);
        }
        assertEquals(expected, counts(db, view));
    }

    @Test
    void anEventWithoutAShardIsRefusedWithoutALedgerAndTheReasonSaysWhy() {
        LocalDynamoDb local = LocalDynamoDb.get();
        String view = LocalDynamoDb.uniqueName("NoLedger");
        LocalDynamoDb.createTable(local.client(), view, StreamViewType.KEYS_ONLY, "user:S", "hour:S");
        MaterializedViewSink<Map<String, AttributeValue>> sink = MaterializedViewSink
                .<Map<String, AttributeValue>>builder().client(local.client()).table(view)
                .updates(MaterializedViewSinkTest::usage).build();
        SinkResult r = sink.write(SinkBatch.of("usage", 1, List.of(lambdaEvent("x", "u", "5"))));
        assertEquals(SinkResult.Status.FAILED_FATAL, r.status(0));
        assertEquals("event ev-x names no shard (a Lambda batch): applying it exactly once needs the applied ledger; "
                + "set ledgerTable", r.reason(0));
    }

    /** A view item's updates in one call combine into one transaction, and a partial replay stays exact. */
    @Test
    void updatesOfOneViewItemCombineAndAPartialReplayIsAppliedExactly() {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client();
        String view = LocalDynamoDb.uniqueName("CombinedView");
        LocalDynamoDb.createTable(db, view, StreamViewType.KEYS_ONLY, "user:S", "hour:S");
        MaterializedViewSink<Map<String, AttributeValue>> sink = MaterializedViewSink
                .<Map<String, AttributeValue>>builder().client(db).table(view).ledgerTable(ledger(db))
                .updates(MaterializedViewSinkTest::usage).build();
        List<ChangeEvent<Map<String, AttributeValue>>> events = new java.util.ArrayList<>();
        for (int i = 0; i < 500; i++) {
            events.add(lambdaEvent("c" + i, "u" + (i % 50), Integer.toString(1000 + i)));
        }
        SinkResult first = sink.write(SinkBatch.of("usage", 1, events.subList(0, 250)));
        assertTrue(first.allDelivered(), first.toString());
        assertEquals(50L, first.counters().get("dynamodb.transactions"), "one transaction per view item");
        // A retry of the whole batch after the first half was applied: the first half is skipped exactly.
        SinkResult all = sink.write(SinkBatch.of("usage", 2, events));
        assertTrue(all.allDelivered(), all.toString());
        assertEquals(250L, all.counters().get("dynamodb.updates"));
        assertEquals(250L, all.counters().get("dynamodb.replayed"));
        Map<String, Integer> expected = new HashMap<>();
        for (int u = 0; u < 50; u++) {
            expected.put("u" + u, 10);
        }
        assertEquals(expected, counts(db, view));
    }

    /**
     * Regression: the demo reused one view sink across three pipelines, which worked only because its
     * thread pool quietly started again after close. A closed sink now refuses, naming itself.
     */
    @Test
    void aSinkUsedAgainAfterCloseRefusesWithAClearError() {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client();
        String view = LocalDynamoDb.uniqueName("ReusedView");
        LocalDynamoDb.createTable(db, view, StreamViewType.KEYS_ONLY, "user:S", "hour:S");
        MaterializedViewSink<Map<String, AttributeValue>> sink = MaterializedViewSink
                .<Map<String, AttributeValue>>builder().client(db).table(view).ledgerTable(ledger(db))
                .updates(MaterializedViewSinkTest::usage).build();
        assertTrue(sink.write(SinkBatch.of("usage", 1, List.of(lambdaEvent("a", "u1", "1"),
                lambdaEvent("b", "u2", "2")))).allDelivered());
        sink.close();
        io.cdcfanout.api.sink.SinkUnavailableException refused = org.junit.jupiter.api.Assertions.assertThrows(
                io.cdcfanout.api.sink.SinkUnavailableException.class, () -> sink.write(SinkBatch.of("usage", 1,
                        List.of(lambdaEvent("c", "u1", "3")))));
        assertEquals("the view sink of table '" + view + "' is closed: a pipeline closes its sinks when it closes; "
                + "build a new sink for a new pipeline", refused.getMessage());
        assertEquals(Map.of("u1", 1, "u2", 1), counts(db, view));
    }

    @Test
    void aSnapshotEventIsRefusedWithTheReasonAndTheStreamEventsBesideItCount() {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client();
        String view = LocalDynamoDb.uniqueName("SnapshotView");
        LocalDynamoDb.createTable(db, view, StreamViewType.KEYS_ONLY, "user:S", "hour:S");
        ChangeEvent<Map<String, AttributeValue>> snapshot = lambdaEvent("s1", "u1", "1").toBuilder()
                .operation(Operation.SNAPSHOT).position(io.cdcfanout.api.Position.SNAPSHOT).eventId("snapshot-s1").build();
        MaterializedViewSink<Map<String, AttributeValue>> sink = MaterializedViewSink.<Map<String, AttributeValue>>builder()
                .client(db).table(view).ledgerTable(ledger(db)).updates(MaterializedViewSinkTest::usage).build();
        SinkResult r = sink.write(SinkBatch.of("v", 1, List.of(snapshot, lambdaEvent("e1", "u1", "100"))));
        assertEquals(SinkResult.Status.FAILED_FATAL, r.status(0));
        assertTrue(r.reason(0).startsWith("event snapshot-s1 is a SNAPSHOT: a materialized view does not take "
                + "snapshot events"), r.reason(0));
        assertEquals(SinkResult.Status.DELIVERED, r.status(1));
        assertEquals(Map.of("u1", 1), counts(db, view));
    }
}
