package io.cdcfanout.dynamodb.sink;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.snapshot.SnapshotEvents;
import io.cdcfanout.local.LocalDynamoDb;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * A view across a backfill ({@code acceptSnapshots}): team sizes and score totals over players, with a
 * snapshot of each item taken anywhere in its history and delivered anywhere among the stream's changes,
 * replays included. The view must equal the one computed from the final items.
 */
class ViewBackfillTest {
    private static final Source SOURCE = Source.ofTable("Players");

    /** The view as a user writes it: an INSERT adds the player to its team, a REMOVE takes it away. */
    static List<ViewUpdate> teams(ChangeEvent<? extends Map<String, AttributeValue>> e) {
        List<ViewUpdate> out = new ArrayList<>();
        e.before().ifPresent(b -> out.add(new ViewUpdate(Map.of("team", b.get("team")), "ADD #m :m, #s :s",
                Map.of("#m", "members", "#s", "score"), Map.of(":m", n("-1"), ":s", n("-" + b.get("score").n())))));
        e.after().ifPresent(a -> out.add(new ViewUpdate(Map.of("team", a.get("team")), "ADD #m :m, #s :s",
                Map.of("#m", "members", "#s", "score"), Map.of(":m", n("1"), ":s", n(a.get("score").n())))));
        return out;
    }

    private static Map<String, AttributeValue> player(String id, String team, int score) {
        return Map.of("id", s(id), "team", s(team), "score", n(Integer.toString(score)));
    }

    private static ChangeEvent<Map<String, AttributeValue>> change(String id, long seq, boolean lambda,
            Map<String, AttributeValue> before, Map<String, AttributeValue> after) {
        Operation op = before == null ? Operation.INSERT : after == null ? Operation.REMOVE : Operation.MODIFY;
        return ChangeEvent.<Map<String, AttributeValue>>builder().operation(op).source(SOURCE)
                .position(new Position(lambda ? Position.UNKNOWN_SHARD : "shardId-1", Long.toString(seq)))
                .creationTime(Instant.parse("2026-11-30T10:00:00Z")).eventId("ev-" + seq)
                .key(EventKey.of("Players", "id", id)).before(before).after(after).build();
    }

    private static ChangeEvent<Map<String, AttributeValue>> snapshot(Map<String, AttributeValue> item) {
        return SnapshotEvents.of("Players", List.of("id"), SOURCE, item, Instant.parse("2026-11-30T10:00:00Z"), "test");
    }

    private static Map<String, List<Long>> view(DynamoDbClient db, String view) {
        Map<String, List<Long>> out = new TreeMap<>();
        db.scanPaginator(r -> r.tableName(view).consistentRead(true)).items().forEach(item -> {
            long members = Long.parseLong(item.get("members").n());
            long score = Long.parseLong(item.get("score").n());
            if (members != 0 || score != 0) {
                out.put(item.get("team").s(), List.of(members, score));
            }
        });
        return out;
    }

    private static Map<String, List<Long>> expected(Map<String, Map<String, AttributeValue>> items) {
        Map<String, List<Long>> out = new TreeMap<>();
        for (Map<String, AttributeValue> item : items.values()) {
            out.merge(item.get("team").s(), List.of(1L, Long.parseLong(item.get("score").n())),
                    (a, b) -> List.of(a.get(0) + b.get(0), a.get(1) + b.get(1)));
        }
        out.values().removeIf(v -> v.get(0) == 0 && v.get(1) == 0);
        return out;
    }

    private MaterializedViewSink<Map<String, AttributeValue>> sink(DynamoDbClient db, String view, String ledger) {
        return MaterializedViewSink.<Map<String, AttributeValue>>builder().client(db).table(view).ledgerTable(ledger)
                .acceptSnapshots(Duration.ofDays(7)).updates(ViewBackfillTest::teams).build();
    }

    @Test
    void theViewIsExactWhateverArrivesFirstTheSnapshotOrTheOverlapsChangesWithReplays() {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client();
        for (int seed = 1; seed <= 4; seed++) {
            Random random = new Random(seed);
            boolean lambda = seed % 2 == 0;
            String view = LocalDynamoDb.uniqueName("Teams");
            LocalDynamoDb.createTable(db, view, StreamViewType.KEYS_ONLY, "team:S");
            String ledger = MaterializedViewSinkTest.ledger(db);
            // Items before the stream, then each item's history of stream changes (deletes and re-inserts too).
            Map<String, Map<String, AttributeValue>> state = new HashMap<>();
            for (int i = 0; i < 30; i++) {
                if (random.nextInt(4) > 0) {
                    state.put("p" + i, player("p" + i, "t" + random.nextInt(4), random.nextInt(100)));
                }
            }
            Map<String, List<Map<String, AttributeValue>>> history = new HashMap<>(); // states, index 0: before the stream
            state.forEach((id, item) -> history.computeIfAbsent(id, k -> new ArrayList<>()).add(item));
            List<ChangeEvent<Map<String, AttributeValue>>> stream = new ArrayList<>();
            for (long seq = 100; seq < 260; seq++) {
                String id = "p" + random.nextInt(34);
                Map<String, AttributeValue> before = state.get(id);
                Map<String, AttributeValue> after = before != null && random.nextInt(4) == 0 ? null
                        : player(id, "t" + random.nextInt(4), random.nextInt(100));
                stream.add(change(id, seq, lambda, before, after));
                if (after == null) {
                    state.remove(id);
                } else {
                    state.put(id, after);
                }
                List<Map<String, AttributeValue>> h = history.computeIfAbsent(id, k -> new ArrayList<>());
                if (h.isEmpty() && before == null) {
                    h.add(null); // absent before the stream
                }
                h.add(after);
            }
            // The snapshot reads each item at some point of its history (absent then: no snapshot event).
            List<ChangeEvent<Map<String, AttributeValue>>> snapshots = new ArrayList<>();
            history.forEach((id, h) -> {
                Map<String, AttributeValue> seen = h.get(random.nextInt(h.size()));
                if (seen != null) {
                    snapshots.add(snapshot(seen));
                }
            });
            // Deliveries: the stream in order, snapshot events anywhere, replays of both, in batches.
            List<ChangeEvent<Map<String, AttributeValue>>> deliveries = new ArrayList<>(stream);
            for (ChangeEvent<Map<String, AttributeValue>> snap : snapshots) {
                deliveries.add(random.nextInt(deliveries.size() + 1), snap);
            }
            MaterializedViewSink<Map<String, AttributeValue>> sink = sink(db, view, ledger);
            int at = 0;
            while (at < deliveries.size()) {
                int to = Math.min(deliveries.size(), at + 1 + random.nextInt(12));
                List<ChangeEvent<Map<String, AttributeValue>>> batch = new ArrayList<>(deliveries.subList(at, to));
                if (random.nextInt(3) == 0) {
                    batch.addAll(0, deliveries.subList(Math.max(0, at - 8), at)); // a replay before the batch
                }
                SinkResult r = sink.write(SinkBatch.of("teams", 1, batch));
                assertTrue(r.allDelivered(), () -> "seed " + r);
                at = to;
            }
            // A full replay, in another sink instance (another container), changes nothing.
            SinkResult replay = sink(db, view, ledger).write(SinkBatch.of("teams", 1, deliveries));
            assertTrue(replay.allDelivered());
            assertEquals(0L, replay.counters().get("dynamodb.updates"));
            assertEquals(expected(state), view(db, view), "seed " + seed);
        }
    }

    /**
     * Lambda with a ParallelizationFactor and a retry in another container: the same deliveries go through
     * two sink instances at once, each retrying what failed as retryable (a moved ledger entry), until all
     * is delivered. The view counts every item once.
     */
    @Test
    void twoContainersApplyingTheSameBatchesAtOnceCountEachItemOnce() throws Exception {
        DynamoDbClient db = LocalDynamoDb.get().client();
        String view = LocalDynamoDb.uniqueName("Teams");
        LocalDynamoDb.createTable(db, view, StreamViewType.KEYS_ONLY, "team:S");
        String ledger = MaterializedViewSinkTest.ledger(db);
        Map<String, Map<String, AttributeValue>> state = new HashMap<>();
        List<ChangeEvent<Map<String, AttributeValue>>> deliveries = new ArrayList<>();
        Random random = new Random(9);
        for (int i = 0; i < 12; i++) {
            Map<String, AttributeValue> item = player("p" + i, "t" + (i % 3), i);
            state.put("p" + i, item);
            deliveries.add(snapshot(item));
        }
        for (long seq = 1; seq <= 60; seq++) {
            String id = "p" + random.nextInt(14);
            Map<String, AttributeValue> before = state.get(id);
            Map<String, AttributeValue> after = player(id, "t" + random.nextInt(3), random.nextInt(50));
            deliveries.add(change(id, seq, true, before, after));
            state.put(id, after);
        }
        java.util.concurrent.ExecutorService containers = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            List<java.util.concurrent.Future<?>> runs = new ArrayList<>();
            for (int c = 0; c < 2; c++) {
                MaterializedViewSink<Map<String, AttributeValue>> sink = sink(db, view, ledger);
                runs.add(containers.submit(() -> {
                    for (int from = 0; from < deliveries.size(); from += 6) {
                        List<ChangeEvent<Map<String, AttributeValue>>> batch =
                                deliveries.subList(from, Math.min(deliveries.size(), from + 6));
                        for (int attempt = 0; attempt < 50; attempt++) {
                            SinkResult r = sink.write(SinkBatch.of("teams", attempt + 1, batch));
                            if (r.allDelivered()) {
                                break;
                            }
                            for (int k = 0; k < batch.size(); k++) {
                                assertTrue(r.status(k) != SinkResult.Status.FAILED_FATAL, r.reason(k));
                            }
                        }
                    }
                    return null;
                }));
            }
            for (java.util.concurrent.Future<?> f : runs) {
                f.get();
            }
        } finally {
            containers.shutdownNow();
        }
        assertEquals(expected(state), view(db, view));
    }

    @Test
    void theBuilderAndTheSinkNameTheRule() {
        DynamoDbClient db = LocalDynamoDb.get().client();
        assertEquals("acceptSnapshots needs ledgerTable: the counted images are kept there",
                assertThrows(IllegalStateException.class, () -> MaterializedViewSink.<Map<String, AttributeValue>>builder()
                        .client(db).table("View").acceptSnapshots(Duration.ofDays(2)).updates(ViewBackfillTest::teams)
                        .build()).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MaterializedViewSink.builder()
                .acceptSnapshots(Duration.ofHours(24))).getMessage().startsWith("acceptSnapshots retention must be at "
                        + "least 25 hours"));
        String view = LocalDynamoDb.uniqueName("Teams");
        LocalDynamoDb.createTable(db, view, StreamViewType.KEYS_ONLY, "team:S");
        ChangeEvent<Map<String, AttributeValue>> e = change("a", 1, false, null, player("a", "t", 1));
        SinkResult r = sink(db, view, MaterializedViewSinkTest.ledger(db)).write(SinkBatch.of("teams", 1,
                List.of(e.map(m -> (Map<String, AttributeValue>) new HashMap<>(m)))));
        assertEquals(SinkResult.Status.FAILED_FATAL, r.status(0));
        assertTrue(r.reason(0).contains("carries mapped images"), r.reason(0));
    }
}
