package io.cdcfanout.dynamodb.poller;

import java.time.Duration;

/**
 * Progress of a {@link StreamPoller}. Called on the poller's thread: keep it quick. An exception
 * thrown here is logged and ignored. Every method defaults to doing nothing.
 */
public interface PollerListener {

    /** One listener calling each of {@code listeners} in turn; one that throws is logged and skipped. */
    static PollerListener composite(java.util.List<? extends PollerListener> listeners) {
        return new CompositePollerListener(listeners);
    }

    /** The poller began reading a shard, from {@code from} (a checkpoint or a start position). */
    default void onShardStarted(String shardId, String from) {
    }

    /** A GetRecords call returned records; {@code lag} is now minus the newest record's creation time. */
    default void onRecords(String shardId, int records, Duration lag) {
    }

    /** A shard iterator expired (they live 15 minutes); reading resumes after {@code resumeAfter}. */
    default void onIteratorExpired(String shardId, String resumeAfter) {
    }

    /** A checkpoint was saved. */
    default void onCheckpoint(String shardId, Checkpoint checkpoint) {
    }

    /** A shard was read to its end and everything in it acknowledged; its children may start. */
    default void onShardFinished(String shardId) {
    }

    /** Records were lost to the stream's retention; see {@link DataLossPolicy}. */
    default void onDataLoss(DataLoss loss) {
    }

    /** The stream throttled the poller (or failed transiently); it waits {@code backoff}. */
    default void onBackoff(String shardId, Duration backoff, String reason) {
    }

    /** A batch was not fully acknowledged; the shard goes back to its checkpoint after a pause. */
    default void onRewind(String shardId, String toCheckpoint, String reason) {
    }

    /**
     * This poller gave up a shard it held: another poller took its lease, or its checkpoint could no
     * longer be saved. The other shards go on.
     */
    default void onShardLost(String shardId, String reason) {
    }

    /** A finished shard left the stream and its checkpoint was deleted from the store. */
    default void onShardForgotten(String shardId) {
    }
}
