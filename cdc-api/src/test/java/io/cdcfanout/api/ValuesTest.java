package io.cdcfanout.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ValuesTest {
    private static ChangeEvent.Builder<Map<String, Object>> event(Operation op) {
        return ChangeEvent.<Map<String, Object>>builder()
                .operation(op)
                .source(Source.ofTable("Customers"))
                .position(new Position("shard-1", "100"))
                .creationTime(Instant.parse("2026-01-01T00:00:00Z"))
                .eventId("e1")
                .key(EventKey.of("Customers", "id", "c1"));
    }

    @Test
    void sequenceNumbersCompareNumericallyBeyondLongRange() {
        String big = "49668042316438126434557418345983428466046541000000000000"; // 56 digits
        assertTrue(Position.compareSequenceNumbers("9", "10") < 0);
        assertTrue(Position.compareSequenceNumbers(big, "9" + big.substring(1)) < 0);
        assertEquals(0, Position.compareSequenceNumbers("007", "7"));
        assertEquals(new Position("s", "7"), new Position("s", "007"));
        assertTrue(new Position("s", "100").isAfter(new Position("s", "99")));
        List<Position> sorted = List.of(new Position("s", "10"), new Position("s", "9"), new Position("s", "100"))
                .stream().sorted().toList();
        assertEquals(List.of("9", "10", "100"), sorted.stream().map(Position::sequenceNumber).toList());
    }

    @Test
    void positionRejectsWhatIsNotADecimalNumber() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Position("s", "12a"));
        assertEquals("sequenceNumber must be a decimal number (was '12a')", e.getMessage());
        assertEquals("shardId must not be blank",
                assertThrows(IllegalArgumentException.class, () -> new Position(" ", "1")).getMessage());
        assertEquals("positions in different shards are not ordered (a and b)", assertThrows(
                IllegalArgumentException.class, () -> new Position("a", "1").isAfter(new Position("b", "1")))
                .getMessage());
    }

    @Test
    void keysCompareByValueAcrossNumberTypesAndBinaryContent() {
        assertEquals(EventKey.of("T", "n", 1), EventKey.of("T", "n", new BigDecimal("1.00")));
        assertEquals(EventKey.of("T", "n", 1).hashCode(), EventKey.of("T", "n", new BigDecimal("1.00")).hashCode());
        assertEquals(EventKey.of("T", "b", new byte[] {1, 2}), EventKey.of("T", "b", ByteBuffer.wrap(new byte[] {1, 2})));
        assertNotEquals(EventKey.of("T", "id", "1"), EventKey.of("T", "id", 1), "a string is not a number");
        assertNotEquals(EventKey.of("T", "id", "a"), EventKey.of("U", "id", "a"), "tables differ");
        assertEquals(EventKey.of("T", Map.of("pk", "a", "sk", 2)), EventKey.of("T", Map.of("sk", 2L, "pk", "a")));
        assertEquals(List.of("pk", "sk"), List.copyOf(EventKey.of("T", Map.of("sk", 2, "pk", "a")).values().keySet()));
    }

    @Test
    void keysNeverPrintTheirValues() {
        String text = EventKey.of("Customers", "email", "ada@example.com").toString();
        assertFalse(text.contains("ada"), text);
        assertEquals("EventKey[table=Customers, attributes=[email]]", text);
    }

    @Test
    void keyRejectsUnsupportedValueTypes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EventKey.of("T", "id", List.of(1)));
        assertTrue(e.getMessage().startsWith("key attribute 'id' must be a String, Number or byte[] (was "),
                e.getMessage());
        assertEquals("attributes must name at least one key attribute",
                assertThrows(IllegalArgumentException.class, () -> EventKey.of("T", Map.of())).getMessage());
    }

    @Test
    void mapRetypesImagesAndKeepsTheRawEvent() {
        ChangeEvent<Map<String, Object>> raw = event(Operation.MODIFY)
                .before(Map.of("id", "c1", "name", "Ada")).after(Map.of("id", "c1", "name", "Ada L."))
                .changedAttributes(Set.of("name")).build();
        ChangeEvent<String> names = raw.map(image -> (String) image.get("name"));
        assertEquals("Ada", names.before().orElseThrow());
        assertEquals("Ada L.", names.after().orElseThrow());
        assertSame(raw, names.raw());
        assertSame(raw, names.map(String::length).raw(), "raw survives repeated maps");
        assertSame(raw, raw.raw());
        assertEquals(Set.of("name"), names.changedAttributes().orElseThrow());
        assertEquals(raw.position(), names.position());
        ChangeEvent<String> edited = names.toBuilder().after("Countess").build();
        assertSame(raw, edited.raw());
    }

    @Test
    void mapperReturningNullIsAFatalErrorNamingTheImage() {
        ChangeEvent<Map<String, Object>> raw = event(Operation.INSERT).after(Map.of("id", "c1")).build();
        CdcException e = assertThrows(CdcException.class, () -> raw.map(image -> null));
        assertEquals("mapper returned null for the after image of event e1", e.getMessage());
        assertFalse(e.retryable());
    }

    @Test
    void imagesFollowTheOperation() {
        assertEquals("before must be absent for an INSERT (event e1)", assertThrows(IllegalArgumentException.class,
                () -> event(Operation.INSERT).before(Map.of()).build()).getMessage());
        assertEquals("after must be absent for a REMOVE (event e1)", assertThrows(IllegalArgumentException.class,
                () -> event(Operation.REMOVE).after(Map.of()).build()).getMessage());
        assertEquals("ttlExpiry is only possible for a REMOVE (was MODIFY, event e1)",
                assertThrows(IllegalArgumentException.class, () -> event(Operation.MODIFY).ttlExpiry(true).build())
                        .getMessage());
        assertEquals("eventId must not be null",
                assertThrows(NullPointerException.class, () -> event(Operation.INSERT).eventId(null).build())
                        .getMessage());
        assertEquals("sizeBytes must be at least 0 (was -1)", assertThrows(IllegalArgumentException.class,
                () -> event(Operation.INSERT).sizeBytes(-1).build()).getMessage());
    }

    @Test
    void absentImagesAreEmptyNotEmptyObjects() {
        ChangeEvent<Map<String, Object>> keysOnly = event(Operation.MODIFY).build();
        assertTrue(keysOnly.before().isEmpty());
        assertTrue(keysOnly.after().isEmpty());
        assertTrue(keysOnly.changedAttributes().isEmpty());
    }

    @Test
    void eventsNeverPrintTheirImages() {
        String text = event(Operation.INSERT).after(Map.of("id", "c1", "ssn", "123-45-6789")).build().toString();
        assertFalse(text.contains("123-45"), text);
        assertEquals("ChangeEvent[INSERT Customers shard-1/100 id=e1]", text);
    }

    @Test
    void exceptionsTellRetryableFromFatal() {
        assertTrue(CdcException.retryable("throttled", null).retryable());
        assertFalse(CdcException.fatal("no such table", null).retryable());
    }

    @Test
    void aSnapshotEventHasAnAfterImageOnlyAndTheSnapshotPosition() {
        ChangeEvent<Map<String, Object>> e = event(Operation.SNAPSHOT).position(Position.SNAPSHOT)
                .after(Map.of("id", "c1")).build();
        assertFalse(e.position().shardKnown(), "a snapshot's positions are not a shard's sequence");
        assertTrue(new Position("shard-1", "1").isAfter(new Position("shard-1", Position.SNAPSHOT.sequenceNumber())));
        IllegalArgumentException withBefore = assertThrows(IllegalArgumentException.class,
                () -> event(Operation.SNAPSHOT).position(Position.SNAPSHOT).before(Map.of("id", "c1")).build());
        assertEquals("before must be absent for a SNAPSHOT (event e1)", withBefore.getMessage());
        IllegalArgumentException elsewhere = assertThrows(IllegalArgumentException.class,
                () -> event(Operation.SNAPSHOT).after(Map.of("id", "c1")).build());
        assertEquals("position must be Position.SNAPSHOT for a SNAPSHOT (event e1 had shard-1/100)",
                elsewhere.getMessage());
        IllegalArgumentException reserved = assertThrows(IllegalArgumentException.class,
                () -> event(Operation.INSERT).position(new Position(Position.SNAPSHOT_SHARD, "5")).build());
        assertEquals("shard id 'snapshot' is reserved for SNAPSHOT events (event e1, operation INSERT)",
                reserved.getMessage());
    }
}
