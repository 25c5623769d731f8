package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.sink.DeadLetter;
import java.time.Duration;
import java.util.Map;

/**
 * Metrics hooks. Methods are called from pipeline threads, must be fast and thread-safe, and may not
 * block; an exception thrown here is logged and ignored. Every method defaults to doing nothing.
 */
public interface PipelineListener {

    /**
     * One listener calling each of {@code listeners} in turn; one that throws is logged and skipped, and
     * the others are still called.
     */
    static PipelineListener composite(java.util.List<? extends PipelineListener> listeners) {
        java.util.List<SafeListener> each = listeners.stream()
                .map(l -> new SafeListener(java.util.Objects.requireNonNull(l, "a listener must not be null"))).toList();
        return each.size() == 1 ? each.get(0) : new CompositeListener(each);
    }

    /** {@link #composite(java.util.List)} of the given listeners. */
    static PipelineListener composite(PipelineListener... listeners) {
        return composite(java.util.List.of(listeners));
    }

    /** {@code events} entered the route's buffer. */
    default void onEventsIn(String route, int events) {
    }

    /** A buffer was cut into a sink call of {@code events} events and {@code bytes} estimated bytes. */
    default void onFlush(String route, FlushCause cause, int events, long bytes) {
    }

    /** The sink accepted {@code events} events; {@code maxLag} is now minus the oldest creation time. */
    default void onDelivered(String route, int events, Duration maxLag) {
    }

    /**
     * {@code events} failed events will be sent again as attempt {@code attempt} after {@code backoff}.
     * {@code attempt} is -1 when it is the dead-letter sink's call that is retried.
     */
    default void onRetry(String route, int attempt, int events, Duration backoff, String reason) {
    }

    /** An event was accepted by the dead-letter sink. */
    default void onDeadLetter(DeadLetter letter) {
    }

    /** What one sink call cost, as the sink counted it (requests, billed units, PUTs). */
    default void onSinkCounters(String route, Map<String, Long> counters) {
    }

    /** A submit had to wait because the route held {@code held} events, its capacity. */
    default void onBackpressure(String route, int held) {
    }

    /** The route stopped delivering; its events are no longer acknowledged. */
    default void onRouteHalted(String route, String reason) {
    }
}
