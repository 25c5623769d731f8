package io.cdcfanout.api;

/** What happened to an item. */
public enum Operation {
    /** A new item was written. */
    INSERT,
    /** An existing item changed. */
    MODIFY,
    /** An item was deleted, by a user or by TTL expiry. */
    REMOVE,
    /**
     * An item as a snapshot of the table read it, not a change (Debezium's {@code r}): it carries an
     * after image and no before image, its position is {@link Position#SNAPSHOT_SHARD} with sequence
     * number 0, and any change read from the stream supersedes it.
     */
    SNAPSHOT
}
