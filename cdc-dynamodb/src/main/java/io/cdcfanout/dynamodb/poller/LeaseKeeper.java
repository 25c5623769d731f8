package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.CdcException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this poller's leases in the checkpoint store: claims the shards whose turn has come, renews
 * the ones it holds, and releases finished ones. Transient store failures are retried a second later
 * (the retry is scheduled through the next discovery); a lease another poller took gives up that one
 * shard, and a shard given up is taken back, from the checkpoint the store holds then, once free.
 * Touched only by the poller thread.
 */
final class LeaseKeeper {
    static final long RETRY_MILLIS = 1_000;
    private static final Logger LOG = LoggerFactory.getLogger(LeaseKeeper.class);

    private final PollerContext ctx;
    private final CheckpointStore store;

    LeaseKeeper(PollerContext ctx, CheckpointStore store) {
        this.ctx = ctx;
        this.store = store;
    }

    /**
     * Claims the eligible shards nobody holds and renews the ones held.
     *
     * @throws CdcException if the store fails for good
     */
    void keep(ShardCatalog catalog) {
        for (ShardState s : catalog.all()) {
            boolean renewing = s.owned && !s.finished;
            if (!renewing && (s.owned || !catalog.eligible(s))) {
                continue;
            }
            boolean held;
            try {
                held = store.claim(ctx.streamArn, s.id, ctx.workerId);
            } catch (CdcException e) {
                if (!e.retryable()) {
                    throw e;
                }
                LOG.warn("{} shard {} failed; trying again in a second: {}", renewing ? "Renewing the lease of"
                        : "Claiming", s.id, e.getMessage());
                ctx.discoverBy(ctx.now() + RETRY_MILLIS);
                continue;
            }
            if (renewing && !held) {
                lose(s, "its lease was taken over by another poller");
            } else if (!renewing && held) {
                s.owned = true;
                if (s.lost) {
                    takeBack(s);
                }
            } else if (!renewing) {
                LOG.info("Shard {} of {} is owned by another poller; leaving it", s.id, ctx.streamArn);
            }
        }
    }

    /** Taken back after another poller held it: start from what that poller stored. */
    private void takeBack(ShardState s) {
        s.lost = false;
        Checkpoint cp = store.load(ctx.streamArn).get(s.id);
        s.checkpoint = cp == null ? null : cp.sequenceNumber();
        if (cp != null && cp.finished()) {
            s.finished = true;
            release(s);
        }
    }

    /**
     * Gives up one shard: stops reading it and forgets its unsettled batches (the new owner reads them
     * again from the stored checkpoint); the other shards go on.
     */
    void lose(ShardState s, String why) {
        LOG.warn("Giving up shard {} of {}: {}", s.id, ctx.streamArn, why);
        s.owned = false;
        s.lost = true;
        s.rewindToCheckpoint();
        s.pendingSave = null;
        ctx.tell(l -> l.onShardLost(s.id, why));
    }

    /** Gives up a finished shard's lease; a failure only delays it to the lease's expiry. */
    void release(ShardState s) {
        s.owned = false;
        try {
            store.release(ctx.streamArn, s.id, ctx.workerId);
        } catch (CdcException e) {
            LOG.warn("Releasing finished shard {} failed; its lease will lapse instead: {}", s.id, e.getMessage());
        }
    }

    /** Releases every shard held, on stop; failures are logged. */
    void releaseAll(ShardCatalog catalog) {
        for (ShardState s : catalog.view()) {
            if (s.owned) {
                try {
                    store.release(ctx.streamArn, s.id, ctx.workerId);
                } catch (RuntimeException e) {
                    LOG.warn("Releasing shard {} failed: {}", s.id, e.getClass().getName());
                }
            }
        }
    }
}
