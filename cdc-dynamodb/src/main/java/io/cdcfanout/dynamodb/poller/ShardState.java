package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BatchResult;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.Shard;

/** What the poller knows of one shard; touched only by the poller thread. */
final class ShardState {
    /** A batch submitted to the pipeline and not yet settled. */
    record InFlight(int generation, CompletableFuture<BatchResult<Map<String, AttributeValue>>> future,
            String lastSequence, boolean end, List<ChangeEvent<Map<String, AttributeValue>>> events,
            List<String> sequences) {
    }

    final Shard shard;
    final String id;
    final ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
    int inFlightRecords;
    // Lineage and ownership (ShardCatalog, LeaseKeeper).
    boolean finished;
    boolean owned;
    boolean lost;
    /** Whether this poller has logged that another one owns the shard. */
    boolean seenForeign;
    // Reading (ShardReader).
    String lastRead;
    String iterator;
    boolean latest;
    boolean endReached;
    boolean started;
    boolean lossReported;
    boolean horizonReopened;
    int failures;
    long nextPollAt;
    long lastRecordsAt = Long.MIN_VALUE / 2;
    /** When the checkpoint was last stored (clock millis); MIN_VALUE before the first. */
    long checkpointSavedAt = Long.MIN_VALUE;
    /** Creation time of the last record read (epoch millis); MIN_VALUE before the first. */
    long lastRecordCreatedAt = Long.MIN_VALUE;
    // Checkpointing (Checkpointer).
    String checkpoint;
    Checkpoint pendingSave;
    int generation;

    ShardState(Shard shard) {
        this(shard, shard.shardId());
    }

    ShardState(Shard shard, String id) {
        this.shard = shard;
        this.id = id;
    }

    /** Whether reading starts at TRIM_HORIZON: nothing read, no checkpoint, not LATEST. */
    boolean atHorizon() {
        return shard != null && resumeAfter() == null && !latest;
    }

    /** Where to read from after a new iterator: the last record read, else the checkpoint. */
    String resumeAfter() {
        return lastRead != null ? lastRead : checkpoint;
    }

    /** Forgets what was read and submitted: the next read starts after the checkpoint. */
    void rewindToCheckpoint() {
        generation++;
        inFlight.clear();
        inFlightRecords = 0;
        iterator = null;
        lastRead = null;
        endReached = false;
    }
}
