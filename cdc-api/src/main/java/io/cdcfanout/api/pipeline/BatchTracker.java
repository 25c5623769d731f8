package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.ChangeEvent;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Counts, per event of one submitted batch, the routes that have not settled it yet, and completes
 * the batch's future when none is left. Every (event, route) pair settles exactly once.
 */
final class BatchTracker<T> {
    private final List<ChangeEvent<T>> events;
    private final AtomicIntegerArray pendingRoutes;
    private final AtomicReferenceArray<String> failures;
    private final AtomicIntegerArray deadLettered;
    /** Events not settled on every route, plus one until {@link #seal()}. */
    private final AtomicInteger outstanding;
    private final CompletableFuture<BatchResult<T>> future = new CompletableFuture<>();
    /** The submitter's MDC, which the sink calls of this batch's events run with; null if empty. */
    final java.util.Map<String, String> mdc = org.slf4j.MDC.getCopyOfContextMap();

    BatchTracker(List<ChangeEvent<T>> events) {
        this.events = events;
        this.pendingRoutes = new AtomicIntegerArray(events.size());
        this.failures = new AtomicReferenceArray<>(events.size());
        this.deadLettered = new AtomicIntegerArray(events.size());
        this.outstanding = new AtomicInteger(events.size() + 1);
    }

    /** Declares on how many routes each event waits; call once, before any route can settle one. */
    void expect(int[] routesPerEvent) {
        int unrouted = 0;
        for (int i = 0; i < routesPerEvent.length; i++) {
            if (routesPerEvent[i] == 0) {
                unrouted++;
            } else {
                pendingRoutes.set(i, routesPerEvent[i]);
            }
        }
        if (unrouted > 0) {
            outstanding.addAndGet(-unrouted);
        }
    }

    /** Allows completion once every event has settled. */
    void seal() {
        if (outstanding.decrementAndGet() == 0) {
            complete();
        }
    }

    void delivered(int index) {
        settle(index);
    }

    void deadLettered(int index) {
        deadLettered.set(index, 1);
        settle(index);
    }

    void failed(int index, String reason) {
        failures.compareAndSet(index, null, reason);
        settle(index);
    }

    CompletableFuture<BatchResult<T>> future() {
        return future;
    }

    private void settle(int index) {
        if (pendingRoutes.decrementAndGet(index) == 0 && outstanding.decrementAndGet() == 0) {
            complete();
        }
    }

    private void complete() {
        int n = events.size();
        String[] reasons = new String[n];
        int dead = 0;
        for (int i = 0; i < n; i++) {
            reasons[i] = failures.get(i);
            dead += deadLettered.get(i);
        }
        future.complete(new BatchResult<>(events, reasons, dead));
    }
}
