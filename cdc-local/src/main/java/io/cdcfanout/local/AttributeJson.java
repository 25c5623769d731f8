package io.cdcfanout.local;

import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** DynamoDB JSON for attribute values ({@code {"S":"..."}}), as the service writes it; and item sizes. */
final class AttributeJson {
    private AttributeJson() {
    }

    static void map(JsonGenerator g, Map<String, AttributeValue> m) throws IOException {
        g.writeStartObject();
        for (Map.Entry<String, AttributeValue> e : m.entrySet()) {
            g.writeFieldName(e.getKey());
            value(g, e.getValue());
        }
        g.writeEndObject();
    }

    static void value(JsonGenerator g, AttributeValue v) throws IOException {
        g.writeStartObject();
        switch (v.type()) {
            case S -> g.writeStringField("S", v.s());
            case N -> g.writeStringField("N", v.n());
            case B -> g.writeStringField("B", base64(v.b()));
            case BOOL -> g.writeBooleanField("BOOL", v.bool());
            case NUL -> g.writeBooleanField("NULL", true);
            case SS, NS -> {
                g.writeArrayFieldStart(v.type() == AttributeValue.Type.SS ? "SS" : "NS");
                for (String s : v.type() == AttributeValue.Type.SS ? v.ss() : v.ns()) {
                    g.writeString(s);
                }
                g.writeEndArray();
            }
            case BS -> {
                g.writeArrayFieldStart("BS");
                for (SdkBytes b : v.bs()) {
                    g.writeString(base64(b));
                }
                g.writeEndArray();
            }
            case L -> {
                g.writeArrayFieldStart("L");
                for (AttributeValue x : v.l()) {
                    value(g, x);
                }
                g.writeEndArray();
            }
            case M -> {
                g.writeFieldName("M");
                map(g, v.m());
            }
            default -> throw new IllegalArgumentException("unknown type " + v.type());
        }
        g.writeEndObject();
    }

    private static String base64(SdkBytes b) {
        return Base64.getEncoder().encodeToString(b.asByteArray());
    }

    /**
     * An item's size as DynamoDB counts it: attribute names plus values (UTF-8 bytes of strings, about
     * one byte per two digits of a number, raw bytes of binary, overheads of 1 to 3 bytes).
     * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
     */
    static long size(Map<String, AttributeValue> item) {
        long n = 0;
        for (Map.Entry<String, AttributeValue> e : item.entrySet()) {
            n += utf8(e.getKey()) + size(e.getValue());
        }
        return n;
    }

    private static long size(AttributeValue v) {
        return switch (v.type()) {
            case S -> utf8(v.s());
            case N -> v.n().length() / 2 + 2;
            case B -> v.b().asByteArray().length;
            case BOOL, NUL -> 1;
            case SS -> v.ss().stream().mapToLong(AttributeJson::utf8).sum();
            case NS -> v.ns().stream().mapToLong(s -> s.length() / 2 + 2).sum();
            case BS -> v.bs().stream().mapToLong(b -> b.asByteArray().length).sum();
            case L -> 3 + v.l().stream().mapToLong(x -> 1 + size(x)).sum();
            case M -> 3 + v.m().entrySet().stream().mapToLong(x -> 1 + utf8(x.getKey()) + size(x.getValue())).sum();
            default -> 0;
        };
    }

    private static long utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }
}
