package io.cdcfanout.testkit;

import io.cdcfanout.api.pipeline.FlushCause;
import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.api.sink.DeadLetter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** A listener that counts what it hears, by route. Thread-safe. */
public final class RecordingListener implements PipelineListener {
    /** One flush: which route, why, and its size. */
    public record Flush(String route, FlushCause cause, int events, long bytes) {
    }

    private final List<Flush> flushes = new ArrayList<>();
    private final Map<String, AtomicLong> counters = new ConcurrentHashMap<>();
    private final List<String> halts = new ArrayList<>();
    private volatile Duration maxLag = Duration.ZERO;

    /** A listener with every count at 0. */
    public RecordingListener() {
    }

    private void add(String name, long delta) {
        counters.computeIfAbsent(name, k -> new AtomicLong()).addAndGet(delta);
    }

    @Override
    public void onEventsIn(String route, int events) {
        add(route + ".in", events);
    }

    @Override
    public synchronized void onFlush(String route, FlushCause cause, int events, long bytes) {
        flushes.add(new Flush(route, cause, events, bytes));
    }

    @Override
    public synchronized void onDelivered(String route, int events, Duration lag) {
        add(route + ".delivered", events);
        if (lag.compareTo(maxLag) > 0) {
            maxLag = lag;
        }
    }

    @Override
    public void onRetry(String route, int attempt, int events, Duration backoff, String reason) {
        add(route + ".retries", 1);
        add(route + ".retriedEvents", events);
    }

    @Override
    public void onDeadLetter(DeadLetter letter) {
        add(letter.route() + ".deadLettered", 1);
    }

    @Override
    public void onSinkCounters(String route, Map<String, Long> sinkCounters) {
        sinkCounters.forEach((name, value) -> add(route + ".sink." + name, value));
    }

    @Override
    public void onBackpressure(String route, int held) {
        add(route + ".backpressure", 1);
    }

    @Override
    public synchronized void onRouteHalted(String route, String reason) {
        halts.add(route);
    }

    /**
     * A counter: {@code <route>.in}, {@code .delivered}, {@code .retries}, {@code .retriedEvents},
     * {@code .deadLettered}, {@code .backpressure} or {@code .sink.<name>}; 0 if never counted.
     */
    public long count(String name) {
        AtomicLong value = counters.get(name);
        return value == null ? 0 : value.get();
    }

    /** Every flush, in order; a copy. */
    public synchronized List<Flush> flushes() {
        return List.copyOf(flushes);
    }

    /** The routes that halted, in order. */
    public synchronized List<String> halts() {
        return List.copyOf(halts);
    }

    /** The largest lag any delivery reported. */
    public Duration maxLag() {
        return maxLag;
    }
}
