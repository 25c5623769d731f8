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
                .client(db).table(view).updates(MaterializedViewSinkTest::usage).build();

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
                .client(local.client()).table(view)
                .updates(e -> List.of(ViewUpdate.add(Map.of("k", s("a")), "n", 1), ViewUpdate.add(Map.of("k", s("a")),
                        "m", 1)))
                .build();
        SinkResult r = sink.write(SinkBatch.of("v", 1, events));
        assertEquals(SinkResult.Status.FAILED_FATAL, r.status(0));
        assertEquals("the update function returned two updates of one view item for event " + events.get(0).eventId()
                + "; merge them into one expression", r.reason(0));
    }
}
