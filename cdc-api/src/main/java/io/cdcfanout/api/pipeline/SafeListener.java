package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.sink.DeadLetter;
import java.time.Duration;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Shields the pipeline from a listener that throws: the exception is logged and ignored. */
final class SafeListener implements PipelineListener {
    private static final Logger LOG = LoggerFactory.getLogger(SafeListener.class);

    private final PipelineListener delegate;

    SafeListener(PipelineListener delegate) {
        this.delegate = delegate;
    }

    private static void guard(String method, Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            LOG.warn("PipelineListener.{} threw {}; ignored", method, e.getClass().getName());
            LOG.debug("PipelineListener.{} threw", method, e);
        }
    }

    @Override
    public void onEventsIn(String route, int events) {
        guard("onEventsIn", () -> delegate.onEventsIn(route, events));
    }

    @Override
    public void onFlush(String route, FlushCause cause, int events, long bytes) {
        guard("onFlush", () -> delegate.onFlush(route, cause, events, bytes));
    }

    @Override
    public void onDelivered(String route, int events, Duration maxLag) {
        guard("onDelivered", () -> delegate.onDelivered(route, events, maxLag));
    }

    @Override
    public void onRetry(String route, int attempt, int events, Duration backoff, String reason) {
        guard("onRetry", () -> delegate.onRetry(route, attempt, events, backoff, reason));
    }

    @Override
    public void onDeadLetter(DeadLetter letter) {
        guard("onDeadLetter", () -> delegate.onDeadLetter(letter));
    }

    @Override
    public void onSinkCounters(String route, Map<String, Long> counters) {
        guard("onSinkCounters", () -> delegate.onSinkCounters(route, counters));
    }

    @Override
    public void onBackpressure(String route, int held) {
        guard("onBackpressure", () -> delegate.onBackpressure(route, held));
    }

    @Override
    public void onRouteHalted(String route, String reason) {
        guard("onRouteHalted", () -> delegate.onRouteHalted(route, reason));
    }
}
