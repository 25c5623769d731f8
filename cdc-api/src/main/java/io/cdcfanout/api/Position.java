package io.cdcfanout.api;

import java.util.Objects;

/**
 * Where an event sits in its stream: a shard and a sequence number. Sequence numbers are decimal
 * strings of up to about 40 digits; they are compared numerically, and are ordered only within one
 * shard. Leading zeros are dropped, so equal numbers give equal positions.
 */
public record Position(String shardId, String sequenceNumber) implements Comparable<Position> {
    /**
     * The shard id of events whose source does not say which shard they come from, such as a Lambda
     * invocation. Such positions order one item's changes (their sequence numbers rise across the item's
     * shard lineage), but say nothing about other items: two shards, or two concurrent batches of one
     * shard, interleave under this one id.
     */
    public static final String UNKNOWN_SHARD = "unknown-shard";

    /**
     * The shard id of {@link Operation#SNAPSHOT} events. Their sequence number is 0, below every stream
     * position, so a sink that keeps the newest version of an item lets any stream change win.
     */
    public static final String SNAPSHOT_SHARD = "snapshot";

    /** The position of every {@link Operation#SNAPSHOT} event. */
    public static final Position SNAPSHOT = new Position(SNAPSHOT_SHARD, "0");

    /**
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if shardId is blank or sequenceNumber is not a decimal number
     */
    public Position {
        Objects.requireNonNull(shardId, "shardId must not be null");
        Objects.requireNonNull(sequenceNumber, "sequenceNumber must not be null");
        if (shardId.isBlank()) {
            throw new IllegalArgumentException("shardId must not be blank");
        }
        sequenceNumber = normalize(sequenceNumber);
    }

    /** Compares two decimal sequence numbers numerically, at any length. */
    public static int compareSequenceNumbers(String a, String b) {
        String x = normalize(a);
        String y = normalize(b);
        int byLength = Integer.compare(x.length(), y.length());
        return byLength != 0 ? byLength : x.compareTo(y);
    }

    /**
     * Orders by shard id, then numerically by sequence number. Only the order within a shard means
     * anything; the order across shards just makes sorting total.
     */
    @Override
    public int compareTo(Position other) {
        int byShard = shardId.compareTo(other.shardId);
        return byShard != 0 ? byShard : compareSequenceNumbers(sequenceNumber, other.sequenceNumber);
    }

    /**
     * Whether this position comes after {@code other} in the same shard.
     *
     * @throws IllegalArgumentException if the positions are in different shards
     */
    public boolean isAfter(Position other) {
        if (!shardId.equals(other.shardId)) {
            throw new IllegalArgumentException("positions in different shards are not ordered ("
                    + shardId + " and " + other.shardId + ")");
        }
        return compareSequenceNumbers(sequenceNumber, other.sequenceNumber) > 0;
    }

    /**
     * Whether the source named the shard. Only then do the positions of one shard id form one ordered
     * sequence that a sink may reason about (say, "everything up to here is archived"). False for
     * {@link #UNKNOWN_SHARD} and {@link #SNAPSHOT_SHARD}.
     */
    public boolean shardKnown() {
        return !UNKNOWN_SHARD.equals(shardId) && !SNAPSHOT_SHARD.equals(shardId);
    }

    @Override
    public String toString() {
        return shardId + "/" + sequenceNumber;
    }

    private static String normalize(String sequenceNumber) {
        int length = sequenceNumber.length();
        if (length == 0) {
            throw new IllegalArgumentException("sequenceNumber must be a decimal number (was '')");
        }
        int firstNonZero = -1;
        for (int i = 0; i < length; i++) {
            char c = sequenceNumber.charAt(i);
            if (c < '0' || c > '9') {
                throw new IllegalArgumentException(
                        "sequenceNumber must be a decimal number (was '" + sequenceNumber + "')");
            }
            if (firstNonZero < 0 && c != '0') {
                firstNonZero = i;
            }
        }
        if (firstNonZero < 0) {
            return "0";
        }
        return firstNonZero == 0 ? sequenceNumber : sequenceNumber.substring(firstNonZero);
    }
}
