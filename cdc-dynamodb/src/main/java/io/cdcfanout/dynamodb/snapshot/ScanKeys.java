package io.cdcfanout.dynamodb.snapshot;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** A Scan's LastEvaluatedKey as checkpoint text and back: {"name":{"S"|"N"|"B":"value"}}, B in base64. */
final class ScanKeys {
    private static final JsonFactory JSON = new JsonFactory();

    private ScanKeys() {
    }

    static String encode(Map<String, AttributeValue> key) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            for (Map.Entry<String, AttributeValue> e : key.entrySet()) {
                AttributeValue v = e.getValue();
                g.writeObjectFieldStart(e.getKey());
                if (v.s() != null) {
                    g.writeStringField("S", v.s());
                } else if (v.n() != null) {
                    g.writeStringField("N", v.n());
                } else if (v.b() != null) {
                    g.writeStringField("B", Base64.getEncoder().encodeToString(v.b().asByteArray()));
                } else {
                    throw new IllegalArgumentException("key attribute '" + e.getKey() + "' must be of type S, N or B");
                }
                g.writeEndObject();
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /** @throws IllegalArgumentException if {@code text} is not what {@link #encode} writes */
    static Map<String, AttributeValue> decode(String text) {
        Map<String, AttributeValue> key = new LinkedHashMap<>();
        try (JsonParser p = JSON.createParser(text)) {
            expect(p.nextToken() == JsonToken.START_OBJECT);
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                expect(p.nextToken() == JsonToken.START_OBJECT && p.nextToken() == JsonToken.FIELD_NAME);
                String type = p.currentName();
                expect(p.nextToken() == JsonToken.VALUE_STRING);
                String value = p.getText();
                key.put(name, switch (type) {
                    case "S" -> AttributeValue.builder().s(value).build();
                    case "N" -> AttributeValue.builder().n(value).build();
                    case "B" -> AttributeValue.builder().b(SdkBytes.fromByteArray(Base64.getDecoder().decode(value))).build();
                    default -> throw new IllegalArgumentException("a resume key's type must be S, N or B");
                });
                expect(p.nextToken() == JsonToken.END_OBJECT);
            }
            expect(p.currentToken() == JsonToken.END_OBJECT && p.nextToken() == null);
        } catch (IOException e) {
            throw new IllegalArgumentException("a snapshot checkpoint is not a resume key written by this library", e);
        }
        return key;
    }

    private static void expect(boolean ok) {
        if (!ok) {
            throw new IllegalArgumentException("a snapshot checkpoint is not a resume key written by this library");
        }
    }
}
