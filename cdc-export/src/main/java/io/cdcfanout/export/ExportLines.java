package io.cdcfanout.export;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Reads one line of a DYNAMODB_JSON export data file, {@code {"Item":{"name":{"S":"..."},...}}}, into an
 * item. A line that breaks the format throws {@link BadLine}, whose message names the place (an attribute
 * path such as {@code Item.address.M.city}) and the rule, never a value.
 */
final class ExportLines {
    /** DynamoDB nests documents 32 levels deep; each level is two JSON objects (the value and its type). */
    private static final int MAX_DEPTH = 80;
    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build()).build();

    private ExportLines() {
    }

    /** A line that breaks the export format; the message names where and the rule. */
    static final class BadLine extends Exception {
        private static final long serialVersionUID = 1L;

        BadLine(String message) {
            super(message, null, false, false);
        }
    }

    /** The item of one line. */
    static Map<String, AttributeValue> item(String line) throws BadLine {
        try (JsonParser p = JSON.createParser(line)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new BadLine("the line must be a JSON object with an 'Item' field");
            }
            Map<String, AttributeValue> item = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                if (field.equals("Item")) {
                    if (item != null) {
                        throw new BadLine("'Item' appears twice");
                    }
                    item = map(p, "Item");
                } else if (field.equals("NewImage") || field.equals("OldImage") || field.equals("Keys")) {
                    throw new BadLine("'" + field + "' belongs to an incremental export, which this reader does not "
                            + "read; a full export's lines hold 'Item'");
                } else {
                    p.skipChildren(); // room for fields AWS may add
                }
            }
            if (p.nextToken() != null) {
                throw new BadLine("the line holds more than one JSON value");
            }
            if (item == null) {
                throw new BadLine("the line has no 'Item' field");
            }
            return item;
        } catch (com.fasterxml.jackson.core.exc.StreamConstraintsException e) {
            throw new BadLine("the line nests deeper than DynamoDB allows (32 levels)");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new BadLine("the line is not valid JSON (at column " + e.getLocation().getColumnNr() + ")");
        } catch (IOException e) {
            throw new BadLine("the line could not be read: " + e.getClass().getSimpleName());
        }
    }

    /** An object of attribute values, the parser at its START_OBJECT. */
    private static Map<String, AttributeValue> map(JsonParser p, String where) throws IOException, BadLine {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new BadLine(where + " must be an object of attribute values");
        }
        Map<String, AttributeValue> out = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            p.nextToken();
            String at = where + "." + name;
            if (out.put(name, value(p, at)) != null) {
                throw new BadLine(at + " appears twice");
            }
        }
        return out;
    }

    /** One attribute value, {@code {"<type>": ...}}, the parser at its START_OBJECT. */
    private static AttributeValue value(JsonParser p, String where) throws IOException, BadLine {
        if (p.currentToken() != JsonToken.START_OBJECT || p.nextToken() != JsonToken.FIELD_NAME) {
            throw new BadLine(where + " must be an object with one type key (S, N, B, BOOL, NULL, SS, NS, BS, L or M)");
        }
        String type = p.currentName();
        JsonToken t = p.nextToken();
        AttributeValue v = switch (type) {
            case "S" -> AttributeValue.builder().s(string(p, t, where + ".S")).build();
            case "N" -> AttributeValue.builder().n(string(p, t, where + ".N")).build();
            case "B" -> AttributeValue.builder().b(binary(p, t, where + ".B")).build();
            case "BOOL" -> {
                if (t != JsonToken.VALUE_TRUE && t != JsonToken.VALUE_FALSE) {
                    throw new BadLine(where + ".BOOL must be true or false");
                }
                yield AttributeValue.builder().bool(t == JsonToken.VALUE_TRUE).build();
            }
            case "NULL" -> {
                if (t != JsonToken.VALUE_TRUE) {
                    throw new BadLine(where + ".NULL must be true");
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
            default -> throw new BadLine(where + " has the unknown type '" + printable(type)
                    + "' (must be S, N, B, BOOL, NULL, SS, NS, BS, L or M)");
        };
        if (p.nextToken() != JsonToken.END_OBJECT) {
            throw new BadLine(where + " must hold exactly one type key");
        }
        return v;
    }

    private static String string(JsonParser p, JsonToken t, String where) throws IOException, BadLine {
        if (t != JsonToken.VALUE_STRING) {
            throw new BadLine(where + " must be a string");
        }
        return p.getText();
    }

    private static SdkBytes binary(JsonParser p, JsonToken t, String where) throws IOException, BadLine {
        String text = string(p, t, where);
        try {
            return SdkBytes.fromByteArrayUnsafe(Base64.getDecoder().decode(text));
        } catch (IllegalArgumentException e) {
            throw new BadLine(where + " must be base64");
        }
    }

    private static List<String> strings(JsonParser p, JsonToken t, String where) throws IOException, BadLine {
        array(t, where);
        List<String> out = new ArrayList<>();
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            out.add(string(p, t, where + "[" + out.size() + "]"));
        }
        return out;
    }

    private static void array(JsonToken t, String where) throws BadLine {
        if (t != JsonToken.START_ARRAY) {
            throw new BadLine(where + " must be an array");
        }
    }

    /** A type name as it may appear in a message: short, printable ASCII; it is the format's, not item data. */
    private static String printable(String type) {
        if (type.length() > 16 || !type.chars().allMatch(c -> c >= 0x21 && c < 0x7f)) {
            return "?";
        }
        return type;
    }
}
