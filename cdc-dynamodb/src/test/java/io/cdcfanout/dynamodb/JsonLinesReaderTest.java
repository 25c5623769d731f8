package io.cdcfanout.dynamodb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** DYNAMODB_JSON lines read back into the events they came from (dead letters, archives). */
class JsonLinesReaderTest {
    private static final JsonLinesSerializer TYPED = JsonLinesSerializer.of(JsonLinesSerializer.Format.DYNAMODB_JSON);

    private static String line(ChangeEvent<?> e) {
        return new String(TYPED.toBytes(e), StandardCharsets.UTF_8).strip();
    }

    @Test
    void everyKindOfEventRoundTrips() {
        Source source = new Source("Movies", "eu-west-1", "arn:aws:dynamodb:eu-west-1:1:table/Movies/stream/x");
        Map<String, Object> key = new LinkedHashMap<>();
        key.put("year", new BigDecimal("2013"));
        key.put("bin", ByteBuffer.wrap(new byte[] {1, 2}));
        Map<String, AttributeValue> before = Map.of("year", AttributeValue.fromN("2013"),
                "bin", AttributeValue.fromB(SdkBytes.fromByteArray(new byte[] {1, 2})),
                "tags", AttributeValue.fromSs(List.of("a", "b")),
                "info", AttributeValue.fromM(Map.of("rating", AttributeValue.fromN("8.1"),
                        "cast", AttributeValue.fromL(List.of(AttributeValue.fromS("x"), AttributeValue.fromNul(true))))));
        Map<String, AttributeValue> after = new java.util.HashMap<>(before);
        after.put("ok", AttributeValue.fromBool(true));
        for (Operation op : List.of(Operation.INSERT, Operation.MODIFY, Operation.REMOVE)) {
            ChangeEvent<Map<String, AttributeValue>> e = ChangeEvent.<Map<String, AttributeValue>>builder()
                    .operation(op).source(source).position(new Position("shardId-1", "00042"))
                    .creationTime(Instant.parse("2026-11-30T10:00:00Z")).eventId("ev-" + op)
                    .key(EventKey.of("Movies", key)).before(op == Operation.INSERT ? null : before)
                    .after(op == Operation.REMOVE ? null : after).ttlExpiry(op == Operation.REMOVE).build();
            ChangeEvent<Map<String, AttributeValue>> back = JsonLinesReader.read(line(e), source);
            assertEquals(e.operation(), back.operation());
            assertEquals(e.key(), back.key());
            assertEquals(e.before(), back.before());
            assertEquals(e.after(), back.after());
            assertEquals(e.position(), back.position());
            assertEquals(e.eventId(), back.eventId());
            assertEquals(e.creationTime(), back.creationTime());
            assertEquals(e.ttlExpiry(), back.ttlExpiry());
            assertEquals(source, back.source());
            assertEquals(line(e), line(back), "the same bytes again");
        }
    }

    @Test
    void aPlainLineOrABrokenOneIsRefusedWithTheRuleAndNoValue() {
        ChangeEvent<Map<String, AttributeValue>> e = ChangeEvent.<Map<String, AttributeValue>>builder()
                .operation(Operation.INSERT).source(Source.ofTable("Users")).position(new Position("s", "1"))
                .eventId("e1").key(EventKey.of("Users", "id", "secret-id"))
                .after(Map.of("id", AttributeValue.fromS("secret-id"))).build();
        String plain = new String(JsonLinesSerializer.plain().toBytes(e), StandardCharsets.UTF_8).strip();
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> JsonLinesReader.read(plain));
        assertTrue(refused.getMessage().startsWith("keys.id must be typed"), refused.getMessage());
        assertFalse(refused.getMessage().contains("secret-id"));
        assertEquals("eventId is missing", assertThrows(IllegalArgumentException.class,
                () -> JsonLinesReader.read(line(e).replace("\"eventId\"", "\"other\""))).getMessage());
        assertEquals("op must be INSERT, MODIFY, REMOVE or SNAPSHOT", assertThrows(IllegalArgumentException.class,
                () -> JsonLinesReader.read(line(e).replace("\"INSERT\"", "\"UPSERT\""))).getMessage());
    }
}
