package io.cdcfanout.dynamodb.poller;

/** Where a poller starts reading a shard that has no checkpoint. A checkpoint always wins. */
public enum StartPosition {
    /** The oldest record still in the stream (up to 24 hours back). */
    TRIM_HORIZON,
    /**
     * Only records written after the poller started: shards open at start are read from their tip,
     * shards closed by then are skipped. Shards that appear later are read from their start, so
     * nothing written after the start is missed.
     */
    LATEST
}
