package io.cdcfanout.api.sink;

import io.cdcfanout.api.ChangeEvent;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;

/**
 * One call's worth of events for a sink, in source order.
 *
 * @param <T> the type of event images
 */
public final class SinkBatch<T> {
    private final String route;
    private final int attempt;
    private final List<ChangeEvent<T>> events;
    private final BitSet redriven;

    private SinkBatch(String route, int attempt, List<ChangeEvent<T>> events, BitSet redriven) {
        this.route = route;
        this.attempt = attempt;
        this.events = events;
        this.redriven = redriven;
    }

    /**
     * A batch; {@code attempt} counts from 1 and grows when failed events are sent again.
     *
     * @throws NullPointerException if route, events or an event is null
     * @throws IllegalArgumentException if attempt is below 1
     */
    public static <T> SinkBatch<T> of(String route, int attempt, List<ChangeEvent<T>> events) {
        Objects.requireNonNull(route, "route must not be null");
        Objects.requireNonNull(events, "events must not be null");
        if (attempt < 1) {
            throw new IllegalArgumentException("attempt must be at least 1 (was " + attempt + ")");
        }
        return new SinkBatch<>(route, attempt, List.copyOf(events), new BitSet());
    }

    /**
     * A batch in which the events at the indexes in {@code redriven} were sent again by
     * {@link io.cdcfanout.api.pipeline.Pipeline#redrive}.
     *
     * @throws NullPointerException if an argument or an event is null
     * @throws IllegalArgumentException if attempt is below 1
     * @throws IndexOutOfBoundsException if an index in redriven is outside the batch
     */
    public static <T> SinkBatch<T> of(String route, int attempt, List<ChangeEvent<T>> events, BitSet redriven) {
        SinkBatch<T> batch = of(route, attempt, events);
        Objects.requireNonNull(redriven, "redriven must not be null");
        if (redriven.length() > batch.events.size()) {
            throw new IndexOutOfBoundsException("redriven names index " + (redriven.length() - 1)
                    + ", outside a batch of " + batch.events.size() + " events");
        }
        batch.redriven.or(redriven);
        return batch;
    }

    /** The name of the route that sends this batch. */
    public String route() {
        return route;
    }

    /** 1 for the first try of these events, higher for a resend of failed ones. */
    public int attempt() {
        return attempt;
    }

    /** The events, in source order; immutable. */
    public List<ChangeEvent<T>> events() {
        return events;
    }

    /**
     * Whether the event at {@code index} comes from {@link io.cdcfanout.api.pipeline.Pipeline#redrive}
     * rather than from its source. A sink that recognizes replays by position (and skips what it
     * already holds) must not skip such an event: it was dead-lettered, so the sink never took it.
     *
     * @throws IndexOutOfBoundsException if index is outside the batch
     */
    public boolean redriven(int index) {
        Objects.checkIndex(index, events.size());
        return redriven.get(index);
    }

    /** The number of events. */
    public int size() {
        return events.size();
    }

    @Override
    public String toString() {
        return "SinkBatch[route=" + route + ", attempt=" + attempt + ", events=" + events.size() + "]";
    }
}
