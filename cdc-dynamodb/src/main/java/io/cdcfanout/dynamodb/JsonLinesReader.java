package io.cdcfanout.dynamodb;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.dynamodb.internal.AttributeValues;
import io.cdcfanout.dynamodb.internal.DynamoDbJson;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Reads a line that {@link JsonLinesSerializer} wrote in {@link JsonLinesSerializer.Format#DYNAMODB_JSON}
 * back into the event: operation, key, images, time, position, event id, TTL flag and defect. The
 * source is the line's table, or the one given. Lines in the {@code PLAIN} format lose DynamoDB types
 * (a number and a string of digits look alike), so they are refused. Thread-safe.
 */
public final class JsonLinesReader {
    private static final JsonFactory JSON = new JsonFactory();

    private JsonLinesReader() {
    }

    /**
     * The event of {@code line}, its source being the line's table.
     *
     * @throws IllegalArgumentException naming the field and the rule (never a value) if the line is not
     *     such a line
     */
    public static ChangeEvent<Map<String, AttributeValue>> read(String line) {
        return read(line, null);
    }

    /** The event of {@code line} with {@code source} (when not null) in place of the line's table. */
    public static ChangeEvent<Map<String, AttributeValue>> read(String line, Source source) {
        Objects.requireNonNull(line, "line must not be null");
        try (JsonParser p = JSON.createParser(line)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException("a JSON Lines event must be a JSON object");
            }
            String op = null;
            String table = null;
            Map<String, Object> keys = null;
            Map<String, AttributeValue> before = null;
            Map<String, AttributeValue> after = null;
            Instant time = null;
            String shard = null;
            String seq = null;
            String eventId = null;
            boolean ttl = false;
            String defect = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                switch (field) {
                    case "op" -> op = text(p, t, "op");
                    case "table" -> table = text(p, t, "table");
                    case "keys" -> keys = keys(p, t);
                    case "before" -> before = DynamoDbJson.map(p, "before");
                    case "after" -> after = DynamoDbJson.map(p, "after");
                    case "time" -> time = t == JsonToken.VALUE_NULL ? null : instant(text(p, t, "time"));
                    case "position" -> {
                        if (t != JsonToken.START_OBJECT) {
                            throw new IllegalArgumentException("position must be an object with shard and seq");
                        }
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String name = p.currentName();
                            JsonToken v = p.nextToken();
                            if (name.equals("shard")) {
                                shard = text(p, v, "position.shard");
                            } else if (name.equals("seq")) {
                                seq = text(p, v, "position.seq");
                            } else {
                                p.skipChildren();
                            }
                        }
                    }
                    case "eventId" -> eventId = text(p, t, "eventId");
                    case "ttl" -> ttl = t == JsonToken.VALUE_TRUE;
                    case "defect" -> defect = text(p, t, "defect");
                    default -> p.skipChildren();
                }
            }
            require(op, "op");
            require(table, "table");
            require(keys, "keys");
            require(shard, "position.shard");
            require(seq, "position.seq");
            require(eventId, "eventId");
            Operation operation;
            try {
                operation = Operation.valueOf(op);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("op must be INSERT, MODIFY, REMOVE or SNAPSHOT");
            }
            Source src = source != null ? source : Source.ofTable(table);
            ChangeEvent.Builder<Map<String, AttributeValue>> b = ChangeEvent.<Map<String, AttributeValue>>builder()
                    .operation(operation).source(src).position(new Position(shard, seq)).eventId(eventId)
                    .key(EventKey.of(table, keys)).before(before).after(after).ttlExpiry(ttl).defect(defect)
                    .sizeBytes((before == null ? 0 : AttributeValues.size(before))
                            + (after == null ? 0 : AttributeValues.size(after)));
            if (time != null) {
                b.creationTime(time);
            }
            return b.build();
        } catch (DynamoDbJson.Bad e) {
            throw new IllegalArgumentException(e.getMessage());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("the line is not valid JSON (at column "
                    + e.getLocation().getColumnNr() + ")");
        } catch (IOException e) {
            throw new IllegalArgumentException("the line could not be read: " + e.getClass().getSimpleName());
        }
    }

    private static Map<String, Object> keys(JsonParser p, JsonToken t) throws IOException, DynamoDbJson.Bad {
        if (t != JsonToken.START_OBJECT) {
            throw new IllegalArgumentException("keys must be an object");
        }
        Map<String, Object> keys = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            if (v != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException("keys." + name + " must be typed, {\"S\": ...}, {\"N\": ...} or "
                        + "{\"B\": ...}: the line is in the PLAIN format, which loses DynamoDB types; write DYNAMODB_JSON");
            }
            AttributeValue av = DynamoDbJson.value(p, "keys." + name);
            Object value = switch (av.type()) {
                case S -> av.s();
                case N -> new BigDecimal(av.n());
                case B -> ByteBuffer.wrap(av.b().asByteArray()).asReadOnlyBuffer();
                default -> throw new IllegalArgumentException("keys." + name + " must be of type S, N or B");
            };
            keys.put(name, value);
        }
        return keys;
    }

    private static String text(JsonParser p, JsonToken t, String field) throws IOException {
        if (t != JsonToken.VALUE_STRING) {
            throw new IllegalArgumentException(field + " must be a string");
        }
        return p.getText();
    }

    private static Instant instant(String text) {
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("time must be an ISO-8601 instant");
        }
    }

    private static void require(Object value, String field) {
        if (value == null) {
            throw new IllegalArgumentException(field + " is missing");
        }
    }
}
