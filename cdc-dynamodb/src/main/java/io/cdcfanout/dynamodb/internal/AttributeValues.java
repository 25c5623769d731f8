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
            String p = unicodeProblem(e.getKey()) == null ? check(e.getValue())
                    : "\0has a name that is not valid Unicode (a lone surrogate)";
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
        AttributeValue.Type type = v.type();
        if (type == null) {
            return "\0has more than one type set (a value holds exactly one of S, N, B, SS, NS, BS, M, L, NULL, BOOL)";
        }
        switch (type) {
            case N: {
                String p = numberProblem(v.n());
                return p == null ? null : "\0has an N value that " + p;
            }
            case NS:
                for (String n : v.ns()) {
                    String p = numberProblem(n);
                    if (p != null) {
                        return "\0has an NS member that " + p;
                    }
                }
                return null;
            case SS:
                for (String m : v.ss()) {
                    if (m == null) {
                        return "\0has a null SS member";
                    }
                    if (unicodeProblem(m) != null) {
                        return "\0has an SS member that is not valid Unicode (a lone surrogate)";
                    }
                }
                return null;
            case BS:
                return v.bs().contains(null) ? "\0has a null BS member" : null;
            case S:
                return v.s() == null ? "\0has a null S value"
                        : unicodeProblem(v.s()) == null ? null : "\0has an S value that is not valid Unicode (a lone surrogate)";
            case B:
                return v.b() == null ? "\0has a null B value" : null;
            case M:
                for (Map.Entry<String, AttributeValue> e : v.m().entrySet()) {
                    String p = e.getKey() == null || unicodeProblem(e.getKey()) != null
                            ? "\0has a member name that is null or not valid Unicode" : check(e.getValue());
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
            case BOOL:
                return null;
            case NUL:
                return Boolean.TRUE.equals(v.nul()) ? null : "\0has NULL set to false (NULL is always true)";
            default:
                return "\0has no type this library knows (expected one of S, N, B, SS, NS, BS, M, L, NULL, BOOL)";
        }
    }

    /**
     * The key value of a key attribute: a String, a BigDecimal or a byte[]; null if the value is not
     * of a key type (S, N or B).
     */
    public static Object keyValue(AttributeValue v) {
        if (v == null || v.type() == null) {
            return null;
        }
        return switch (v.type()) {
            case S -> v.s();
            case N -> numberProblem(v.n()) == null ? new BigDecimal(v.n()) : null;
            case B -> v.b() == null ? null : v.b().asByteArrayUnsafe();
            default -> null;
        };
    }

    /**
     * Null when {@code s} is well-formed UTF-16, else where it is not. DynamoDB stores UTF-8, so a stream
     * never carries a lone surrogate, which no JSON reader would accept back.
     */
    public static String unicodeProblem(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= Character.MIN_SURROGATE && c <= Character.MAX_SURROGATE) {
                if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                } else {
                    return "a lone surrogate at index " + i;
                }
            }
        }
        return null;
    }

    /** DynamoDB's largest number of significant digits. */
    static final int MAX_PRECISION = 38;
    /** The decimal exponent of the largest magnitude DynamoDB stores (9.99...E+125). */
    static final int MAX_EXPONENT = 125;
    /** The decimal exponent of the smallest non-zero magnitude DynamoDB stores (1E-130). */
    static final int MIN_EXPONENT = -130;
    /** The largest exponent written in a number worth parsing; anything beyond is out of range even for 0. */
    private static final long MAX_EXPONENT_DIGITS_VALUE = 100_000;

    /**
     * Null when {@code s} is a number as DynamoDB hands it out, else the broken rule: JSON's grammar
     * (optional minus, digits without a leading zero, optional fraction and exponent), at most
     * {@value #MAX_PRECISION} significant digits, and a magnitude of zero or between 1E{@value #MIN_EXPONENT}
     * and 9.99...E+{@value #MAX_EXPONENT}. Allocates nothing for a valid number.
     */
    public static String numberProblem(String s) {
        if (s == null) {
            return "is null";
        }
        int n = s.length();
        int i = 0;
        if (i < n && s.charAt(i) == '-') {
            i++;
        }
        int intStart = i;
        while (i < n && isDigit(s.charAt(i))) {
            i++;
        }
        int intEnd = i;
        if (intEnd == intStart) {
            return "is not a number (a number is digits with an optional minus, fraction and exponent)";
        }
        if (s.charAt(intStart) == '0' && intEnd - intStart > 1) {
            return "has a leading zero (DynamoDB drops them; a stream never has one)";
        }
        int fracStart = i;
        int fracEnd = i;
        if (i < n && s.charAt(i) == '.') {
            i++;
            fracStart = i;
            while (i < n && isDigit(s.charAt(i))) {
                i++;
            }
            fracEnd = i;
            if (fracEnd == fracStart) {
                return "is not a number (a point must be followed by digits)";
            }
        }
        long exponent = 0;
        if (i < n && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            i++;
            boolean negative = false;
            if (i < n && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                negative = s.charAt(i) == '-';
                i++;
            }
            int expStart = i;
            while (i < n && isDigit(s.charAt(i))) {
                if (exponent < 1_000_000_000L) {
                    exponent = exponent * 10 + (s.charAt(i) - '0');
                }
                i++;
            }
            if (i == expStart) {
                return "is not a number (an exponent must have digits)";
            }
            exponent = negative ? -exponent : exponent;
        }
        if (i != n) {
            return "is not a number (unexpected character at index " + i + ")";
        }
        if (Math.abs(exponent) > MAX_EXPONENT_DIGITS_VALUE) {
            return "has an exponent outside DynamoDB's range (1E" + MIN_EXPONENT + " to 9.99...E+" + MAX_EXPONENT + ")";
        }
        // Significant digits: from the first non-zero digit to the last non-zero one, across the point.
        int first = -1;
        int last = -1;
        int digits = (intEnd - intStart) + (fracEnd - fracStart);
        for (int d = 0; d < digits; d++) {
            char c = d < intEnd - intStart ? s.charAt(intStart + d) : s.charAt(fracStart + d - (intEnd - intStart));
            if (c != '0') {
                if (first < 0) {
                    first = d;
                }
                last = d;
            }
        }
        if (first < 0) {
            return null; // zero, whatever its exponent
        }
        if (last - first + 1 > MAX_PRECISION) {
            return "has more than " + MAX_PRECISION + " significant digits (DynamoDB's precision)";
        }
        long magnitude = exponent + (intEnd - intStart) - 1 - first;
        if (magnitude > MAX_EXPONENT || magnitude < MIN_EXPONENT) {
            return "is outside DynamoDB's range (a magnitude from 1E" + MIN_EXPONENT + " to 9.99...E+"
                    + MAX_EXPONENT + ")";
        }
        return null;
    }

    /**
     * Whether {@code s} is a number as DynamoDB hands it out: see {@link #numberProblem}. DynamoDB also
     * accepts a leading '+', '.' or zeros, which it normalizes away before a stream sees the value, so
     * they are refused here.
     */
    public static boolean isNumber(String s) {
        return numberProblem(s) == null;
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
        if (v == null || v.type() == null) {
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
