package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.sink.Sink;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * One branch of the fan-out: which events it takes (a filter), how it reshapes them (a transform),
 * where they go (a sink), and how it buffers and retries. Within the pipeline, routes are independent:
 * each has its own buffer, retries and dead letters, and the pipeline resends only a route's own failed
 * events. A <em>source</em>, however, resends to every route: the poller's rewind, the KCL processor's
 * resubmission and Lambda's retry of a batch all go through {@link Pipeline#submit} again, so a healthy
 * route sees events it delivered before. Every built-in sink absorbs that (version markers, the S3
 * archive's index, the view's applied ledger; Firehose stores a duplicate, which queries dedupe by
 * event id); a user sink must be idempotent too. Immutable.
 *
 * <p>The filter, the transform and {@link Sink#estimateSize} run on the thread that calls
 * {@link Pipeline#submit}; with several submitting threads they must be thread-safe. An exception
 * from any of them dead-letters that event on this route only.
 *
 * @param <T> the image type of the events the pipeline receives
 * @param <R> the image type of the events the sink receives
 */
public final class Route<T, R> {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    private final String name;
    private final Predicate<? super ChangeEvent<T>> filter;
    private final Function<? super ChangeEvent<T>, ? extends ChangeEvent<R>> transform;
    private final Sink<? super R> sink;
    private final BufferPolicy buffer;
    private final RetryPolicy retry;
    private final PoisonPolicy onPoison;
    private final int concurrency;

    /** Default for {@link Builder#concurrency}: calls' worth of events a route has in progress at once. */
    public static final int DEFAULT_CONCURRENCY = 8;
    /** The most parked keys a route keeps in memory; past it, the oldest is forgotten (with a WARN). */
    public static final int MAX_PARKED_KEYS = 10_000;

    private Route(Builder<T, R> b) {
        this.name = b.name;
        this.filter = b.filter;
        this.transform = b.transform;
        this.sink = b.sink;
        this.buffer = b.buffer;
        this.retry = b.retry;
        this.onPoison = b.onPoison;
        this.concurrency = b.concurrency;
    }

    /**
     * A builder for a route named {@code name}: 1 to 64 letters, digits, '.', '_' or '-', starting
     * with a letter or digit.
     *
     * @throws NullPointerException if name is null
     * @throws IllegalArgumentException if name breaks that rule
     */
    public static <T> Builder<T, T> builder(String name) {
        Objects.requireNonNull(name, "name must not be null");
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("name must be 1 to 64 letters, digits, '.', '_' or '-', starting "
                    + "with a letter or digit (was '" + name + "')");
        }
        return new Builder<>(name, e -> true, e -> e);
    }

    public String name() {
        return name;
    }

    /** Which events the route takes. */
    public Predicate<? super ChangeEvent<T>> filter() {
        return filter;
    }

    /** Reshapes a taken event for the sink; a null result skips the event on this route. */
    public Function<? super ChangeEvent<T>, ? extends ChangeEvent<R>> transform() {
        return transform;
    }

    public Sink<? super R> sink() {
        return sink;
    }

    public BufferPolicy buffer() {
        return buffer;
    }

    public RetryPolicy retry() {
        return retry;
    }

    public PoisonPolicy onPoison() {
        return onPoison;
    }

    /** How many batches (lanes of distinct keys) the route has in progress at once. */
    public int concurrency() {
        return concurrency;
    }

    @Override
    public String toString() {
        return "Route[" + name + ", " + buffer + ", " + retry + ", onPoison=" + onPoison + ", concurrency="
                + concurrency + "]";
    }

    /**
     * Builds a {@link Route}. Filters added by {@link #filter}, {@link #operations} and
     * {@link #changedAny} all have to match.
     */
    public static final class Builder<T, R> {
        private final String name;
        private Predicate<? super ChangeEvent<T>> filter;
        private Function<? super ChangeEvent<T>, ? extends ChangeEvent<R>> transform;
        private Sink<? super R> sink;
        private BufferPolicy buffer;
        private RetryPolicy retry = RetryPolicy.defaults();
        private PoisonPolicy onPoison = PoisonPolicy.PARK_KEY;
        private int concurrency = DEFAULT_CONCURRENCY;

        private Builder(String name, Predicate<? super ChangeEvent<T>> filter,
                Function<? super ChangeEvent<T>, ? extends ChangeEvent<R>> transform) {
            this.name = name;
            this.filter = filter;
            this.transform = transform;
        }

        /** Takes only events that also match {@code predicate}. */
        public Builder<T, R> filter(Predicate<? super ChangeEvent<T>> predicate) {
            Objects.requireNonNull(predicate, "filter must not be null");
            Predicate<? super ChangeEvent<T>> previous = this.filter;
            this.filter = e -> previous.test(e) && predicate.test(e);
            return this;
        }

        /**
         * Takes only events of these operations.
         *
         * @throws IllegalArgumentException if none is given
         */
        public Builder<T, R> operations(Operation... operations) {
            Objects.requireNonNull(operations, "operations must not be null");
            if (operations.length == 0) {
                throw new IllegalArgumentException("operations must name at least one operation");
            }
            Set<Operation> ops = EnumSet.copyOf(Arrays.asList(operations));
            return filter(e -> ops.contains(e.operation()));
        }

        /**
         * Takes only events that change at least one of these attributes; an event whose changes are
         * unknown is taken.
         */
        public Builder<T, R> changedAny(String... attributes) {
            Objects.requireNonNull(attributes, "attributes must not be null");
            if (attributes.length == 0) {
                throw new IllegalArgumentException("attributes must name at least one attribute");
            }
            List<String> names = List.of(attributes);
            return filter(e -> e.changedAttributes().map(changed -> names.stream().anyMatch(changed::contains))
                    .orElse(true));
        }

        /**
         * Reshapes each taken event; returning null skips it on this route. An exception dead-letters
         * the event with the exception as the reason.
         */
        public <U> Builder<T, U> transform(Function<? super ChangeEvent<R>, ? extends ChangeEvent<U>> fn) {
            Objects.requireNonNull(fn, "transform must not be null");
            Function<? super ChangeEvent<T>, ? extends ChangeEvent<R>> first = this.transform;
            Builder<T, U> next = new Builder<>(name, filter, e -> {
                ChangeEvent<R> mid = first.apply(e);
                return mid == null ? null : fn.apply(mid);
            });
            next.buffer = buffer;
            next.retry = retry;
            next.onPoison = onPoison;
            next.concurrency = concurrency;
            return next;
        }

        /** Where the route's events go. Required. */
        public Builder<T, R> sink(Sink<? super R> sink) {
            this.sink = Objects.requireNonNull(sink, "sink must not be null");
            return this;
        }

        /** Defaults to the sink's {@link Sink#defaultBuffer()}, else {@link BufferPolicy#defaults()}. */
        public Builder<T, R> buffer(BufferPolicy buffer) {
            this.buffer = Objects.requireNonNull(buffer, "buffer must not be null");
            return this;
        }

        /** Defaults to {@link RetryPolicy#defaults()}. */
        public Builder<T, R> retry(RetryPolicy retry) {
            this.retry = Objects.requireNonNull(retry, "retry must not be null");
            return this;
        }

        /** Defaults to {@link PoisonPolicy#PARK_KEY}. */
        public Builder<T, R> onPoison(PoisonPolicy onPoison) {
            this.onPoison = Objects.requireNonNull(onPoison, "onPoison must not be null");
            return this;
        }

        /**
         * How many batches the route has in progress at once, each a lane of keys no other batch holds:
         * being sent, or waiting for a retry. A key in backoff or parked then holds up only its own
         * lane. Sink calls in flight are further capped by {@link Sink#maxConcurrentCalls()}. 1 to 256;
         * {@value Route#DEFAULT_CONCURRENCY} by default.
         */
        public Builder<T, R> concurrency(int concurrency) {
            if (concurrency < 1 || concurrency > 256) {
                throw new IllegalArgumentException("concurrency must be between 1 and 256 (was " + concurrency + ")");
            }
            this.concurrency = concurrency;
            return this;
        }

        /** @throws IllegalStateException if no sink was set */
        public Route<T, R> build() {
            if (sink == null) {
                throw new IllegalStateException("route '" + name + "' needs a sink: call sink(...) before build()");
            }
            if (buffer == null) {
                BufferPolicy natural = sink.defaultBuffer();
                buffer = natural != null ? natural : BufferPolicy.defaults();
                Route<T, R> route = new Route<>(this);
                buffer = null; // the builder stays reusable with another sink
                return route;
            }
            return new Route<>(this);
        }
    }
}
