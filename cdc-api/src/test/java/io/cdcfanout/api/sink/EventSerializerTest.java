package io.cdcfanout.api.sink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class EventSerializerTest {
    private static final ChangeEvent<String> EVENT = ChangeEvent.<String>builder().operation(Operation.INSERT)
            .source(Source.ofTable("T")).position(new Position("s", "1")).creationTime(Instant.EPOCH)
            .eventId("e1").key(EventKey.of("T", "id", "a")).after("x").build();

    @Test
    void toBytesIsOneCompleteRecordAndTheDefaultsDescribeJsonLines() {
        EventSerializer ids = (event, out) -> out.write(("{\"id\":\"" + event.eventId() + "\"}\n")
                .getBytes(StandardCharsets.UTF_8));
        assertArrayEquals("{\"id\":\"e1\"}\n".getBytes(StandardCharsets.UTF_8), ids.toBytes(EVENT));
        assertEquals("application/x-ndjson", ids.contentType());
        assertEquals("jsonl", ids.fileExtension());
    }

    @Test
    void anIoFailureNamesTheEvent() {
        EventSerializer broken = (event, out) -> {
            throw new IOException("disk full");
        };
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> broken.toBytes(EVENT));
        assertEquals("serializing event e1 failed", e.getMessage());
    }
}
