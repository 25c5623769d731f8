package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.sink.DeadLetter;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** Calls several listeners in turn, each shielded by a {@link SafeListener}. */
final class CompositeListener implements PipelineListener {
    private final List<SafeListener> listeners;

    CompositeListener(List<SafeListener> listeners) {
        this.listeners = List.copyOf(listeners);
    }

    @Override
    public void onEventsIn(String route, int events) {
        listeners.forEach(l -> l.onEventsIn(route, events));
    }

    @Override
    public void onFlush(String route, FlushCause cause, int events, long bytes) {
        listeners.forEach(l -> l.onFlush(route, cause, events, bytes));
    }

    @Override
    public void onDelivered(String route, int events, Duration maxLag) {
        listeners.forEach(l -> l.onDelivered(route, events, maxLag));
    }

    @Override
    public void onRetry(String route, int attempt, int events, Duration backoff, String reason) {
        listeners.forEach(l -> l.onRetry(route, attempt, events, backoff, reason));
    }

    @Override
    public void onDeadLetter(DeadLetter letter) {
        listeners.forEach(l -> l.onDeadLetter(letter));
    }

    @Override
    public void onSinkCounters(String route, Map<String, Long> counters) {
        listeners.forEach(l -> l.onSinkCounters(route, counters));
    }

    @Override
    public void onBackpressure(String route, int held) {
        listeners.forEach(l -> l.onBackpressure(route, held));
    }

    @Override
    public void onRouteHalted(String route, String reason) {
        listeners.forEach(l -> l.onRouteHalted(route, reason));
    }
}
