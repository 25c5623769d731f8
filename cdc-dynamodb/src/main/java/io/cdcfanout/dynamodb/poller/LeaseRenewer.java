package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.CdcException;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renews the leases this poller holds on its own timer, never on the reading thread: that thread can
 * block in {@code pipeline.submit} while a route is full, and a lease renewed there would lapse while
 * its owner still holds records in flight, letting a second poller read the same shard. A lease found
 * taken over is handed to the reading thread ({@link #takeLost}), which gives up that shard. Renewal
 * and release of one shard are serialized, so a release is never undone by a renewal racing it.
 * Thread-safe.
 */
final class LeaseRenewer {
    private static final Logger LOG = LoggerFactory.getLogger(LeaseRenewer.class);

    private final String streamArn;
    private final String workerId;
    private final CheckpointStore store;
    private final Set<String> held = ConcurrentHashMap.newKeySet();
    private final Queue<String> lost = new ConcurrentLinkedQueue<>();
    private final Runnable wake;
    private ScheduledFuture<?> task;

    LeaseRenewer(String streamArn, String workerId, CheckpointStore store, Runnable wake) {
        this.streamArn = streamArn;
        this.workerId = workerId;
        this.store = store;
        this.wake = wake;
    }

    /** Renews every {@code intervalMillis} on {@code timer} until {@link #stop()}. */
    synchronized void start(ScheduledExecutorService timer, long intervalMillis) {
        try {
            task = timer.scheduleWithFixedDelay(this::renewAll, intervalMillis, intervalMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            throw new CdcException("the poller's lease timer rejected the renewal task; is it shut down?", e, false);
        }
    }

    synchronized void stop() {
        if (task != null) {
            task.cancel(false);
        }
    }

    /** From now on this shard's lease is renewed. */
    void hold(String shardId) {
        held.add(shardId);
    }

    /** Stops renewing the shard (lost, finished or released). */
    synchronized void drop(String shardId) {
        held.remove(shardId);
    }

    /** Stops renewing the shard and gives up its lease, atomically with respect to renewal. */
    synchronized void release(String shardId) {
        held.remove(shardId);
        store.release(streamArn, shardId, workerId);
    }

    /** A shard whose lease was found taken over since the last call, or null. */
    String takeLost() {
        return lost.poll();
    }

    /** The shards whose leases are renewed now. */
    Set<String> held() {
        return Set.copyOf(held);
    }

    /** One round of renewals; package-private for tests. */
    void renewAll() {
        for (String shardId : held()) {
            renew(shardId);
        }
    }

    private synchronized void renew(String shardId) {
        if (!held.contains(shardId)) {
            return; // released or lost since the round began
        }
        try {
            if (!store.claim(streamArn, shardId, workerId)) {
                held.remove(shardId);
                lost.add(shardId);
                wake.run();
            }
        } catch (CdcException e) {
            // Transient or not, the next round tries again; the lease outlives a few missed renewals.
            LOG.warn("Renewing the lease of shard {} failed; trying again at the next renewal: {}", shardId,
                    e.getMessage());
        } catch (RuntimeException e) {
            LOG.warn("Renewing the lease of shard {} threw {}; trying again at the next renewal", shardId,
                    e.getClass().getName());
        }
    }
}
