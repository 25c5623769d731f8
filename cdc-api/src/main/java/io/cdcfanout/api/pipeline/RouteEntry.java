package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/** One event on this route; settles its tracker slot exactly once. */
final class RouteEntry<T, R> {
    private static final VarHandle SETTLED;

    static {
        try {
            SETTLED = MethodHandles.lookup().findVarHandle(RouteEntry.class, "settled", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final BatchTracker<T> tracker;
    final int index;
    final ChangeEvent<T> original;
    final ChangeEvent<R> routed;
    final String poison;
    final long size;
    long seq;
    long enqueuedAt;
    Object orderKey;
    boolean holding; // guarded by the route's lock: holds its order key in the gate
    boolean accounted; // guarded by the route's lock: counted out of the gate and the flush waiters
    String lastReason;
    boolean redriven;
    @SuppressWarnings("unused")
    private volatile int settled;

    RouteEntry(BatchTracker<T> tracker, int index, ChangeEvent<T> original, ChangeEvent<R> routed, String poison,
            long size) {
        this.tracker = tracker;
        this.index = index;
        this.original = original;
        this.routed = routed;
        this.poison = poison;
        this.size = size;
    }

    EventKey key() {
        return routed != null ? routed.key() : original.key();
    }

    private boolean claim() {
        return SETTLED.compareAndSet(this, 0, 1);
    }

    void delivered() {
        if (claim()) {
            tracker.delivered(index);
        }
    }

    void deadLettered() {
        if (claim()) {
            tracker.deadLettered(index);
        }
    }

    void failed(String reason) {
        if (claim()) {
            tracker.failed(index, reason);
        }
    }
}
