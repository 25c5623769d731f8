package io.cdcfanout.api.sink;

/**
 * The largest call a sink accepts. The pipeline cuts batches to fit, and dead-letters an event that
 * alone is larger than {@code maxEventBytes}.
 *
 * @param maxBatchEvents events in one call, at least 1
 * @param maxBatchBytes bytes in one call (by {@link Sink#estimateSize}), at least 1
 * @param maxEventBytes bytes of one event, at least 1 and at most maxBatchBytes
 */
public record SinkLimits(int maxBatchEvents, long maxBatchBytes, long maxEventBytes) {

    /** No limit beyond what the pipeline's buffers allow. */
    public static final SinkLimits NONE = new SinkLimits(Integer.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE);

    /** @throws IllegalArgumentException if a limit is out of range */
    public SinkLimits {
        if (maxBatchEvents < 1) {
            throw new IllegalArgumentException("maxBatchEvents must be at least 1 (was " + maxBatchEvents + ")");
        }
        if (maxBatchBytes < 1) {
            throw new IllegalArgumentException("maxBatchBytes must be at least 1 (was " + maxBatchBytes + ")");
        }
        if (maxEventBytes < 1 || maxEventBytes > maxBatchBytes) {
            throw new IllegalArgumentException("maxEventBytes must be between 1 and maxBatchBytes ("
                    + maxBatchBytes + ") (was " + maxEventBytes + ")");
        }
    }
}
