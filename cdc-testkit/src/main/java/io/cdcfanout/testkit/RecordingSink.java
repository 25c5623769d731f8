package io.cdcfanout.testkit;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkLimits;
import io.cdcfanout.api.sink.SinkResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.ToLongFunction;

/**
 * A sink that accepts everything and remembers it, in delivery order. Thread-safe.
 *
 * @param <T> the image type it accepts
 */
public final class RecordingSink<T> implements Sink<T> {
    private final SinkLimits limits;
    private final ToLongFunction<ChangeEvent<? extends T>> sizer;
    private final List<ChangeEvent<? extends T>> events = new ArrayList<>();
    private final List<SinkBatch<? extends T>> batches = new ArrayList<>();
    private boolean closed;

    /** A sink without limits that sizes events by {@link ChangeEvent#sizeBytes()}. */
    public RecordingSink() {
        this(SinkLimits.NONE, ChangeEvent::sizeBytes);
    }

    /** A sink with the given limits and size estimate. */
    public RecordingSink(SinkLimits limits, ToLongFunction<ChangeEvent<? extends T>> sizer) {
        this.limits = Objects.requireNonNull(limits, "limits must not be null");
        this.sizer = Objects.requireNonNull(sizer, "sizer must not be null");
    }

    @Override
    public synchronized SinkResult write(SinkBatch<? extends T> batch) {
        batches.add(batch);
        events.addAll(batch.events());
        return SinkResult.allDelivered(batch.size());
    }

    /** Records events delivered through another sink (used by {@link ScriptedSink}). */
    synchronized void record(SinkBatch<? extends T> batch, List<? extends ChangeEvent<? extends T>> delivered) {
        batches.add(batch);
        events.addAll(delivered);
    }

    @Override
    public SinkLimits limits() {
        return limits;
    }

    @Override
    public long estimateSize(ChangeEvent<? extends T> event) {
        return sizer.applyAsLong(event);
    }

    /** Every delivered event, in delivery order; a copy. */
    public synchronized List<ChangeEvent<? extends T>> events() {
        return List.copyOf(events);
    }

    /** The ids of the delivered events, in delivery order. */
    public synchronized List<String> eventIds() {
        return events.stream().map(ChangeEvent::eventId).toList();
    }

    /** Every batch the sink was called with, in call order; a copy. */
    public synchronized List<SinkBatch<? extends T>> batches() {
        return List.copyOf(batches);
    }

    /** How many times {@link #write} was called. */
    public synchronized int calls() {
        return batches.size();
    }

    /** Whether the pipeline closed the sink. */
    public synchronized boolean closed() {
        return closed;
    }

    /** Forgets what was recorded. */
    public synchronized void clear() {
        events.clear();
        batches.clear();
    }

    @Override
    public synchronized void close() {
        closed = true;
    }
}
