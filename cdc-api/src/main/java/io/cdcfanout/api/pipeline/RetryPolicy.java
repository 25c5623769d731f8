package io.cdcfanout.api.pipeline;

import java.time.Duration;
import java.util.Objects;

/**
 * How a route retries the events its sink failed: up to {@link #maxAttempts()} calls in all, waiting
 * {@code initialBackoff * multiplier^(n-1)}, capped at {@link #maxBackoff()}, each wait spread by
 * &plusmn;{@link #jitter()} of itself. Only failed events are sent again. Immutable.
 */
public final class RetryPolicy {
    /** Default for {@link Builder#maxAttempts}, counting the first call. */
    public static final int DEFAULT_MAX_ATTEMPTS = 5;
    /** Default for {@link Builder#initialBackoff}, in milliseconds. */
    public static final long DEFAULT_INITIAL_BACKOFF_MILLIS = 100;
    /** Default for {@link Builder#multiplier}. */
    public static final double DEFAULT_MULTIPLIER = 2.0;
    /** Default for {@link Builder#maxBackoff}, in milliseconds. */
    public static final long DEFAULT_MAX_BACKOFF_MILLIS = 10_000;
    /** Default for {@link Builder#jitter}. */
    public static final double DEFAULT_JITTER = 0.5;

    private static final RetryPolicy DEFAULTS = builder().build();
    private static final RetryPolicy NONE = builder().maxAttempts(1).build();

    private final int maxAttempts;
    private final Duration initialBackoff;
    private final double multiplier;
    private final Duration maxBackoff;
    private final double jitter;

    private RetryPolicy(Builder b) {
        this.maxAttempts = b.maxAttempts;
        this.initialBackoff = b.initialBackoff;
        this.multiplier = b.multiplier;
        this.maxBackoff = b.maxBackoff;
        this.jitter = b.jitter;
    }

    /** {@value #DEFAULT_MAX_ATTEMPTS} attempts, from 100 ms doubling to 10 s, jitter {@value #DEFAULT_JITTER}. */
    public static RetryPolicy defaults() {
        return DEFAULTS;
    }

    /** One attempt: a failure goes straight to the dead-letter sink. */
    public static RetryPolicy none() {
        return NONE;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Calls in all, counting the first; 1 means no retry. */
    public int maxAttempts() {
        return maxAttempts;
    }

    /** The wait before the first retry. */
    public Duration initialBackoff() {
        return initialBackoff;
    }

    /** The factor by which each wait grows. */
    public double multiplier() {
        return multiplier;
    }

    /** The longest wait. */
    public Duration maxBackoff() {
        return maxBackoff;
    }

    /** The randomization factor in [0, 1): 0 waits exactly, 0.5 waits 50% to 150% of the backoff. */
    public double jitter() {
        return jitter;
    }

    @Override
    public String toString() {
        return "RetryPolicy[maxAttempts=" + maxAttempts + ", initialBackoff=" + initialBackoff + ", multiplier="
                + multiplier + ", maxBackoff=" + maxBackoff + ", jitter=" + jitter + "]";
    }

    /** Builds a {@link RetryPolicy}; reusable. */
    public static final class Builder {
        private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
        private Duration initialBackoff = Duration.ofMillis(DEFAULT_INITIAL_BACKOFF_MILLIS);
        private double multiplier = DEFAULT_MULTIPLIER;
        private Duration maxBackoff = Duration.ofMillis(DEFAULT_MAX_BACKOFF_MILLIS);
        private double jitter = DEFAULT_JITTER;

        private Builder() {
        }

        public Builder maxAttempts(int maxAttempts) {
            this.maxAttempts = maxAttempts;
            return this;
        }

        public Builder initialBackoff(Duration initialBackoff) {
            this.initialBackoff = Objects.requireNonNull(initialBackoff, "initialBackoff must not be null");
            return this;
        }

        public Builder multiplier(double multiplier) {
            this.multiplier = multiplier;
            return this;
        }

        public Builder maxBackoff(Duration maxBackoff) {
            this.maxBackoff = Objects.requireNonNull(maxBackoff, "maxBackoff must not be null");
            return this;
        }

        public Builder jitter(double jitter) {
            this.jitter = jitter;
            return this;
        }

        /**
         * @throws IllegalArgumentException if a value is out of range
         * @throws IllegalStateException if maxBackoff is below initialBackoff
         */
        public RetryPolicy build() {
            if (maxAttempts < 1) {
                throw new IllegalArgumentException("maxAttempts must be at least 1 (was " + maxAttempts + ")");
            }
            if (initialBackoff.toMillis() < 1) {
                throw new IllegalArgumentException("initialBackoff must be at least 1 ms (was " + initialBackoff + ")");
            }
            if (!(multiplier >= 1.0) || Double.isInfinite(multiplier)) {
                throw new IllegalArgumentException("multiplier must be at least 1.0 (was " + multiplier + ")");
            }
            if (!(jitter >= 0.0 && jitter < 1.0)) {
                throw new IllegalArgumentException("jitter must be at least 0 and below 1 (was " + jitter + ")");
            }
            if (maxBackoff.compareTo(initialBackoff) < 0) {
                throw new IllegalStateException("maxBackoff (" + maxBackoff + ") must be at least initialBackoff ("
                        + initialBackoff + ")");
            }
            return new RetryPolicy(this);
        }
    }
}
