package io.cdcfanout.dynamodb.internal;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Reads DynamoDB JSON ({@code {"S":"..."}}, {@code {"M":{...}}} and the other types) with a streaming
 * parser, for the export reader and the JSON Lines reader. A value that breaks the format throws
 * {@link Bad}, whose message names the place (an attribute path) and the rule, never a value.
 */
public final class DynamoDbJson {
    private DynamoDbJson() {
    }

    /** A value that breaks the format; the message names where and the rule. */
    public static final class Bad extends Exception {
        private static final long serialVersionUID = 1L;

        public Bad(String message) {
            super(message, null, false, false);
        }
    }

    /** An object of attribute values, the parser at its START_OBJECT. */
    public static Map<String, AttributeValue> map(JsonParser p, String where) throws IOException, Bad {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new Bad(where + " must be an object of attribute values");
        }
        Map<String, AttributeValue> out = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            p.nextToken();
            String at = where + "." + name;
            if (out.put(name, value(p, at)) != null) {
                throw new Bad(at + " appears twice");
            }
        }
        return out;
    }

    /** One attribute value, {@code {"<type>": ...}}, the parser at its START_OBJECT. */
    public static AttributeValue value(JsonParser p, String where) throws IOException, Bad {
        if (p.currentToken() != JsonToken.START_OBJECT || p.nextToken() != JsonToken.FIELD_NAME) {
            throw new Bad(where + " must be an object with one type key (S, N, B, BOOL, NULL, SS, NS, BS, L or M)");
        }
        String type = p.currentName();
        JsonToken t = p.nextToken();
        AttributeValue v = switch (type) {
            case "S" -> AttributeValue.builder().s(string(p, t, where + ".S")).build();
            case "N" -> AttributeValue.builder().n(string(p, t, where + ".N")).build();
            case "B" -> AttributeValue.builder().b(binary(p, t, where + ".B")).build();
            case "BOOL" -> {
                if (t != JsonToken.VALUE_TRUE && t != JsonToken.VALUE_FALSE) {
                    throw new Bad(where + ".BOOL must be true or false");
                }
                yield AttributeValue.builder().bool(t == JsonToken.VALUE_TRUE).build();
            }
            case "NULL" -> {
                if (t != JsonToken.VALUE_TRUE) {
                    throw new Bad(where + ".NULL must be true");
                }
                yield AttributeValue.builder().nul(true).build();
            }
            case "SS" -> AttributeValue.builder().ss(strings(p, t, where + ".SS")).build();
            case "NS" -> AttributeValue.builder().ns(strings(p, t, where + ".NS")).build();
            case "BS" -> {
                array(t, where + ".BS");
                List<SdkBytes> out = new ArrayList<>();
                while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                    out.add(binary(p, t, where + ".BS[" + out.size() + "]"));
                }
                yield AttributeValue.builder().bs(out).build();
            }
            case "L" -> {
                array(t, where + ".L");
                List<AttributeValue> out = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    out.add(value(p, where + ".L[" + out.size() + "]"));
                }
                yield AttributeValue.builder().l(out).build();
            }
            case "M" -> AttributeValue.builder().m(map(p, where + ".M")).build();
            default -> throw new Bad(where + " has the unknown type '" + printable(type)
                    + "' (must be S, N, B, BOOL, NULL, SS, NS, BS, L or M)");
        };
        if (p.nextToken() != JsonToken.END_OBJECT) {
            throw new Bad(where + " must hold exactly one type key");
        }
        return v;
    }

    private static String string(JsonParser p, JsonToken t, String where) throws IOException, Bad {
        if (t != JsonToken.VALUE_STRING) {
            throw new Bad(where + " must be a string");
        }
        return p.getText();
    }

    private static SdkBytes binary(JsonParser p, JsonToken t, String where) throws IOException, Bad {
        String text = string(p, t, where);
        try {
            return SdkBytes.fromByteArrayUnsafe(Base64.getDecoder().decode(text));
        } catch (IllegalArgumentException e) {
            throw new Bad(where + " must be base64");
        }
    }

    private static List<String> strings(JsonParser p, JsonToken t, String where) throws IOException, Bad {
        array(t, where);
        List<String> out = new ArrayList<>();
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            out.add(string(p, t, where + "[" + out.size() + "]"));
        }
        return out;
    }

    private static void array(JsonToken t, String where) throws Bad {
        if (t != JsonToken.START_ARRAY) {
            throw new Bad(where + " must be an array");
        }
    }

    /** A type name as it may appear in a message: short, printable ASCII; it is the format's, not item data. */
    static String printable(String type) {
        if (type.length() > 16 || !type.chars().allMatch(c -> c >= 0x21 && c < 0x7f)) {
            return "?";
        }
        return type;
    }
}
