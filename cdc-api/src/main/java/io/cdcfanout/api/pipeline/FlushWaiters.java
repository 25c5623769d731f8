package io.cdcfanout.api.pipeline;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The callers of {@code flush()} waiting for a route: each waits for the events that were on the
 * route when it called, however they settle (in any order, since batches run at once). Guarded by the
 * route's lock; futures are completed by the caller, outside it.
 */
final class FlushWaiters {
    private static final class Waiter {
        final long watermark;
        long remaining;
        final CompletableFuture<Void> future;

        Waiter(long watermark, long remaining, CompletableFuture<Void> future) {
            this.watermark = watermark;
            this.remaining = remaining;
            this.future = future;
        }
    }

    private final List<Waiter> waiters = new ArrayList<>();

    /** A waiter for the {@code outstanding} events up to sequence {@code watermark}. */
    CompletableFuture<Void> add(long watermark, long outstanding) {
        CompletableFuture<Void> future = new CompletableFuture<>();
        if (outstanding == 0) {
            future.complete(null);
        } else {
            waiters.add(new Waiter(watermark, outstanding, future));
        }
        return future;
    }

    /** An event settled; adds the futures now due to {@code ready}. */
    void settled(long seq, List<CompletableFuture<Void>> ready) {
        if (waiters.isEmpty()) {
            return;
        }
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext();) {
            Waiter w = it.next();
            if (seq <= w.watermark && --w.remaining == 0) {
                ready.add(w.future);
                it.remove();
            }
        }
    }

    /** Every waiter, now due (on abort). */
    void all(List<CompletableFuture<Void>> ready) {
        waiters.forEach(w -> ready.add(w.future));
        waiters.clear();
    }

    static void complete(List<CompletableFuture<Void>> ready) {
        ready.forEach(f -> f.complete(null));
    }
}
