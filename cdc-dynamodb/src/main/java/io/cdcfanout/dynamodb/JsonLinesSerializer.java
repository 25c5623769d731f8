package io.cdcfanout.dynamodb;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.StreamWriteFeature;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.sink.EventSerializer;
import io.cdcfanout.dynamodb.internal.AttributeValues;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Writes each event as one line of JSON, on jackson-core's streaming generator:
 *
 * <pre>{@code
 * {"op":"MODIFY","table":"Movies","keys":{"year":2013,"title":"Rush"},"before":{...},"after":{...},
 *  "time":"2024-05-01T12:00:00Z","position":{"shard":"shardId-0001","seq":"4000000000000000123"},
 *  "eventId":"e1","ttl":false}
 * }</pre>
 *
 * <p>Images come from {@link ChangeEvent#raw()}, so typed routes still archive full fidelity.
 * {@link Format#PLAIN} (the default) writes numbers as their exact decimal literals, sets as arrays
 * and binary as base64; {@link Format#DYNAMODB_JSON} writes typed values ({@code {"N":"2013"}}).
 * Attribute names are written in sorted order, so the same event always gives the same bytes. An
 * absent image is left out, never written as {@code {}}. Raw images may be
 * {@code Map<String, AttributeValue>} or plain Java maps of strings, numbers, booleans, byte
 * arrays, lists, sets and maps. Thread-safe.
 */
public final class JsonLinesSerializer implements EventSerializer {
    private volatile TimeText lastTime;

    /** How item images are written. */
    public enum Format {
        /** Plain JSON values: {@code {"year":2013,"tags":["a","b"]}}. */
        PLAIN,
        /** DynamoDB's typed JSON: {@code {"year":{"N":"2013"},"tags":{"SS":["a","b"]}}}. */
        DYNAMODB_JSON
    }

    // The caller owns the stream: closing a generator must neither close nor flush it.
    private static final JsonFactory JSON = JsonFactory.builder()
            .disable(StreamWriteFeature.AUTO_CLOSE_TARGET)
            .disable(StreamWriteFeature.FLUSH_PASSED_TO_STREAM)
            .build();

    private final Format format;

    private JsonLinesSerializer(Format format) {
        this.format = format;
    }

    /** Plain JSON images. */
    public static JsonLinesSerializer plain() {
        return new JsonLinesSerializer(Format.PLAIN);
    }

    /**
     * A serializer writing images in {@code format}.
     *
     * @throws NullPointerException if format is null
     */
    public static JsonLinesSerializer of(Format format) {
        return new JsonLinesSerializer(Objects.requireNonNull(format, "format must not be null"));
    }

    /** The image format. */
    public Format format() {
        return format;
    }

    /**
     * @throws IllegalArgumentException if an image holds a value of a type this serializer cannot
     *     write, naming the attribute
     */
    @Override
    public void write(ChangeEvent<?> event, OutputStream out) throws IOException {
        ChangeEvent<?> raw = event.raw();
        try (JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
            g.writeStartObject();
            g.writeStringField("op", raw.operation().name());
            g.writeStringField("table", raw.source().table());
            g.writeFieldName("keys");
            writeKey(g, raw.key());
            if (raw.before().isPresent()) {
                g.writeFieldName("before");
                writeImage(g, "before", raw.before().get());
            }
            if (raw.after().isPresent()) {
                g.writeFieldName("after");
                writeImage(g, "after", raw.after().get());
            }
            if (raw.creationTime().isPresent()) {
                g.writeStringField("time", timeText(raw.creationTime().get()));
            } else {
                g.writeNullField("time");
            }
            g.writeObjectFieldStart("position");
            g.writeStringField("shard", raw.position().shardId());
            g.writeStringField("seq", raw.position().sequenceNumber());
            g.writeEndObject();
            g.writeStringField("eventId", raw.eventId());
            g.writeBooleanField("ttl", raw.ttlExpiry());
            if (raw.defect().isPresent()) {
                g.writeStringField("defect", raw.defect().get());
            }
            g.writeEndObject();
        }
        out.write('\n');
    }

    /** A creation time and its ISO-8601 text. */
    private record TimeText(Instant at, String text) {
    }

    /**
     * The creation time as text. Events of a batch mostly share their (approximate) creation time, so
     * the last one is kept: formatting an Instant costs more than the rest of a small event's envelope.
     */
    private String timeText(Instant at) {
        TimeText last = lastTime;
        if (last != null && last.at.equals(at)) {
            return last.text;
        }
        String text = at.toString();
        lastTime = new TimeText(at, text);
        return text;
    }

    private void writeKey(JsonGenerator g, EventKey key) throws IOException {
        g.writeStartObject();
        for (Map.Entry<String, Object> e : key.values().entrySet()) {
            g.writeFieldName(e.getKey());
            Object v = e.getValue();
            if (format == Format.DYNAMODB_JSON) {
                g.writeStartObject();
                g.writeFieldName(v instanceof String ? "S" : v instanceof BigDecimal ? "N" : "B");
            }
            if (v instanceof String s) {
                g.writeString(s);
            } else if (v instanceof BigDecimal d) {
                if (format == Format.DYNAMODB_JSON) {
                    g.writeString(d.toString());
                } else {
                    g.writeNumber(d);
                }
            } else {
                ByteBuffer b = ((ByteBuffer) v).duplicate();
                byte[] bytes = new byte[b.remaining()];
                b.get(bytes);
                g.writeBinary(bytes);
            }
            if (format == Format.DYNAMODB_JSON) {
                g.writeEndObject();
            }
        }
        g.writeEndObject();
    }

    private void writeImage(JsonGenerator g, String name, Object image) throws IOException {
        try {
            writeValue(g, image);
        } catch (BadValue e) {
            throw new IllegalArgumentException("attribute '" + name + e.where + "' " + e.rule);
        }
    }

    /**
     * A value this serializer can't write. Its location is prepended segment by segment on the way out,
     * so writing a valid image builds no location strings at all.
     */
    private static final class BadValue extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final String rule;
        private String where = "";

        BadValue(String rule) {
            super(rule, null, false, false);
            this.rule = rule;
        }

        BadValue at(String segment) {
            where = segment + where;
            return this;
        }
    }

    private void writeValue(JsonGenerator g, Object v) throws IOException {
        if (v instanceof AttributeValue av) {
            if (format == Format.PLAIN) {
                writePlain(g, av);
            } else {
                writeTyped(g, av);
            }
        } else if (v instanceof Map<?, ?> m) {
            writeMap(g, m);
        } else {
            writeJava(g, v);
        }
    }

    private void writeMap(JsonGenerator g, Map<?, ?> m) throws IOException {
        g.writeStartObject();
        Object[] names = m.keySet().toArray();
        if (names.length > 1) {
            Arrays.sort(names);
        }
        for (Object name : names) {
            g.writeFieldName(name.toString());
            try {
                writeValue(g, m.get(name));
            } catch (BadValue e) {
                throw e.at("." + name);
            }
        }
        g.writeEndObject();
    }

    private static void writePlain(JsonGenerator g, AttributeValue v) throws IOException {
        switch (v.type()) {
            case S -> g.writeString(v.s());
            case N -> writeNumber(g, v.n());
            case B -> writeBinary(g, v.b());
            case BOOL -> g.writeBoolean(v.bool());
            case NUL -> g.writeNull();
            case SS -> {
                g.writeStartArray();
                for (String s : v.ss()) {
                    g.writeString(s);
                }
                g.writeEndArray();
            }
            case NS -> {
                g.writeStartArray();
                for (String n : v.ns()) {
                    writeNumber(g, n);
                }
                g.writeEndArray();
            }
            case BS -> {
                g.writeStartArray();
                for (SdkBytes b : v.bs()) {
                    writeBinary(g, b);
                }
                g.writeEndArray();
            }
            case L -> {
                g.writeStartArray();
                List<AttributeValue> l = v.l();
                for (int i = 0; i < l.size(); i++) {
                    try {
                        writePlain(g, l.get(i));
                    } catch (BadValue e) {
                        throw e.at("[" + i + "]");
                    }
                }
                g.writeEndArray();
            }
            case M -> {
                g.writeStartObject();
                Map<String, AttributeValue> m = v.m();
                for (String name : sortedNames(m)) {
                    g.writeFieldName(name);
                    try {
                        writePlain(g, m.get(name));
                    } catch (BadValue e) {
                        throw e.at("." + name);
                    }
                }
                g.writeEndObject();
            }
            default -> throw unknown();
        }
    }

    private static void writeTyped(JsonGenerator g, AttributeValue v) throws IOException {
        g.writeStartObject();
        switch (v.type()) {
            case S -> g.writeStringField("S", v.s());
            case N -> {
                checkNumber(v.n());
                g.writeStringField("N", v.n());
            }
            case B -> {
                g.writeFieldName("B");
                writeBinary(g, v.b());
            }
            case BOOL -> g.writeBooleanField("BOOL", v.bool());
            case NUL -> g.writeBooleanField("NULL", true);
            case SS -> writeStrings(g, "SS", v.ss());
            case NS -> {
                v.ns().forEach(JsonLinesSerializer::checkNumber);
                writeStrings(g, "NS", v.ns());
            }
            case BS -> {
                g.writeArrayFieldStart("BS");
                for (SdkBytes b : v.bs()) {
                    writeBinary(g, b);
                }
                g.writeEndArray();
            }
            case L -> {
                g.writeArrayFieldStart("L");
                List<AttributeValue> l = v.l();
                for (int i = 0; i < l.size(); i++) {
                    try {
                        writeTyped(g, l.get(i));
                    } catch (BadValue e) {
                        throw e.at("[" + i + "]");
                    }
                }
                g.writeEndArray();
            }
            case M -> {
                g.writeObjectFieldStart("M");
                Map<String, AttributeValue> m = v.m();
                for (String name : sortedNames(m)) {
                    g.writeFieldName(name);
                    try {
                        writeTyped(g, m.get(name));
                    } catch (BadValue e) {
                        throw e.at("." + name);
                    }
                }
                g.writeEndObject();
            }
            default -> throw unknown();
        }
        g.writeEndObject();
    }

    private void writeJava(JsonGenerator g, Object v) throws IOException {
        if (v == null) {
            g.writeNull();
        } else if (v instanceof String s) {
            g.writeString(s);
        } else if (v instanceof Boolean b) {
            g.writeBoolean(b);
        } else if (v instanceof BigDecimal d) {
            g.writeNumber(d);
        } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            g.writeNumber(((Number) v).longValue());
        } else if (v instanceof Number n) {
            g.writeNumber(new BigDecimal(n.toString()));
        } else if (v instanceof byte[] b) {
            g.writeBinary(b);
        } else if (v instanceof Collection<?> c) {
            Object[] items = c.toArray();
            if (c instanceof Set<?>) {
                Arrays.sort(items, (a, b) -> String.valueOf(a).compareTo(String.valueOf(b)));
            }
            g.writeStartArray();
            for (int i = 0; i < items.length; i++) {
                try {
                    writeValue(g, items[i]);
                } catch (BadValue e) {
                    throw e.at("[" + i + "]");
                }
            }
            g.writeEndArray();
        } else {
            throw new BadValue("is a " + v.getClass().getName()
                    + "; images may hold only strings, numbers, booleans, byte arrays, lists, sets, maps and "
                    + "AttributeValues");
        }
    }

    private static String[] sortedNames(Map<String, AttributeValue> m) {
        String[] names = m.keySet().toArray(new String[0]);
        if (names.length > 1) {
            Arrays.sort(names);
        }
        return names;
    }

    private static void writeStrings(JsonGenerator g, String field, List<String> values) throws IOException {
        g.writeArrayFieldStart(field);
        for (String s : values) {
            g.writeString(s);
        }
        g.writeEndArray();
    }

    private static void writeNumber(JsonGenerator g, String n) throws IOException {
        checkNumber(n);
        g.writeNumber(n);
    }

    private static void checkNumber(String n) {
        if (!AttributeValues.isNumber(n)) {
            throw new BadValue("holds an N value that is not a number");
        }
    }

    private static void writeBinary(JsonGenerator g, SdkBytes b) throws IOException {
        byte[] bytes = AttributeValues.bytes(b);
        g.writeBinary(bytes, 0, bytes.length);
    }

    private static BadValue unknown() {
        return new BadValue("has no type this serializer knows (expected one of S, N, B, SS, NS, BS, M, L, NULL, "
                + "BOOL)");
    }
}
