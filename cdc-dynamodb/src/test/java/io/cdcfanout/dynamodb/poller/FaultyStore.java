package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.CdcException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A checkpoint store that fails on cue: claims (first claims), renewals (claims of a shard already
 * held), saves and releases can each throw a retryable error a number of times, and a takeover makes
 * renewals answer false. Every call is logged.
 */
final class FaultyStore implements CheckpointStore {
    final CheckpointStore real = CheckpointStore.inMemory();
    final List<String> calls = new CopyOnWriteArrayList<>() {
        private static final long serialVersionUID = 1L;

        @Override
        public boolean add(String call) {
            boolean added = super.add(call);
            synchronized (FaultyStore.this) {
                FaultyStore.this.notifyAll();
            }
            return added;
        }
    };
    final AtomicInteger claimFailures = new AtomicInteger();
    final AtomicInteger renewFailures = new AtomicInteger();
    final AtomicInteger releaseFailures = new AtomicInteger();
    final AtomicInteger saveFailures = new AtomicInteger();
    final AtomicInteger loadFailures = new AtomicInteger();
    volatile Predicate<Checkpoint> failSaveOf = cp -> true;
    volatile boolean takenOver;
    private final Map<String, Boolean> held = new java.util.concurrent.ConcurrentHashMap<>();

    @Override
    public Map<String, Checkpoint> load(String streamArn) {
        calls.add("load");
        if (loadFailures.getAndDecrement() > 0) {
            throw new CdcException("store unreachable (injected) on load", true);
        }
        return real.load(streamArn);
    }

    @Override
    public boolean claim(String streamArn, String shardId, String owner) {
        boolean renewal = held.containsKey(shardId);
        calls.add((renewal ? "renew " : "claim ") + shardId);
        if (renewal ? renewFailures.getAndDecrement() > 0 : claimFailures.getAndDecrement() > 0) {
            throw new CdcException("store unreachable (injected) on " + (renewal ? "renew" : "claim"), true);
        }
        if (takenOver) {
            held.remove(shardId);
            return false;
        }
        boolean ok = real.claim(streamArn, shardId, owner);
        if (ok) {
            held.put(shardId, true);
        }
        return ok;
    }

    @Override
    public void save(String streamArn, String shardId, String owner, Checkpoint checkpoint) {
        calls.add("save " + shardId + (checkpoint.finished() ? " finished" : ""));
        if (failSaveOf.test(checkpoint) && saveFailures.getAndDecrement() > 0) {
            throw new CdcException("store unreachable (injected) on save", true);
        }
        real.save(streamArn, shardId, owner, checkpoint);
    }

    @Override
    public void forget(String streamArn, String shardId) {
        calls.add("forget " + shardId);
        real.forget(streamArn, shardId);
    }

    @Override
    public void release(String streamArn, String shardId, String owner) {
        calls.add("release " + shardId);
        held.remove(shardId);
        if (releaseFailures.getAndDecrement() > 0) {
            throw new CdcException("store unreachable (injected) on release", true);
        }
        real.release(streamArn, shardId, owner);
    }

    long count(String prefix) {
        return calls.stream().filter(c -> c.startsWith(prefix)).count();
    }

    /** Waits, on the store's calls (no sleeping), until {@code n} calls start with {@code prefix}; false on timeout. */
    synchronized boolean await(String prefix, long n, java.time.Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (count(prefix) < n) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(left / 1_000_000 + 1);
        }
        return true;
    }
}
