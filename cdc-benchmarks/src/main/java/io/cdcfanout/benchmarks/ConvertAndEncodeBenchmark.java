package io.cdcfanout.benchmarks;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Source;
import io.cdcfanout.dynamodb.DynamoDbImages;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.dynamodb.StreamRecords;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.enhanced.dynamodb.AttributeConverterProvider;
import software.amazon.awssdk.enhanced.dynamodb.TableSchema;
import software.amazon.awssdk.enhanced.dynamodb.document.EnhancedDocument;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.Record;

/**
 * A stream {@link Record} to JSON Lines bytes, per event: the library (raw, and typed through a
 * {@code TableSchema}), the straightforward way ({@code EnhancedDocument} JSON for each image, in an
 * envelope document), and the limit (jackson-core writing the same bytes from values extracted
 * beforehand). Each benchmark returns the bytes' length, so nothing is optimized away.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ConvertAndEncodeBenchmark {
    private static final Source SOURCE = StreamRecords.sourceOf(
            "arn:aws:dynamodb:eu-west-1:111122223333:table/Invoices/stream/2026-11-24T00:00:00.000");
    private static final String SHARD = "shardId-00000001764000000000-0f1e2d3c";
    private static final JsonFactory JSON = new JsonFactory();

    @Param({"SMALL", "MEDIUM", "LARGE"})
    public Items.Size size;

    private Record record;
    private final JsonLinesSerializer jsonLines = JsonLinesSerializer.plain();
    private final Function<ChangeEvent<Map<String, AttributeValue>>, ChangeEvent<Invoice>> typed =
            DynamoDbImages.typed(TableSchema.fromBean(Invoice.class));
    private final ByteArrayOutputStream out = new ByteArrayOutputStream(64 * 1024);

    // The limit's input: the envelope's values, extracted once.
    private Object keys;
    private Object before;
    private Object after;
    private String op;
    private String time;
    private String seq;
    private String eventId;

    @Setup
    public void setUp() throws IOException {
        record = Items.record(size, 1);
        op = record.eventNameAsString();
        time = record.dynamodb().approximateCreationDateTime().toString();
        seq = record.dynamodb().sequenceNumber();
        eventId = record.eventID();
        keys = extract(AttributeValue.fromM(record.dynamodb().keys()));
        before = extract(AttributeValue.fromM(record.dynamodb().oldImage()));
        after = extract(AttributeValue.fromM(record.dynamodb().newImage()));
        byte[] library = bytes(library());
        byte[] limit = bytes(limit());
        if (!Arrays.equals(library, limit)) {
            throw new IllegalStateException("the limit writes other bytes than the library:\n"
                    + new String(library, StandardCharsets.UTF_8) + "\n" + new String(limit, StandardCharsets.UTF_8));
        }
    }

    private byte[] bytes(int length) {
        return Arrays.copyOf(out.toByteArray(), length);
    }

    /** The library: map the record to an event, then write it with the JSON Lines serializer. */
    @Benchmark
    public int library() throws IOException {
        ChangeEvent<Map<String, AttributeValue>> event = StreamRecords.toEvent(record, SOURCE, SHARD);
        out.reset();
        jsonLines.write(event, out);
        return out.size();
    }

    /** The library with a typed route: the images are also mapped to {@link Invoice} beans. */
    @Benchmark
    public int libraryTyped() throws IOException {
        ChangeEvent<Invoice> event = typed.apply(StreamRecords.toEvent(record, SOURCE, SHARD));
        out.reset();
        jsonLines.write(event, out);
        return out.size() + (event.after().orElseThrow().getAmount() == null ? 1 : 0);
    }

    /** The straightforward way: the enhanced client's documents turned into JSON, in an envelope document. */
    @Benchmark
    public int straightforward() {
        var d = record.dynamodb();
        String json = EnhancedDocument.builder()
                .attributeConverterProviders(AttributeConverterProvider.defaultProvider())
                .putString("op", record.eventNameAsString())
                .putString("table", SOURCE.table())
                .putJson("keys", EnhancedDocument.fromAttributeValueMap(d.keys()).toJson())
                .putJson("before", EnhancedDocument.fromAttributeValueMap(d.oldImage()).toJson())
                .putJson("after", EnhancedDocument.fromAttributeValueMap(d.newImage()).toJson())
                .putString("time", d.approximateCreationDateTime().toString())
                .putJson("position", "{\"shard\":\"" + SHARD + "\",\"seq\":\"" + d.sequenceNumber() + "\"}")
                .putString("eventId", record.eventID())
                .putBoolean("ttl", false)
                .build().toJson();
        byte[] bytes = (json + "\n").getBytes(StandardCharsets.UTF_8);
        return bytes.length;
    }

    /** The limit: jackson-core writes the same bytes as the library from values extracted beforehand. */
    @Benchmark
    public int limit() throws IOException {
        out.reset();
        try (JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
            g.writeStartObject();
            g.writeStringField("op", op);
            g.writeStringField("table", SOURCE.table());
            g.writeFieldName("keys");
            write(g, keys);
            g.writeFieldName("before");
            write(g, before);
            g.writeFieldName("after");
            write(g, after);
            g.writeStringField("time", time);
            g.writeObjectFieldStart("position");
            g.writeStringField("shard", SHARD);
            g.writeStringField("seq", seq);
            g.writeEndObject();
            g.writeStringField("eventId", eventId);
            g.writeBooleanField("ttl", false);
            g.writeEndObject();
        }
        out.write('\n');
        return out.size();
    }

    /** A number kept as its exact literal. */
    private record Num(String literal) {
    }

    /** Plain Java values in JSON Lines' order: sorted maps, sets as sorted arrays, binary as bytes. */
    private static Object extract(AttributeValue v) {
        return switch (v.type()) {
            case S -> v.s();
            case N -> new Num(v.n());
            case B -> v.b().asByteArray();
            case BOOL -> v.bool();
            case NUL -> null;
            case SS -> new ArrayList<>(v.ss());
            case NS -> v.ns().stream().map(Num::new).toList();
            case BS -> v.bs().stream().map(SdkBytes::asByteArray).toList();
            case L -> v.l().stream().map(ConvertAndEncodeBenchmark::extract).toList();
            case M -> {
                TreeMap<String, Object> m = new TreeMap<>();
                v.m().forEach((k, x) -> m.put(k, extract(x)));
                yield m;
            }
            default -> throw new IllegalArgumentException(v.type().toString());
        };
    }

    private static void write(JsonGenerator g, Object v) throws IOException {
        if (v == null) {
            g.writeNull();
        } else if (v instanceof String s) {
            g.writeString(s);
        } else if (v instanceof Num n) {
            g.writeNumber(n.literal());
        } else if (v instanceof Boolean b) {
            g.writeBoolean(b);
        } else if (v instanceof byte[] b) {
            g.writeBinary(b);
        } else if (v instanceof List<?> l) {
            g.writeStartArray();
            for (Object x : l) {
                write(g, x);
            }
            g.writeEndArray();
        } else {
            g.writeStartObject();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                g.writeFieldName((String) e.getKey());
                write(g, e.getValue());
            }
            g.writeEndObject();
        }
    }
}
