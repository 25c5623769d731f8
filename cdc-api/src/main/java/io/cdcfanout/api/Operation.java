package io.cdcfanout.api;

/** What happened to an item. */
public enum Operation {
    /** A new item was written. */
    INSERT,
    /** An existing item changed. */
    MODIFY,
    /** An item was deleted, by a user or by TTL expiry. */
    REMOVE
}
