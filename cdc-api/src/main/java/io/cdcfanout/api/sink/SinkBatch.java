package io.cdcfanout.api.sink;

import io.cdcfanout.api.ChangeEvent;
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

    private SinkBatch(String route, int attempt, List<ChangeEvent<T>> events) {
        this.route = route;
        this.attempt = attempt;
        this.events = events;
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
        return new SinkBatch<>(route, attempt, List.copyOf(events));
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

    /** The number of events. */
    public int size() {
        return events.size();
    }

    @Override
    public String toString() {
        return "SinkBatch[route=" + route + ", attempt=" + attempt + ", events=" + events.size() + "]";
    }
}
