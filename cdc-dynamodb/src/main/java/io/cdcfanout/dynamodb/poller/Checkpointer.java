package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Settlement;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Moves each shard's checkpoint past the batches that settled, in order, and stores it: after a fully
 * acknowledged batch, to its last record; after a partly acknowledged one, to the acknowledged prefix,
 * then the shard goes back there after a pause (a rewind). A save that fails transiently is retried a
 * second later while reading goes on; one that fails for good gives up the shard. A shard's end is
 * stored as finished and its lease released. Touched only by the poller thread.
 */
final class Checkpointer {
    static final long RETRY_MILLIS = 1_000;
    private static final Logger LOG = LoggerFactory.getLogger(Checkpointer.class);

    private final PollerContext ctx;
    private final CheckpointStore store;
    private final LeaseKeeper leases;
    private final Pacer pacer;
    private long storeRetryAt;

    Checkpointer(PollerContext ctx, CheckpointStore store, LeaseKeeper leases, Pacer pacer) {
        this.ctx = ctx;
        this.store = store;
        this.leases = leases;
        this.pacer = pacer;
    }

    /** When a deferred save is tried again. */
    long storeRetryAt() {
        return storeRetryAt;
    }

    /** Settles every shard's finished batches, in order, and retries deferred saves that are due. */
    void settle(ShardCatalog catalog) {
        for (ShardState s : catalog.all()) {
            settle(s);
        }
    }

    void settle(ShardState s) {
        if (s.pendingSave != null && ctx.now() >= storeRetryAt && !storePending(s)) {
            return;
        }
        while (!s.inFlight.isEmpty() && s.inFlight.peekFirst().future().isDone()) {
            ShardState.InFlight f = s.inFlight.pollFirst();
            s.inFlightRecords -= f.events().size();
            if (f.generation() != s.generation) {
                continue; // read before a rewind: the rewind reads it again
            }
            BatchResult<Map<String, AttributeValue>> result = f.future().join();
            Settlement settled = result == null ? null : Settlement.of(f.events(), result);
            if (settled != null && !settled.complete()) {
                if (settled.acknowledged() > 0) {
                    // Save the stream's own spelling (with its leading zeros) of the acknowledged position.
                    save(s, Checkpoint.after(f.sequences().get(settled.acknowledged() - 1)));
                }
                rewind(s, settled.reason().orElseThrow());
                return;
            }
            if (f.lastSequence() != null) {
                s.checkpoint = f.lastSequence();
            }
            if (f.end()) {
                finish(s);
            } else if (s.inFlight.isEmpty() || !s.inFlight.peekFirst().future().isDone()) {
                save(s, Checkpoint.after(s.checkpoint));
            }
        }
    }

    /** Marks the shard read to its end: stores it as finished, then releases it. */
    void finish(ShardState s) {
        s.finished = true;
        save(s, Checkpoint.finished(s.checkpoint));
        ctx.discoverBy(0); // its children may start
        ctx.tell(l -> l.onShardFinished(s.id));
    }

    /** Records the checkpoint and stores it now, or later if the store fails transiently. */
    void save(ShardState s, Checkpoint cp) {
        s.checkpoint = cp.sequenceNumber();
        s.pendingSave = cp;
        storePending(s);
    }

    /** Stores the shard's pending checkpoint; false if that has to wait. */
    private boolean storePending(ShardState s) {
        Checkpoint cp = s.pendingSave;
        if (cp == null) {
            return true;
        }
        try {
            store.save(ctx.streamArn, s.id, ctx.workerId, cp);
        } catch (CdcException e) {
            if (!e.retryable()) {
                leases.lose(s, "saving its checkpoint failed for good (" + e.getMessage() + ")");
                return false;
            }
            LOG.warn("Saving the checkpoint of shard {} failed; trying again in a second: {}", s.id, e.getMessage());
            storeRetryAt = ctx.now() + RETRY_MILLIS;
            return false;
        }
        s.pendingSave = null;
        s.checkpointSavedAt = ctx.now();
        ctx.tell(l -> l.onCheckpoint(s.id, cp));
        if (s.finished && s.owned) {
            leases.release(s); // its final save had been deferred
        }
        return true;
    }

    /** Sends the shard back to its checkpoint after a pause. */
    void rewind(ShardState s, String reason) {
        s.rewindToCheckpoint();
        long millis = pacer.pause(s, ctx.now());
        // The reason may quote item data (a sink's message): DEBUG only.
        LOG.warn("A batch of shard {} was not acknowledged; reading again after checkpoint {} in {} ms", s.id,
                s.checkpoint, millis);
        LOG.debug("Shard {} rewinds because: {}", s.id, reason);
        ctx.tell(l -> l.onRewind(s.id, s.checkpoint, reason));
    }

    /** Whether any shard waits for a deferred save. */
    boolean pending(ShardCatalog catalog) {
        for (ShardState s : catalog.view()) {
            if (s.pendingSave != null) {
                return true;
            }
        }
        return false;
    }
}
