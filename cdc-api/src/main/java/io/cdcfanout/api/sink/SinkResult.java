package io.cdcfanout.api.sink;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The outcome of each event of one {@link Sink#write} call, by index in the batch, plus counters of
 * what the call cost (requests, billed units), which reach the pipeline's listener.
 */
public final class SinkResult {

    /** What happened to one event. */
    public enum Status {
        /** The sink accepted the event; it is never sent again. */
        DELIVERED,
        /** The event failed but may succeed when sent again. */
        FAILED_RETRYABLE,
        /** The event will never succeed; it goes to the dead-letter sink. */
        FAILED_FATAL
    }

    private final Status[] statuses;
    private final Map<Integer, String> reasons;
    private final Map<String, Long> counters;
    private final int failed;

    private SinkResult(Status[] statuses, Map<Integer, String> reasons, Map<String, Long> counters) {
        this.statuses = statuses;
        this.reasons = reasons;
        this.counters = counters;
        int f = 0;
        for (Status s : statuses) {
            if (s != Status.DELIVERED) {
                f++;
            }
        }
        this.failed = f;
    }

    /** Every one of {@code size} events delivered. */
    public static SinkResult allDelivered(int size) {
        return builder(size).build();
    }

    /** Every one of {@code size} events failed for the same reason. */
    public static SinkResult allFailed(int size, String reason, boolean retryable) {
        Builder b = builder(size);
        for (int i = 0; i < size; i++) {
            b.fail(i, reason, retryable);
        }
        return b.build();
    }

    /** A builder for {@code size} events, all delivered until marked failed. */
    public static Builder builder(int size) {
        if (size < 0) {
            throw new IllegalArgumentException("size must be at least 0 (was " + size + ")");
        }
        return new Builder(size);
    }

    /** The number of events reported on. */
    public int size() {
        return statuses.length;
    }

    /** The outcome of the event at {@code index}. */
    public Status status(int index) {
        return statuses[index];
    }

    /** Why the event at {@code index} failed; empty for a delivered event. */
    public String reason(int index) {
        return reasons.getOrDefault(index, "");
    }

    /** The number of failed events. */
    public int failedCount() {
        return failed;
    }

    /** Whether every event was delivered. */
    public boolean allDelivered() {
        return failed == 0;
    }

    /** What the call cost, by counter name (for example {@code requests}); immutable. */
    public Map<String, Long> counters() {
        return counters;
    }

    @Override
    public String toString() {
        return "SinkResult[size=" + statuses.length + ", failed=" + failed + ", counters=" + counters + "]";
    }

    /**
     * Builds a {@link SinkResult}; events not marked failed count as delivered. Thread-safe, so that a
     * sink's parallel writes may mark their events.
     */
    public static final class Builder {
        private final Status[] statuses;
        private final Map<Integer, String> reasons = new HashMap<>();
        private final Map<String, Long> counters = new LinkedHashMap<>();

        private Builder(int size) {
            statuses = new Status[size];
            Arrays.fill(statuses, Status.DELIVERED);
        }

        /**
         * Marks the event at {@code index} failed.
         *
         * @throws IndexOutOfBoundsException if index is outside the batch
         * @throws NullPointerException if reason is null
         */
        public synchronized Builder fail(int index, String reason, boolean retryable) {
            Objects.checkIndex(index, statuses.length);
            Objects.requireNonNull(reason, "reason must not be null");
            statuses[index] = retryable ? Status.FAILED_RETRYABLE : Status.FAILED_FATAL;
            reasons.put(index, reason);
            return this;
        }

        /** Adds {@code delta} to a cost counter, such as {@code requests} or {@code billedUnits}. */
        public synchronized Builder count(String counter, long delta) {
            Objects.requireNonNull(counter, "counter must not be null");
            counters.merge(counter, delta, Long::sum);
            return this;
        }

        public synchronized SinkResult build() {
            return new SinkResult(statuses.clone(), Map.copyOf(reasons),
                    Collections.unmodifiableMap(new LinkedHashMap<>(counters)));
        }
    }
}
