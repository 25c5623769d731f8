package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.ChangeEvent;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * How far a submitted batch was acknowledged: the rule every source checkpoints by. The events
 * before the first unacknowledged one (in batch order) are done; the source checkpoints after them
 * and reads again from that event. The Lambda processor, the poller and the KCL processor all use it.
 *
 * @param acknowledged how many leading events of the batch every route acknowledged
 * @param reason why the next event was not acknowledged; empty when the whole batch was
 */
public record Settlement(int acknowledged, Optional<String> reason) {
    public Settlement {
        Objects.requireNonNull(reason, "reason must not be null");
        if (acknowledged < 0) {
            throw new IllegalArgumentException("acknowledged must not be negative (was " + acknowledged + ")");
        }
    }

    /** Whether the whole batch was acknowledged. */
    public boolean complete() {
        return reason.isEmpty();
    }

    /** The settlement of {@code submitted}, the list given to {@link Pipeline#submit}, by its result. */
    public static <T> Settlement of(List<? extends ChangeEvent<T>> submitted, BatchResult<T> result) {
        Objects.requireNonNull(submitted, "submitted must not be null");
        Objects.requireNonNull(result, "result must not be null");
        if (result.succeeded()) {
            return new Settlement(submitted.size(), Optional.empty());
        }
        ChangeEvent<T> first = result.firstFailure().orElseThrow();
        for (int i = 0; i < submitted.size(); i++) {
            if (submitted.get(i) == first) {
                return new Settlement(i, Optional.of(result.failures().get(0).reason()));
            }
        }
        // Not one of the batch's events: nothing counts as acknowledged, which loses nothing.
        return new Settlement(0, Optional.of(result.failures().get(0).reason()));
    }

    /**
     * Waits up to {@code timeout} for {@code done}, the future {@link Pipeline#submit} returned for
     * {@code submitted}, and settles it. A batch that does not settle in time, or an interrupted wait,
     * counts as nothing acknowledged (the interrupt flag is kept), so the source reads it all again.
     */
    public static <T> Settlement await(List<? extends ChangeEvent<T>> submitted,
            CompletableFuture<BatchResult<T>> done, Duration timeout) {
        Objects.requireNonNull(done, "done must not be null");
        Objects.requireNonNull(timeout, "timeout must not be null");
        try {
            long nanos;
            try {
                nanos = timeout.isNegative() ? 0 : timeout.toNanos();
            } catch (ArithmeticException tooLong) {
                nanos = Long.MAX_VALUE;
            }
            return of(submitted, done.get(nanos, TimeUnit.NANOSECONDS));
        } catch (TimeoutException e) {
            return new Settlement(0, Optional.of("the batch did not settle within " + timeout));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Settlement(0, Optional.of("interrupted while waiting for the batch"));
        } catch (ExecutionException e) {
            // The pipeline's futures never fail; if one did, nothing counts as acknowledged.
            return new Settlement(0, Optional.of("the pipeline failed the batch: " + e.getCause().getClass().getName()));
        }
    }
}
