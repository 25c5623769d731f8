package io.cdcfanout.dynamodb.internal;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** Checks and conversions of SDK attribute values that the mapper and serializer share. Not API. */
public final class AttributeValues {
    private AttributeValues() {
    }

    /**
     * The first problem in an image, as "attribute 'a.b[2]': rule", or null when every value has
     * exactly one known type and every number is a valid DynamoDB number.
     */
    public static String problem(Map<String, AttributeValue> image) {
        for (Map.Entry<String, AttributeValue> e : image.entrySet()) {
            String p = check(e.getValue());
            if (p != null) {
                int at = p.indexOf('\0');
                return "attribute '" + e.getKey() + p.substring(0, at) + "' " + p.substring(at + 1);
            }
        }
        return null;
    }

    /**
     * Null when {@code v} is valid, else {@code <where below v>\0<what is wrong>}. The location is
     * built only on the way back from a problem, so checking a valid image allocates nothing.
     */
    private static String check(AttributeValue v) {
        if (v == null) {
            return "\0is null (every value needs a type such as S, N or M)";
        }
        switch (v.type()) {
            case N:
                return isNumber(v.n()) ? null
                        : "\0has N value that is not a number (a number is digits with an optional sign, point and "
                                + "exponent)";
            case NS:
                for (String n : v.ns()) {
                    if (!isNumber(n)) {
                        return "\0has an NS member that is not a number";
                    }
                }
                return null;
            case M:
                for (Map.Entry<String, AttributeValue> e : v.m().entrySet()) {
                    String p = check(e.getValue());
                    if (p != null) {
                        return "." + e.getKey() + p;
                    }
                }
                return null;
            case L:
                List<AttributeValue> l = v.l();
                for (int i = 0; i < l.size(); i++) {
                    String p = check(l.get(i));
                    if (p != null) {
                        return "[" + i + "]" + p;
                    }
                }
                return null;
            case S, SS, B, BS, BOOL, NUL:
                return null;
            default:
                return "\0has no type this library knows (expected one of S, N, B, SS, NS, BS, M, L, NULL, BOOL)";
        }
    }

    /**
     * The key value of a key attribute: a String, a BigDecimal or a byte[]; null if the value is not
     * of a key type (S, N or B).
     */
    public static Object keyValue(AttributeValue v) {
        if (v == null) {
            return null;
        }
        return switch (v.type()) {
            case S -> v.s();
            case N -> isNumber(v.n()) ? new BigDecimal(v.n()) : null;
            case B -> v.b().asByteArrayUnsafe();
            default -> null;
        };
    }

    /**
     * Whether {@code s} is a number in the JSON (and DynamoDB) grammar: optional minus, digits,
     * optional fraction, optional exponent. DynamoDB also allows a leading '+' or '.', which it
     * normalizes away before a stream sees the value, so they are refused here.
     */
    public static boolean isNumber(String s) {
        if (s == null) {
            return false;
        }
        int n = s.length();
        int i = 0;
        if (i < n && s.charAt(i) == '-') {
            i++;
        }
        int digits = i;
        while (i < n && isDigit(s.charAt(i))) {
            i++;
        }
        if (i == digits) {
            return false;
        }
        if (i < n && s.charAt(i) == '.') {
            i++;
            int frac = i;
            while (i < n && isDigit(s.charAt(i))) {
                i++;
            }
            if (i == frac) {
                return false;
            }
        }
        if (i < n && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            i++;
            if (i < n && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                i++;
            }
            int exp = i;
            while (i < n && isDigit(s.charAt(i))) {
                i++;
            }
            if (i == exp) {
                return false;
            }
        }
        return i == n;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    /** An estimate of an image's stored size in bytes, by DynamoDB's item-size rules. */
    public static long size(Map<String, AttributeValue> image) {
        long size = 0;
        for (Map.Entry<String, AttributeValue> e : image.entrySet()) {
            size += utf8Length(e.getKey()) + size(e.getValue());
        }
        return size;
    }

    private static long size(AttributeValue v) {
        if (v == null) {
            return 0;
        }
        return switch (v.type()) {
            case S -> utf8Length(v.s());
            case N -> 1 + (v.n().length() + 1) / 2;
            case B -> v.b().asByteArrayUnsafe().length;
            case SS -> v.ss().stream().mapToLong(AttributeValues::utf8Length).sum();
            case NS -> v.ns().stream().mapToLong(n -> 1 + (n.length() + 1) / 2).sum();
            case BS -> v.bs().stream().mapToLong(b -> b.asByteArrayUnsafe().length).sum();
            case M -> 3 + v.m().entrySet().stream().mapToLong(e -> 1 + utf8Length(e.getKey()) + size(e.getValue()))
                    .sum();
            case L -> 3 + v.l().stream().mapToLong(x -> 1 + size(x)).sum();
            default -> 1;
        };
    }

    private static long utf8Length(String s) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n++;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c)) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    /** The bytes of a binary value, without copying; callers must not modify them. */
    public static byte[] bytes(SdkBytes b) {
        return b.asByteArrayUnsafe();
    }
}
