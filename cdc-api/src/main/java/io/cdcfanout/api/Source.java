package io.cdcfanout.api;

import java.util.Objects;

/**
 * Which stream an event came from. {@code region} and {@code streamArn} are empty when the source
 * does not know them (a synthetic event in a test).
 */
public record Source(String table, String region, String streamArn) {

    /**
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if table is blank
     */
    public Source {
        Objects.requireNonNull(table, "table must not be null");
        Objects.requireNonNull(region, "region must not be null");
        Objects.requireNonNull(streamArn, "streamArn must not be null");
        if (table.isBlank()) {
            throw new IllegalArgumentException("table must not be blank");
        }
    }

    /** A source known only by its table name. */
    public static Source ofTable(String table) {
        return new Source(table, "", "");
    }
}
