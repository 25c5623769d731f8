package io.cdcfanout.dynamodb;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.local.LocalDynamoDb;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.Identity;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.awssdk.services.dynamodb.model.StreamRecord;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/** Stream records from DynamoDB Local mapped to change events, for each view type; and bad records. */
class StreamRecordsTest {
    private final LocalDynamoDb local = LocalDynamoDb.get();
    private final DynamoDbClient db = local.client();

    private List<ChangeEvent<Map<String, AttributeValue>>> eventsOf(String streamArn) {
        Source source = StreamRecords.sourceOf(streamArn);
        return StreamReader.readAll(local.streams(), streamArn).stream()
                .map(r -> StreamRecords.toEvent(r.record(), source, r.shardId())).toList();
    }

    @ParameterizedTest
    @EnumSource(value = StreamViewType.class, names = "UNKNOWN_TO_SDK_VERSION", mode = EnumSource.Mode.EXCLUDE)
    void insertModifyRemoveCarryTheImagesTheirViewTypeHas(StreamViewType view) {
        String table = LocalDynamoDb.uniqueName("Movies");
        String arn = local.createTable(table, view, "year:N", "title:S");
        Instant before = Instant.now().minusSeconds(5);
        db.putItem(r -> r.tableName(table).item(Map.of("year", n("2013"), "title", s("Rush"), "rating", n("8"))));
        db.putItem(r -> r.tableName(table).item(Map.of("year", n("2013"), "title", s("Rush"), "rating", n("9"),
                "plot", s("F1"))));
        db.deleteItem(r -> r.tableName(table).key(Map.of("year", n("2013"), "title", s("Rush"))));

        List<ChangeEvent<Map<String, AttributeValue>>> events = eventsOf(arn);
        assertEquals(List.of(Operation.INSERT, Operation.MODIFY, Operation.REMOVE),
                events.stream().map(ChangeEvent::operation).toList());
        boolean news = view == StreamViewType.NEW_IMAGE || view == StreamViewType.NEW_AND_OLD_IMAGES;
        boolean olds = view == StreamViewType.OLD_IMAGE || view == StreamViewType.NEW_AND_OLD_IMAGES;
        ChangeEvent<Map<String, AttributeValue>> insert = events.get(0);
        ChangeEvent<Map<String, AttributeValue>> modify = events.get(1);
        ChangeEvent<Map<String, AttributeValue>> remove = events.get(2);
        for (ChangeEvent<Map<String, AttributeValue>> e : events) {
            assertEquals(Optional.empty(), e.defect(), e.toString());
            assertEquals(table, e.source().table());
            assertEquals(arn.split(":")[3], e.source().region(), "the region comes from the stream ARN");
            assertEquals(arn, e.source().streamArn());
            assertEquals(Map.of("year", new BigDecimal("2013"), "title", "Rush"), e.key().values());
            // Streams report the creation time rounded down to the minute.
            assertFalse(e.creationTime().orElseThrow().isBefore(before.truncatedTo(ChronoUnit.MINUTES)), e.creationTime().orElseThrow().toString());
            assertFalse(e.creationTime().orElseThrow().isAfter(Instant.now()), e.creationTime().orElseThrow().toString());
            assertFalse(e.ttlExpiry());
            assertTrue(e.sizeBytes() > 0);
        }
        assertTrue(insert.position().compareTo(modify.position()) < 0);
        assertTrue(modify.position().compareTo(remove.position()) < 0);

        assertEquals(Optional.empty(), insert.before(), "an INSERT never has an old image");
        assertEquals(news, insert.after().isPresent());
        assertEquals(olds, modify.before().isPresent());
        assertEquals(news, modify.after().isPresent());
        assertEquals(olds, remove.before().isPresent());
        assertEquals(Optional.empty(), remove.after(), "a REMOVE never has a new image");
        if (news) {
            assertEquals(Map.of("year", n("2013"), "title", s("Rush"), "rating", n("9"), "plot", s("F1")),
                    modify.after().get());
            assertEquals(Optional.of(Set.of("year", "title", "rating")), insert.changedAttributes());
        }
        if (view == StreamViewType.NEW_AND_OLD_IMAGES) {
            assertEquals(Optional.of(Set.of("rating", "plot")), modify.changedAttributes());
        } else {
            assertEquals(Optional.empty(), modify.changedAttributes(), "unknown without both images");
        }
    }

    @Test
    void numbersSetsBinaryAndNestedValuesAreExact() {
        String table = LocalDynamoDb.uniqueName("Exact");
        String arn = local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        Map<String, AttributeValue> item = Map.of(
                "id", s("a"),
                "big", n("12345678901234567890123456789012345678"),
                "small", n("0.000000000000000000000000000000000000012345"),
                "neg", n("-98765432109876543210.5"),
                "ns", AttributeValue.builder().ns("1", "2.5", "99999999999999999999").build(),
                "ss", AttributeValue.builder().ss("x", "y").build(),
                "bin", AttributeValue.builder().b(SdkBytes.fromByteArray(new byte[] {0, 1, -1, 127})).build(),
                "bs", AttributeValue.builder().bs(SdkBytes.fromUtf8String("hi")).build(),
                "nested", AttributeValue.builder().m(Map.of(
                        "list", AttributeValue.builder().l(n("1"), s("two"), AttributeValue.builder().bool(true).build(),
                                AttributeValue.builder().nul(true).build()).build())).build());
        db.putItem(r -> r.tableName(table).item(item));

        ChangeEvent<Map<String, AttributeValue>> e = eventsOf(arn).get(0);
        assertEquals(item, e.after().orElseThrow(), "values come back as written");
        String line = new String(JsonLinesSerializer.plain().toBytes(e), StandardCharsets.UTF_8);
        assertTrue(line.endsWith("\n"));
        assertTrue(line.startsWith("{\"op\":\"INSERT\",\"table\":\"" + table + "\",\"keys\":{\"id\":\"a\"},\"after\":{"
                + "\"big\":12345678901234567890123456789012345678,\"bin\":\"AAH/fw==\",\"bs\":[\"aGk=\"],\"id\":\"a\","
                + "\"neg\":-98765432109876543210.5,\"nested\":{\"list\":[1,\"two\",true,null]},"
                + "\"ns\":["), line);
        assertTrue(line.contains("\"small\":" + item.get("small").n()), line);
        assertTrue(line.contains("\"ss\":[\"x\",\"y\"]}"), line);
        assertTrue(line.contains("\"position\":{\"shard\":\"" + e.position().shardId() + "\",\"seq\":\""
                + e.position().sequenceNumber() + "\"}"), line);
        assertFalse(line.contains("\"before\""), "an absent image is left out, not written as {}");

        String typed = new String(JsonLinesSerializer.of(JsonLinesSerializer.Format.DYNAMODB_JSON).toBytes(e),
                StandardCharsets.UTF_8);
        assertTrue(typed.contains("\"keys\":{\"id\":{\"S\":\"a\"}}"), typed);
        assertTrue(typed.contains("\"big\":{\"N\":\"12345678901234567890123456789012345678\"}"), typed);
        assertTrue(typed.contains("\"bin\":{\"B\":\"AAH/fw==\"}"), typed);
        assertTrue(typed.contains("\"nested\":{\"M\":{\"list\":{\"L\":[{\"N\":\"1\"},{\"S\":\"two\"},{\"BOOL\":true},"
                + "{\"NULL\":true}]}}}"), typed);
        assertEquals(line, new String(JsonLinesSerializer.plain().toBytes(e), StandardCharsets.UTF_8),
                "the same event gives the same bytes");
    }

    @Test
    void ttlExpiryIsARemoveFlaggedByTheServiceIdentity() throws Exception {
        String table = LocalDynamoDb.uniqueName("Sessions");
        String arn = local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        db.updateTimeToLive(r -> r.tableName(table).timeToLiveSpecification(t -> t.enabled(true).attributeName("exp")));
        long past = Instant.now().minus(Duration.ofHours(2)).getEpochSecond();
        db.putItem(r -> r.tableName(table).item(Map.of("id", s("gone"), "exp", n(Long.toString(past)))));
        db.putItem(r -> r.tableName(table).item(Map.of("id", s("user-deleted"))));
        db.deleteItem(r -> r.tableName(table).key(Map.of("id", s("user-deleted"))));

        // The poller hands over the records as DynamoDB Local's TTL sweeper produces them.
        List<ChangeEvent<Map<String, AttributeValue>>> events = new CopyOnWriteArrayList<>();
        CountDownLatch removes = new CountDownLatch(2);
        Sink<Map<String, AttributeValue>> collect = batch -> {
            for (ChangeEvent<? extends Map<String, AttributeValue>> e : batch.events()) {
                events.add(e.map(image -> image));
                if (e.operation() == Operation.REMOVE) {
                    removes.countDown();
                }
            }
            return SinkResult.allDelivered(batch.size());
        };
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("collect").sink(collect)
                        .buffer(BufferPolicy.builder().maxAge(Duration.ofMillis(10)).build()).build())
                .build();
                StreamPoller poller = StreamPoller.builder().streamsClient(local.streams()).streamArn(arn)
                        .pipeline(pipeline).pollInterval(Duration.ofMillis(50)).build().start()) {
            assertTrue(removes.await(50, TimeUnit.SECONDS), "DynamoDB Local never expired the item");
            assertTrue(poller.failure().isEmpty());
        }
        ChangeEvent<Map<String, AttributeValue>> expired = events.stream()
                .filter(e -> e.operation() == Operation.REMOVE && e.key().values().get("id").equals("gone"))
                .findFirst().orElseThrow();
        assertTrue(expired.ttlExpiry());
        assertTrue(expired.before().isPresent());
        ChangeEvent<Map<String, AttributeValue>> deleted = events.stream()
                .filter(e -> e.operation() == Operation.REMOVE && e.key().values().get("id").equals("user-deleted"))
                .findFirst().orElseThrow();
        assertFalse(deleted.ttlExpiry(), "a user's delete is not a TTL expiry");
    }

    // ------------------------------------------------------------------ bad records

    private static final Source SOURCE = StreamRecords.sourceOf(
            "arn:aws:dynamodb:eu-west-1:123456789012:table/Movies/stream/2024-01-01T00:00:00.000");

    private static Record.Builder record(String eventName, StreamViewType view) {
        return Record.builder().eventID("e1").eventName(eventName).dynamodb(StreamRecord.builder()
                .sequenceNumber("100").approximateCreationDateTime(Instant.parse("2024-01-01T00:00:00Z"))
                .streamViewType(view)
                .keys(Map.of("year", n("2013"), "title", s("Rush")))
                .newImage(Map.of("year", n("2013"), "title", s("Rush"))).build());
    }

    private static Record withoutKeys(Record r) {
        return r.toBuilder().dynamodb(r.dynamodb().toBuilder().keys(null).build()).build();
    }

    private static String defect(Record r) {
        return StreamRecords.toEvent(r, SOURCE, "shard-1").defect().orElse("(none)");
    }

    @Test
    void aSoundHandMadeRecordHasNoDefect() {
        assertEquals("(none)", defect(record("INSERT", StreamViewType.NEW_IMAGE).build()));
    }

    @Test
    void badRecordsBecomeDefectiveEventsThatNameTheFieldAndTheRule() {
        assertEquals("Keys is missing (a record must name its key attributes); the key shown is the event id",
                defect(withoutKeys(record("INSERT", StreamViewType.NEW_IMAGE).build())));
        Record noImage = Record.builder().eventID("e2").eventName("MODIFY").dynamodb(StreamRecord.builder()
                .sequenceNumber("101").approximateCreationDateTime(Instant.EPOCH)
                .streamViewType(StreamViewType.NEW_AND_OLD_IMAGES).keys(Map.of("year", n("1"))).build()).build();
        assertEquals("NewImage is missing, but a MODIFY on a NEW_AND_OLD_IMAGES stream must carry it; OldImage is "
                + "missing, but a MODIFY on a NEW_AND_OLD_IMAGES stream must carry it", defect(noImage));
        assertEquals("eventName must be INSERT, MODIFY or REMOVE (was 'UPSERT'); the operation shown is inferred from "
                + "the images present", defect(record("UPSERT", StreamViewType.NEW_IMAGE).build()));
        Record unknownType = record("INSERT", StreamViewType.NEW_IMAGE).dynamodb(StreamRecord.builder()
                .sequenceNumber("102").approximateCreationDateTime(Instant.EPOCH).streamViewType(StreamViewType.NEW_IMAGE)
                .keys(Map.of("year", n("1")))
                .newImage(Map.of("year", n("1"), "odd", AttributeValue.builder().build())).build()).build();
        assertEquals("NewImage attribute 'odd' has no type this library knows (expected one of S, N, B, SS, NS, BS, M, "
                + "L, NULL, BOOL)", defect(unknownType));
        Record badNumber = record("INSERT", StreamViewType.NEW_IMAGE).dynamodb(StreamRecord.builder()
                .sequenceNumber("103").approximateCreationDateTime(Instant.EPOCH).streamViewType(StreamViewType.NEW_IMAGE)
                .keys(Map.of("year", n("1")))
                .newImage(Map.of("year", n("1"), "m", AttributeValue.builder().m(Map.of("x", n("1,5"))).build()))
                .build()).build();
        assertEquals("NewImage attribute 'm.x' has an N value that is not a number (unexpected character at index 1)",
                defect(badNumber));
        Record ttlInsert = record("INSERT", StreamViewType.NEW_IMAGE)
                .userIdentity(Identity.builder().type("Service").principalId("dynamodb.amazonaws.com").build()).build();
        assertEquals("userIdentity names a TTL expiry, which only removes items (the event is INSERT)",
                defect(ttlInsert));
        Record noView = record("INSERT", null).build();
        assertEquals("StreamViewType must be KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES (was missing)",
                defect(noView));
    }

    @Test
    void aStreamArnNamesTheTableAndRegion() {
        assertEquals(new Source("Movies", "eu-west-1",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/Movies/stream/2024-01-01T00:00:00.000"), SOURCE);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StreamRecords.sourceOf("arn:aws:s3:::bucket"));
        assertEquals("streamArn must look like arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/stream/LABEL (was "
                + "'arn:aws:s3:::bucket')", e.getMessage());
    }
}
