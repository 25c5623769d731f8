package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.api.sink.DeadLetterSink;
import io.github.resilience4j.retry.Retry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Writes a route's dead letters: one call at a time (a dead-letter sink need not be thread-safe),
 * retried with the route's backoff on the scheduler, never sleeping a thread. Reports success, or the
 * reason it gave up, to the batch that sent them.
 */
final class DeadLetterWriter {
    private final String route;
    private final DeadLetterSink sink;
    private final Retry retry;
    private final ScheduledExecutorService scheduler;
    private final Executor executor;
    private final SafeListener listener;

    DeadLetterWriter(String route, DeadLetterSink sink, Retry retry, ScheduledExecutorService scheduler,
            Executor executor, SafeListener listener) {
        this.route = route;
        this.sink = sink;
        this.retry = retry;
        this.scheduler = scheduler;
        this.executor = executor;
        this.listener = listener;
    }

    /** Whether there is a sink to write to. */
    boolean configured() {
        return sink != null;
    }

    /** Writes {@code letters}; then {@code written}, or {@code failed} with the reason after the retries. */
    void write(List<DeadLetter> letters, Runnable written, Consumer<String> failed) {
        attempt(letters, retry.asyncContext(), written, failed);
    }

    private void attempt(List<DeadLetter> letters, Retry.AsyncContext<Object> context, Runnable written,
            Consumer<String> failed) {
        try {
            synchronized (sink) {
                sink.accept(letters);
            }
        } catch (RuntimeException e) {
            long delay = context.onError(e);
            if (delay >= 0) {
                listener.onRetry(route, -1, letters.size(), Duration.ofMillis(delay), "dead-letter sink failed: "
                        + RouteWorker.describe(e));
                String cause = RouteWorker.describe(e);
                try {
                    scheduler.schedule(() -> retryOn(letters, context, written, failed, cause), delay,
                            TimeUnit.MILLISECONDS);
                } catch (RejectedExecutionException rejected) {
                    failed.accept("the dead-letter sink failed and the scheduler rejected its retry: " + cause);
                }
                return;
            }
            failed.accept("the dead-letter sink failed: " + RouteWorker.describe(e));
            return;
        }
        context.onComplete();
        written.run();
    }

    /**
     * Hands a retry to the executor. A rejection here runs inside a scheduled task, where a thrown
     * exception would vanish into its future and the batch would never settle: it is reported instead.
     */
    private void retryOn(List<DeadLetter> letters, Retry.AsyncContext<Object> context, Runnable written,
            Consumer<String> failed, String cause) {
        try {
            executor.execute(() -> attempt(letters, context, written, failed));
        } catch (RejectedExecutionException rejected) {
            failed.accept("the dead-letter sink failed and the executor rejected its retry: " + cause);
        }
    }
}
