package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.api.sink.DeadLetterSink;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Fans change events out to routes, each with its own buffer, sink and retries, and tells the source
 * when a batch is safe to checkpoint. Thread-safe: any number of sources may submit concurrently;
 * events of one key must come from one thread to have an order.
 *
 * <pre>{@code
 * Pipeline<Map<String, Object>> pipeline = Pipeline.<Map<String, Object>>builder()
 *     .route(Route.<Map<String, Object>>builder("welcome").operations(Operation.INSERT).sink(emailSink).build())
 *     .route(Route.<Map<String, Object>>builder("archive").sink(archiveSink).build())
 *     .deadLetterSink(deadLetters)
 *     .build();
 * BatchResult<Map<String, Object>> result = pipeline.submit(events).join();
 * }</pre>
 *
 * @param <T> the image type of submitted events
 */
public interface Pipeline<T> extends AutoCloseable {

    /**
     * Routes a batch, blocking while a route's buffer is full (up to its offer timeout). The future
     * completes when every event is delivered, dead-lettered or failed on every route it matched;
     * it never completes exceptionally.
     *
     * @throws NullPointerException if events or an event is null
     * @throws IllegalStateException if the pipeline is closed
     */
    CompletableFuture<BatchResult<T>> submit(List<ChangeEvent<T>> events);

    /** Sends every buffered event now; the future completes when all of them are settled. */
    CompletableFuture<Void> flush();

    /**
     * Sends each letter's event again through its route (skipping the filter), after un-parking its
     * key. The letters must come from this pipeline's dead-letter sink.
     *
     * @throws IllegalArgumentException if a letter names no route of this pipeline
     */
    CompletableFuture<BatchResult<T>> redrive(List<DeadLetter> letters);

    /**
     * Restarts a halted route and un-parks all of its keys.
     *
     * @throws IllegalArgumentException if there is no such route
     */
    void resume(String route);

    /**
     * Why the route is halted, or empty if it runs.
     *
     * @throws IllegalArgumentException if there is no such route
     */
    Optional<String> haltReason(String route);

    /** The route names, in the order they were added. */
    List<String> routes();

    /** What each route holds now: buffered, in flight, parked keys, halted. Cheap; for gauges. */
    PipelineStats stats();

    /**
     * Stops taking events, flushes every buffer and waits up to the close timeout; events still
     * undelivered then are failed (never acknowledged). Closes the sinks and the threads the
     * pipeline created. Idempotent; never throws a checked exception.
     */
    @Override
    void close();

    /** A builder for a pipeline of events with images of type {@code T}. */
    static <T> Builder<T> builder() {
        return new Builder<>();
    }

    /** Builds a {@link Pipeline}; reusable. */
    final class Builder<T> {
        /** Default for {@link #closeTimeout}, in milliseconds. */
        public static final long DEFAULT_CLOSE_TIMEOUT_MILLIS = 30_000;

        private final List<Route<T, ?>> routes = new ArrayList<>();
        private DeadLetterSink deadLetterSink;
        private Clock clock = Clock.systemUTC();
        private ScheduledExecutorService scheduler;
        private Executor executor;
        private final List<PipelineListener> listeners = new ArrayList<>();
        private Duration closeTimeout = Duration.ofMillis(DEFAULT_CLOSE_TIMEOUT_MILLIS);

        private Builder() {
        }

        /** Adds a route; events are offered to routes in the order they were added. */
        public Builder<T> route(Route<T, ?> route) {
            routes.add(Objects.requireNonNull(route, "route must not be null"));
            return this;
        }

        /**
         * Where poison events go. Without one, a poison event halts its route (and is never
         * acknowledged) instead of being lost.
         */
        public Builder<T> deadLetterSink(DeadLetterSink deadLetterSink) {
            this.deadLetterSink = Objects.requireNonNull(deadLetterSink, "deadLetterSink must not be null");
            return this;
        }

        /** The clock for buffer ages, lag and dead-letter times. Defaults to the UTC system clock. */
        public Builder<T> clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock must not be null");
            return this;
        }

        /**
         * Runs age flushes and retry backoffs; must agree with {@link #clock}. Defaults to one daemon
         * thread that the pipeline owns and shuts down on close. An injected one is not shut down.
         */
        public Builder<T> scheduler(ScheduledExecutorService scheduler) {
            this.scheduler = Objects.requireNonNull(scheduler, "scheduler must not be null");
            return this;
        }

        /**
         * Runs sink calls (blocking I/O); each route has at most one call in flight. Defaults to a
         * cached pool of daemon threads that the pipeline owns. Never the common pool.
         */
        public Builder<T> executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor must not be null");
            return this;
        }

        /**
         * Adds the route {@code name}, configured in place, so the image type is written once, on the
         * pipeline: {@code .route("archive", r -> r.sink(archive).buffer(policy))}. {@code configure} may
         * return a builder with a transform (another routed type).
         *
         * @throws NullPointerException if an argument is null, or configure returns null
         */
        public Builder<T> route(String name, java.util.function.Function<Route.Builder<T, T>, Route.Builder<T, ?>> configure) {
            Objects.requireNonNull(configure, "configure must not be null");
            Route.Builder<T, ?> configured = Objects.requireNonNull(configure.apply(Route.builder(name)),
                    "configure returned null for route '" + name + "'");
            return route(configured.build());
        }

        /** Adds a receiver of metrics; each call adds one, and each is called in the order added. None by default. */
        public Builder<T> listener(PipelineListener listener) {
            listeners.add(Objects.requireNonNull(listener, "listener must not be null"));
            return this;
        }

        /** How long {@link Pipeline#close()} waits for buffers to drain. */
        public Builder<T> closeTimeout(Duration closeTimeout) {
            this.closeTimeout = Objects.requireNonNull(closeTimeout, "closeTimeout must not be null");
            return this;
        }

        /**
         * A new pipeline, started.
         *
         * @throws IllegalStateException if there is no route, or two routes share a name
         * @throws IllegalArgumentException if closeTimeout is negative
         */
        public Pipeline<T> build() {
            if (routes.isEmpty()) {
                throw new IllegalStateException("a pipeline needs at least one route: call route(...) before build()");
            }
            Set<String> names = new HashSet<>();
            for (Route<T, ?> r : routes) {
                if (!names.add(r.name())) {
                    throw new IllegalStateException("route names must be unique ('" + r.name() + "' is used twice)");
                }
            }
            if (closeTimeout.isNegative()) {
                throw new IllegalArgumentException("closeTimeout must not be negative (was " + closeTimeout + ")");
            }
            return new DefaultPipeline<>(List.copyOf(routes), deadLetterSink, clock, scheduler, executor,
                    PipelineListener.composite(listeners),
                    closeTimeout);
        }
    }
}
