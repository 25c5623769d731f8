package io.cdcfanout.api.sink;

import io.cdcfanout.api.ChangeEvent;

/**
 * A destination for change events. The pipeline calls {@link #write} with at most
 * {@link #maxConcurrentCalls()} calls in flight per route (one by default, so an implementation used by
 * one route need not be thread-safe), and never two calls at once holding events of one
 * {@link #orderKey order key}.
 *
 * <p>Contract of {@link #write}:
 * <ul>
 *   <li>The batch's events are in source order and within {@link #limits()}.</li>
 *   <li>The result reports an outcome for every event; nothing is swallowed. An event reported
 *       delivered is never sent again by the pipeline.</li>
 *   <li>A sink that fails an event should not apply later events of the same key in the same call
 *       (report them failed too): if it does, the pipeline sends them again after the failed one, so
 *       the last write of a key stays the last.</li>
 *   <li>Throwing fails the whole call: a {@link io.cdcfanout.api.CdcException} says whether it is
 *       retryable; any other runtime exception counts as retryable.</li>
 * </ul>
 *
 * @param <T> the type of event images the sink accepts
 */
public interface Sink<T> extends AutoCloseable {

    /** Writes a batch and reports each event's outcome. */
    SinkResult write(SinkBatch<? extends T> batch);

    /** The largest call this sink accepts; the pipeline never sends more. */
    default SinkLimits limits() {
        return SinkLimits.NONE;
    }

    /**
     * The event's size in bytes as this sink will send it, for byte limits and buffer triggers.
     * Called once per event, on the submitting thread. Defaults to the source's estimate.
     */
    default long estimateSize(ChangeEvent<? extends T> event) {
        return event.sizeBytes();
    }

    /**
     * How many calls of one route may be in flight at once; 1 (serialized calls) by default. A sink
     * that is thread-safe and talks to a network service returns more, so that a route keeps several
     * requests in flight while each key stays in order.
     */
    default int maxConcurrentCalls() {
        return 1;
    }

    /**
     * What orders events for this sink: events with equal order keys reach it one call at a time, in
     * source order, and a later one never overtakes an earlier one that failed; events with different
     * keys may be in flight at once. The item key by default; a sink that needs one writer per shard
     * (an archive named by sequence ranges) returns the shard.
     */
    default Object orderKey(ChangeEvent<? extends T> event) {
        return event.key();
    }

    /**
     * The buffer a route uses for this sink when the route sets none: the sink's natural batch (large
     * for an archive, immediate for a table). Null, the default, means {@code BufferPolicy.defaults()}.
     */
    default io.cdcfanout.api.pipeline.BufferPolicy defaultBuffer() {
        return null;
    }

    /**
     * Releases the sink's resources. The pipeline that holds the sink calls it once, after its last
     * write, even when several of its routes share the sink. A closed sink is closed for good: the
     * built-in sinks then refuse {@link #write} with a {@link SinkUnavailableException} naming the sink,
     * so a sink is never reused by a second pipeline by mistake.
     */
    @Override
    default void close() {
    }
}
