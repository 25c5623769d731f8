package io.cdcfanout.dynamodb.sink;

import java.util.Map;
import java.util.Objects;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * One UpdateItem on a view item: its key and an update expression such as
 * {@code ADD #count :one SET #last = :at}, with the expression's names and values. Placeholders
 * starting with {@code #cdc} or {@code :cdc} are reserved.
 *
 * @param key the view item's key attributes
 * @param updateExpression the update expression (ADD, SET, REMOVE, DELETE clauses)
 * @param names the expression attribute names
 * @param values the expression attribute values
 */
public record ViewUpdate(Map<String, AttributeValue> key, String updateExpression, Map<String, String> names,
        Map<String, AttributeValue> values) {

    /**
     * @throws NullPointerException if a component is null
     * @throws IllegalArgumentException if the key is empty or a placeholder is reserved
     */
    public ViewUpdate {
        key = Map.copyOf(Objects.requireNonNull(key, "key must not be null"));
        Objects.requireNonNull(updateExpression, "updateExpression must not be null");
        names = Map.copyOf(Objects.requireNonNull(names, "names must not be null"));
        values = Map.copyOf(Objects.requireNonNull(values, "values must not be null"));
        if (key.isEmpty()) {
            throw new IllegalArgumentException("key must name the view item's key attributes");
        }
        for (String n : names.keySet()) {
            if (n.startsWith("#cdc")) {
                throw new IllegalArgumentException("names must not use the reserved prefix #cdc (was '" + n + "')");
            }
        }
        for (String v : values.keySet()) {
            if (v.startsWith(":cdc")) {
                throw new IllegalArgumentException("values must not use the reserved prefix :cdc (was '" + v + "')");
            }
        }
    }

    /** An {@code ADD #n :v} counter update of one attribute by {@code delta}. */
    public static ViewUpdate add(Map<String, AttributeValue> key, String attribute, long delta) {
        return new ViewUpdate(key, "ADD #n :v", Map.of("#n", attribute),
                Map.of(":v", AttributeValue.builder().n(Long.toString(delta)).build()));
    }
}
