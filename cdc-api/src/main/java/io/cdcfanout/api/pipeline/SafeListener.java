package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.sink.DeadLetter;
import java.time.Duration;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Shields the pipeline from a listener that throws. */
final class SafeListener implements PipelineListener {
    private static final Logger LOG = LoggerFactory.getLogger(SafeListener.class);

    private final PipelineListener delegate;

    SafeListener(PipelineListener delegate) {
        this.delegate = delegate;
    }

    private void failed(String method, RuntimeException e) {
        LOG.warn("PipelineListener.{} threw {}; ignored", method, e.getClass().getName(), e);
    }

    @Override
    public void onEventsIn(String route, int events) {
        try {
            delegate.onEventsIn(route, events);
        } catch (RuntimeException e) {
            failed("onEventsIn", e);
        }
    }

    @Override
    public void onFlush(String route, FlushCause cause, int events, long bytes) {
        try {
            delegate.onFlush(route, cause, events, bytes);
        } catch (RuntimeException e) {
            failed("onFlush", e);
        }
    }

    @Override
    public void onDelivered(String route, int events, Duration maxLag) {
        try {
            delegate.onDelivered(route, events, maxLag);
        } catch (RuntimeException e) {
            failed("onDelivered", e);
        }
    }

    @Override
    public void onRetry(String route, int attempt, int events, Duration backoff, String reason) {
        try {
            delegate.onRetry(route, attempt, events, backoff, reason);
        } catch (RuntimeException e) {
            failed("onRetry", e);
        }
    }

    @Override
    public void onDeadLetter(DeadLetter letter) {
        try {
            delegate.onDeadLetter(letter);
        } catch (RuntimeException e) {
            failed("onDeadLetter", e);
        }
    }

    @Override
    public void onSinkCounters(String route, Map<String, Long> counters) {
        try {
            delegate.onSinkCounters(route, counters);
        } catch (RuntimeException e) {
            failed("onSinkCounters", e);
        }
    }

    @Override
    public void onBackpressure(String route, int held) {
        try {
            delegate.onBackpressure(route, held);
        } catch (RuntimeException e) {
            failed("onBackpressure", e);
        }
    }

    @Override
    public void onRouteHalted(String route, String reason) {
        try {
            delegate.onRouteHalted(route, reason);
        } catch (RuntimeException e) {
            failed("onRouteHalted", e);
        }
    }
}
