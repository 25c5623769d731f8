package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.CdcException;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this poller's leases in the checkpoint store: claims the shards whose turn has come, has the
 * {@link LeaseRenewer} renew the ones it holds (on its own timer; without one, they are renewed here,
 * at each discovery), and releases finished ones. Transient store failures are retried a second later
 * (the retry is scheduled through the next discovery); a lease another poller took gives up that one
 * shard, and a shard given up is taken back, from the checkpoint the store holds then, once free.
 * Touched only by the poller thread.
 */
final class LeaseKeeper {
    static final long RETRY_MILLIS = 1_000;
    private static final Logger LOG = LoggerFactory.getLogger(LeaseKeeper.class);

    private final PollerContext ctx;
    private final CheckpointStore store;
    private final LeaseRenewer renewer;

    LeaseKeeper(PollerContext ctx, CheckpointStore store) {
        this(ctx, store, null);
    }

    /** With {@code renewer} null, held leases are renewed by {@link #keep}. */
    LeaseKeeper(PollerContext ctx, CheckpointStore store, LeaseRenewer renewer) {
        this.ctx = ctx;
        this.store = store;
        this.renewer = renewer;
    }

    /** Gives up the shards whose leases the renewer found taken over. */
    void collectLost(ShardCatalog catalog) {
        if (renewer == null) {
            return;
        }
        for (String id = renewer.takeLost(); id != null; id = renewer.takeLost()) {
            ShardState s = catalog.get(id);
            if (s != null && s.owned) {
                lose(s, "its lease was taken over by another poller");
            }
        }
    }

    /**
     * Claims the eligible shards nobody holds and renews the ones held.
     *
     * @throws CdcException if the store fails for good
     */
    void keep(ShardCatalog catalog) {
        collectLost(catalog);
        Map<String, Checkpoint> fresh = null; // the store's checkpoints, read once per pass at the first claim
        for (ShardState s : catalog.all()) {
            boolean renewing = s.owned && !s.finished;
            if (renewing && renewer != null) {
                continue; // renewed on the renewer's own timer
            }
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
                if (fresh == null) {
                    fresh = loadOrNull();
                }
                if (fresh == null) {
                    s.owned = false; // claimed, but its checkpoint could not be read: claim it again soon
                } else {
                    startFrom(s, fresh.get(s.id));
                    if (renewer != null && !s.finished) {
                        renewer.hold(s.id);
                    }
                }
            } else if (!renewing) {
                if (!s.seenForeign) {
                    s.seenForeign = true;
                    LOG.info("Shard {} of {} is owned by another poller; leaving it", s.id, ctx.streamArn);
                } else {
                    LOG.debug("Shard {} of {} is still owned by another poller", s.id, ctx.streamArn);
                }
            }
        }
    }

    /**
     * The store's checkpoints; null, and another try a second later, when the store could not be read
     * for now.
     *
     * @throws CdcException if the store fails for good
     */
    private Map<String, Checkpoint> loadOrNull() {
        try {
            return store.load(ctx.streamArn);
        } catch (CdcException e) {
            if (!e.retryable()) {
                throw e;
            }
            LOG.warn("Reading the checkpoints of {} to start a claimed shard failed; trying again in a second: {}",
                    ctx.streamArn, e.getMessage());
            ctx.discoverBy(ctx.now() + RETRY_MILLIS);
            return null;
        }
    }

    /**
     * A shard just claimed starts from what the store holds now, not from what this poller read at its
     * start: another poller may have read it further, or to its end, since (it is then released at once).
     */
    private void startFrom(ShardState s, Checkpoint cp) {
        s.lost = false;
        if (cp != null) {
            s.checkpoint = cp.sequenceNumber();
            s.iterator = null;
            s.lastRead = null;
        }
        if (cp != null && cp.finished()) {
            s.finished = true;
            release(s);
            ctx.discoverBy(0); // its children may start
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
        if (renewer != null) {
            renewer.drop(s.id);
        }
        s.rewindToCheckpoint();
        s.pendingSave = null;
        ctx.tell(l -> l.onShardLost(s.id, why));
    }

    /** Gives up a finished shard's lease; a failure only delays it to the lease's expiry. */
    void release(ShardState s) {
        s.owned = false;
        try {
            if (renewer != null) {
                renewer.release(s.id);
            } else {
                store.release(ctx.streamArn, s.id, ctx.workerId);
            }
        } catch (CdcException e) {
            LOG.warn("Releasing finished shard {} failed; its lease will lapse instead: {}", s.id, e.getMessage());
        }
    }

    /** Releases every shard held, on stop; failures are logged. */
    void releaseAll(ShardCatalog catalog) {
        for (ShardState s : catalog.view()) {
            if (s.owned) {
                try {
                    if (renewer != null) {
                        renewer.release(s.id);
                    } else {
                        store.release(ctx.streamArn, s.id, ctx.workerId);
                    }
                } catch (RuntimeException e) {
                    LOG.warn("Releasing shard {} failed: {}", s.id, e.getClass().getName());
                }
            }
        }
    }
}
