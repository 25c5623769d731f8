package io.cdcfanout.dynamodb.poller;

import java.util.Objects;

/**
 * How far a shard has been read and acknowledged: after a sequence number, or to its end.
 *
 * @param sequenceNumber the last acknowledged record's sequence number; null only for a shard
 *     finished without records
 * @param finished whether the shard was read to its end and everything in it acknowledged
 */
public record Checkpoint(String sequenceNumber, boolean finished) {

    /** The marker a store may use for a finished shard. */
    public static final String SHARD_END = "SHARD_END";

    /**
     * @throws IllegalArgumentException if sequenceNumber is not digits, or null for an unfinished shard
     */
    public Checkpoint {
        if (sequenceNumber == null && !finished) {
            throw new IllegalArgumentException("sequenceNumber must not be null for an unfinished shard");
        }
        if (sequenceNumber != null && !sequenceNumber.matches("[0-9]{1,64}")) {
            throw new IllegalArgumentException("sequenceNumber must be 1 to 64 digits (was '" + sequenceNumber + "')");
        }
    }

    /** Everything up to and including {@code sequenceNumber} is acknowledged. */
    public static Checkpoint after(String sequenceNumber) {
        return new Checkpoint(Objects.requireNonNull(sequenceNumber, "sequenceNumber must not be null"), false);
    }

    /** The shard is done; {@code lastSequenceNumber} may be null. */
    public static Checkpoint finished(String lastSequenceNumber) {
        return new Checkpoint(lastSequenceNumber, true);
    }

    /** The stored form: the sequence number, or {@value #SHARD_END} (with the last one) when finished. */
    public String encode() {
        return finished ? SHARD_END + (sequenceNumber == null ? "" : ":" + sequenceNumber) : sequenceNumber;
    }

    /**
     * The checkpoint stored as {@code encoded} by {@link #encode()}.
     *
     * @throws IllegalArgumentException if encoded is not in that form
     */
    public static Checkpoint decode(String encoded) {
        Objects.requireNonNull(encoded, "encoded must not be null");
        if (encoded.equals(SHARD_END)) {
            return finished(null);
        }
        if (encoded.startsWith(SHARD_END + ":")) {
            return finished(encoded.substring(SHARD_END.length() + 1));
        }
        return after(encoded);
    }
}
