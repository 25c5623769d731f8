package io.cdcfanout.api.pipeline;

import java.time.Duration;
import java.util.Objects;

/**
 * When a route's buffer is sent to its sink, and how much it may hold. A buffer flushes on the
 * first of: {@link #maxEvents()} events, {@link #maxBytes()} bytes, or its oldest event waiting
 * {@link #maxAge()}. It holds at most {@link #capacity()} events (buffered or being delivered); past
 * that, {@link Pipeline#submit} blocks up to {@link #offerTimeout()}, then fails the rest of the batch.
 * Immutable.
 */
public final class BufferPolicy {
    /** Default for {@link Builder#maxEvents}. */
    public static final int DEFAULT_MAX_EVENTS = 500;
    /** Default for {@link Builder#maxBytes}: 4 MiB. */
    public static final long DEFAULT_MAX_BYTES = 4L * 1024 * 1024;
    /**
     * Default for {@link Builder#maxAge}, in milliseconds: zero, immediate. An idle route sends at once,
     * and events that arrive while its calls are busy go together in the next one, so batches grow with
     * the load, not with a timer. Archive sinks declare a long age of their own ({@code Sink.defaultBuffer}).
     */
    public static final long DEFAULT_MAX_AGE_MILLIS = 0;
    /** Default for {@link Builder#capacity}. */
    public static final int DEFAULT_CAPACITY = 10_000;
    /** Default for {@link Builder#offerTimeout}, in milliseconds. */
    public static final long DEFAULT_OFFER_TIMEOUT_MILLIS = 30_000;

    private static final BufferPolicy DEFAULTS = builder().build();

    private final int maxEvents;
    private final long maxBytes;
    private final Duration maxAge;
    private final int capacity;
    private final Duration offerTimeout;

    private BufferPolicy(Builder b) {
        this.maxEvents = b.maxEvents;
        this.maxBytes = b.maxBytes;
        this.maxAge = b.maxAge;
        this.capacity = b.capacity;
        this.offerTimeout = b.offerTimeout;
    }

    /** The defaults: {@value #DEFAULT_MAX_EVENTS} events, 4 MiB, immediate, capacity {@value #DEFAULT_CAPACITY}. */
    public static BufferPolicy defaults() {
        return DEFAULTS;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this policy's values. */
    public Builder toBuilder() {
        return new Builder().maxEvents(maxEvents).maxBytes(maxBytes).maxAge(maxAge).capacity(capacity)
                .offerTimeout(offerTimeout);
    }

    /** Flush when this many events are buffered. */
    public int maxEvents() {
        return maxEvents;
    }

    /** Flush when the buffered events' sizes add up to this many bytes; also caps one sink call. */
    public long maxBytes() {
        return maxBytes;
    }

    /**
     * Flush when the oldest buffered event has waited this long. Zero sends as soon as the route has
     * no call in flight; events arriving during a call then go together in the next one.
     */
    public Duration maxAge() {
        return maxAge;
    }

    /** The most events the route holds, buffered or being delivered. */
    public int capacity() {
        return capacity;
    }

    /** How long {@link Pipeline#submit} waits for room before it fails the rest of a batch. */
    public Duration offerTimeout() {
        return offerTimeout;
    }

    @Override
    public String toString() {
        return "BufferPolicy[maxEvents=" + maxEvents + ", maxBytes=" + maxBytes + ", maxAge=" + maxAge
                + ", capacity=" + capacity + ", offerTimeout=" + offerTimeout + "]";
    }

    /** Builds a {@link BufferPolicy}; reusable. */
    public static final class Builder {
        private int maxEvents = DEFAULT_MAX_EVENTS;
        private long maxBytes = DEFAULT_MAX_BYTES;
        private Duration maxAge = Duration.ofMillis(DEFAULT_MAX_AGE_MILLIS);
        private int capacity = DEFAULT_CAPACITY;
        private Duration offerTimeout = Duration.ofMillis(DEFAULT_OFFER_TIMEOUT_MILLIS);

        private Builder() {
        }

        public Builder maxEvents(int maxEvents) {
            this.maxEvents = maxEvents;
            return this;
        }

        public Builder maxBytes(long maxBytes) {
            this.maxBytes = maxBytes;
            return this;
        }

        public Builder maxAge(Duration maxAge) {
            this.maxAge = Objects.requireNonNull(maxAge, "maxAge must not be null");
            return this;
        }

        public Builder capacity(int capacity) {
            this.capacity = capacity;
            return this;
        }

        public Builder offerTimeout(Duration offerTimeout) {
            this.offerTimeout = Objects.requireNonNull(offerTimeout, "offerTimeout must not be null");
            return this;
        }

        /**
         * @throws IllegalArgumentException if a value is out of range
         * @throws IllegalStateException if capacity is below maxEvents
         */
        public BufferPolicy build() {
            if (maxEvents < 1) {
                throw new IllegalArgumentException("maxEvents must be at least 1 (was " + maxEvents + ")");
            }
            if (maxBytes < 1) {
                throw new IllegalArgumentException("maxBytes must be at least 1 (was " + maxBytes + ")");
            }
            if (maxAge.isNegative()) {
                throw new IllegalArgumentException("maxAge must not be negative (was " + maxAge + ")");
            }
            if (capacity < 1) {
                throw new IllegalArgumentException("capacity must be at least 1 (was " + capacity + ")");
            }
            if (offerTimeout.isNegative()) {
                throw new IllegalArgumentException("offerTimeout must not be negative (was " + offerTimeout + ")");
            }
            if (capacity < maxEvents) {
                throw new IllegalStateException("capacity (" + capacity + ") must be at least maxEvents ("
                        + maxEvents + "), or the count trigger could never fire");
            }
            return new BufferPolicy(this);
        }
    }
}
