package io.cdcfanout.api;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The identity of an item: its table and key attribute values. Events with equal keys are kept in
 * order on every route. Values are strings, numbers (held as {@link BigDecimal}, so {@code 1} and
 * {@code 1.0} are the same key) or binary (held as a read-only {@link ByteBuffer}).
 *
 * <p>{@link #toString()} names the attributes but never their values, which may be personal data.
 */
public final class EventKey {
    private final String table;
    private final Map<String, Object> values;
    private final String canonical;
    private final int hash;

    private EventKey(String table, Map<String, Object> values, String canonical) {
        this.table = table;
        this.values = values;
        this.canonical = canonical;
        this.hash = 31 * table.hashCode() + canonical.hashCode();
    }

    /**
     * A key of one or more attributes.
     *
     * @throws NullPointerException if table, the map, a name or a value is null
     * @throws IllegalArgumentException if table is blank, the map is empty, or a value is not a
     *     String, Number or byte[]
     */
    public static EventKey of(String table, Map<String, ?> attributes) {
        Objects.requireNonNull(table, "table must not be null");
        Objects.requireNonNull(attributes, "attributes must not be null");
        if (table.isBlank()) {
            throw new IllegalArgumentException("table must not be blank");
        }
        if (attributes.isEmpty()) {
            throw new IllegalArgumentException("attributes must name at least one key attribute");
        }
        Map<String, Object> sorted = new TreeMap<>();
        for (Map.Entry<String, ?> e : attributes.entrySet()) {
            String name = Objects.requireNonNull(e.getKey(), "key attribute name must not be null");
            Object value = Objects.requireNonNull(e.getValue(), () -> "key attribute '" + name + "' must not be null");
            sorted.put(name, normalize(name, value));
        }
        StringBuilder canonical = new StringBuilder();
        Map<String, Object> values = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : sorted.entrySet()) {
            Object v = e.getValue();
            canonical.append(e.getKey()).append('\u0000');
            if (v instanceof String s) {
                canonical.append('S').append(s);
                values.put(e.getKey(), s);
            } else if (v instanceof BigDecimal d) {
                canonical.append('N').append(d.toPlainString());
                values.put(e.getKey(), d);
            } else {
                byte[] bytes = (byte[]) v;
                canonical.append('B').append(Base64.getEncoder().encodeToString(bytes));
                values.put(e.getKey(), ByteBuffer.wrap(bytes).asReadOnlyBuffer());
            }
            canonical.append('\u0000');
        }
        return new EventKey(table, Collections.unmodifiableMap(values), canonical.toString());
    }

    /** A key of one attribute. */
    public static EventKey of(String table, String attribute, Object value) {
        Objects.requireNonNull(attribute, "attribute must not be null");
        Objects.requireNonNull(value, () -> "key attribute '" + attribute + "' must not be null");
        return of(table, Map.of(attribute, value));
    }

    private static Object normalize(String name, Object value) {
        if (value instanceof String) {
            return value;
        }
        if (value instanceof byte[] bytes) {
            return bytes.clone();
        }
        if (value instanceof ByteBuffer buffer) {
            ByteBuffer copy = buffer.duplicate();
            byte[] bytes = new byte[copy.remaining()];
            copy.get(bytes);
            return bytes;
        }
        if (value instanceof BigDecimal d) {
            return d.signum() == 0 ? BigDecimal.ZERO : d.stripTrailingZeros();
        }
        if (value instanceof BigInteger i) {
            return new BigDecimal(i);
        }
        if (value instanceof Long || value instanceof Integer || value instanceof Short || value instanceof Byte) {
            return normalize(name, BigDecimal.valueOf(((Number) value).longValue()));
        }
        if (value instanceof Number n) {
            return normalize(name, new BigDecimal(n.toString()));
        }
        throw new IllegalArgumentException("key attribute '" + name
                + "' must be a String, Number or byte[] (was " + value.getClass().getName() + ")");
    }

    /** The table the item lives in. */
    public String table() {
        return table;
    }

    /** The key attribute values by name, sorted by name; binary values are read-only buffers. */
    public Map<String, Object> values() {
        return values;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EventKey other && hash == other.hash && table.equals(other.table)
                && canonical.equals(other.canonical);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    /**
     * A stable text form of the key values: each attribute's name, type and value, in name order. Equal
     * keys give equal text in every process and run, so it can name the item in stored bookkeeping. It
     * holds the item's key values: keep it out of logs.
     */
    public String canonical() {
        return canonical;
    }

    @Override
    public String toString() {
        return "EventKey[table=" + table + ", attributes=" + values.keySet() + "]";
    }
}
