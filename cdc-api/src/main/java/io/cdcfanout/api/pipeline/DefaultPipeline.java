package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.api.sink.DeadLetterSink;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The pipeline: offers each event to every route, and tracks each batch until it settles. */
final class DefaultPipeline<T> implements Pipeline<T> {
    private static final Logger LOG = LoggerFactory.getLogger(DefaultPipeline.class);
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final List<RouteWorker<T, ?>> workers;
    private final Map<String, RouteWorker<T, ?>> byName = new LinkedHashMap<>();
    private final DeadLetterSink deadLetters;
    private final ScheduledExecutorService ownedScheduler;
    private final ExecutorService ownedExecutor;
    private final Duration closeTimeout;
    private final AtomicBoolean closed = new AtomicBoolean();

    DefaultPipeline(List<Route<T, ?>> routes, DeadLetterSink deadLetters, Clock clock,
            ScheduledExecutorService scheduler, Executor executor, PipelineListener listener, Duration closeTimeout) {
        int id = INSTANCES.incrementAndGet();
        this.deadLetters = deadLetters;
        this.closeTimeout = closeTimeout;
        this.ownedScheduler = scheduler == null
                ? Executors.newSingleThreadScheduledExecutor(daemon("cdc-pipeline-" + id + "-timer"))
                : null;
        this.ownedExecutor = executor == null
                ? Executors.newCachedThreadPool(daemon("cdc-pipeline-" + id + "-route"))
                : null;
        ScheduledExecutorService timers = scheduler == null ? ownedScheduler : scheduler;
        Executor work = executor == null ? ownedExecutor : executor;
        SafeListener safe = new SafeListener(listener);
        List<RouteWorker<T, ?>> ws = new ArrayList<>(routes.size());
        for (Route<T, ?> r : routes) {
            RouteWorker<T, ?> w = newWorker(r, clock, timers, work, safe, deadLetters);
            ws.add(w);
            byName.put(r.name(), w);
        }
        this.workers = List.copyOf(ws);
    }

    private static <T, R> RouteWorker<T, R> newWorker(Route<T, R> route, Clock clock, ScheduledExecutorService timers,
            Executor work, SafeListener listener, DeadLetterSink deadLetters) {
        return new RouteWorker<>(route, clock, timers, work, listener, deadLetters);
    }

    private static ThreadFactory daemon(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    @Override
    public CompletableFuture<BatchResult<T>> submit(List<ChangeEvent<T>> events) {
        Objects.requireNonNull(events, "events must not be null");
        List<ChangeEvent<T>> batch = List.copyOf(events);
        checkOpen();
        BatchTracker<T> tracker = new BatchTracker<>(batch);
        int[] routesPerEvent = new int[batch.size()];
        List<List<RouteEntry<T, ?>>> perRoute = new ArrayList<>(workers.size());
        for (int w = 0; w < workers.size(); w++) {
            perRoute.add(new ArrayList<>());
        }
        for (int i = 0; i < batch.size(); i++) {
            ChangeEvent<T> event = batch.get(i);
            for (int w = 0; w < workers.size(); w++) {
                RouteEntry<T, ?> entry = workers.get(w).admit(event, tracker, i, true);
                if (entry != null) {
                    perRoute.get(w).add(entry);
                    routesPerEvent[i]++;
                }
            }
        }
        tracker.expect(routesPerEvent);
        for (int w = 0; w < workers.size(); w++) {
            enqueue(workers.get(w), perRoute.get(w));
        }
        tracker.seal();
        return tracker.future();
    }

    @SuppressWarnings("unchecked")
    private static <T, R> void enqueue(RouteWorker<T, R> worker, List<? extends RouteEntry<T, ?>> entries) {
        if (!entries.isEmpty()) {
            worker.enqueue((List<RouteEntry<T, R>>) entries);
        }
    }

    @Override
    public CompletableFuture<Void> flush() {
        return flushAll(false);
    }

    private CompletableFuture<Void> flushAll(boolean close) {
        List<CompletableFuture<Void>> all = new ArrayList<>(workers.size());
        for (RouteWorker<T, ?> w : workers) {
            all.add(w.flush(close));
        }
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
    }

    @Override
    @SuppressWarnings("unchecked")
    public CompletableFuture<BatchResult<T>> redrive(List<DeadLetter> letters) {
        Objects.requireNonNull(letters, "letters must not be null");
        checkOpen();
        List<ChangeEvent<T>> events = new ArrayList<>(letters.size());
        List<RouteWorker<T, ?>> targets = new ArrayList<>(letters.size());
        for (DeadLetter letter : letters) {
            Objects.requireNonNull(letter, "letters must not contain null");
            targets.add(worker(letter.route()));
            events.add((ChangeEvent<T>) letter.event());
        }
        BatchTracker<T> tracker = new BatchTracker<>(List.copyOf(events));
        int[] routesPerEvent = new int[events.size()];
        Map<RouteWorker<T, ?>, List<RouteEntry<T, ?>>> perRoute = new LinkedHashMap<>();
        for (int i = 0; i < events.size(); i++) {
            RouteWorker<T, ?> w = targets.get(i);
            w.unpark(events.get(i).key());
            RouteEntry<T, ?> entry = w.admit(events.get(i), tracker, i, false);
            if (entry != null) {
                perRoute.computeIfAbsent(w, k -> new ArrayList<>()).add(entry);
                routesPerEvent[i] = 1;
            }
        }
        tracker.expect(routesPerEvent);
        perRoute.forEach(DefaultPipeline::enqueue);
        tracker.seal();
        return tracker.future();
    }

    @Override
    public void resume(String route) {
        worker(route).resume();
    }

    @Override
    public Optional<String> haltReason(String route) {
        return Optional.ofNullable(worker(route).haltReason());
    }

    @Override
    public List<String> routes() {
        return List.copyOf(byName.keySet());
    }

    @Override
    public PipelineStats stats() {
        java.util.Map<String, PipelineStats.RouteStats> routes = new java.util.LinkedHashMap<>();
        byName.forEach((name, worker) -> routes.put(name, worker.stats()));
        return new PipelineStats(routes);
    }

    private RouteWorker<T, ?> worker(String route) {
        Objects.requireNonNull(route, "route must not be null");
        RouteWorker<T, ?> w = byName.get(route);
        if (w == null) {
            throw new IllegalArgumentException("no route named '" + route + "' (routes: " + byName.keySet() + ")");
        }
        return w;
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException("the pipeline is closed");
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        CompletableFuture<Void> drained = flushAll(true);
        try {
            drained.get(closeTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            String reason = "the pipeline closed after " + closeTimeout + " with the event still undelivered";
            LOG.warn("Pipeline close timed out after {}; undelivered events are failed, not acknowledged",
                    closeTimeout);
            workers.forEach(w -> w.abort(reason));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            workers.forEach(w -> w.abort("the pipeline was interrupted while closing"));
        } catch (ExecutionException e) {
            LOG.error("Pipeline flush on close failed: {}", e.getClass().getName());
            LOG.debug("Pipeline flush on close failed", e);
            workers.forEach(w -> w.abort("the pipeline's flush on close failed"));
        }
        // Each sink once, even when routes share it (Sink.close promises one call).
        java.util.Set<Object> closedSinks = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (RouteWorker<T, ?> w : workers) {
            if (closedSinks.add(w.sink())) {
                w.closeSink();
            }
        }
        if (deadLetters != null && closedSinks.add(deadLetters)) {
            try {
                deadLetters.close();
            } catch (RuntimeException e) {
                LOG.warn("Closing the dead-letter sink threw {}", e.getClass().getName());
                LOG.debug("Closing the dead-letter sink threw", e);
            }
        }
        if (ownedExecutor != null) {
            ownedExecutor.shutdownNow();
        }
        if (ownedScheduler != null) {
            ownedScheduler.shutdownNow();
        }
    }
}
