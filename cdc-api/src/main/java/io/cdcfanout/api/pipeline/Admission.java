package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkLimits;

/**
 * What a route takes, on the submitting thread: the filter, the transform and the size estimate run
 * here, and an event they throw on, a defective event or one over the sink's size limit becomes a
 * poison entry, dead-lettered on this route only. Never throws for an event. Stateless.
 */
final class Admission<T, R> {
    private final Route<T, R> route;
    private final Sink<? super R> sink;
    private final SinkLimits limits;

    Admission(Route<T, R> route, SinkLimits limits) {
        this.route = route;
        this.sink = route.sink();
        this.limits = limits;
    }

    /**
     * The entry for {@code event} on this route, or null when the route does not take it. User code
     * that throws (filter, transform, size estimate) yields a poison entry, never an exception.
     */
    RouteEntry<T, R> admit(ChangeEvent<T> event, BatchTracker<T> tracker, int index, boolean applyFilter) {
        if (event.defect().isPresent()) {
            // The filter and transform can't be trusted on a record the source could not map.
            return poison(tracker, index, event, "the source could not map the record: " + event.defect().get());
        }
        if (applyFilter) {
            try {
                if (!route.filter().test(event)) {
                    return null;
                }
            } catch (RuntimeException e) {
                return poison(tracker, index, event, "the route's filter threw " + RouteWorker.describe(e));
            }
        }
        ChangeEvent<R> routed;
        try {
            routed = route.transform().apply(event);
        } catch (RuntimeException e) {
            return poison(tracker, index, event, "the route's transform threw " + RouteWorker.describe(e));
        }
        if (routed == null) {
            return null;
        }
        long size;
        try {
            size = Math.max(0, sink.estimateSize(routed));
        } catch (RuntimeException e) {
            return poison(tracker, index, event, "the sink could not size the event: " + RouteWorker.describe(e));
        }
        if (size > limits.maxEventBytes()) {
            return poison(tracker, index, event, "event is " + size + " bytes, over the sink's limit of "
                    + limits.maxEventBytes() + " bytes per event (maxEventBytes)");
        }
        RouteEntry<T, R> entry = new RouteEntry<>(tracker, index, event, routed, null, size);
        entry.redriven = !applyFilter;
        return entry;
    }

    private RouteEntry<T, R> poison(BatchTracker<T> tracker, int index, ChangeEvent<T> event, String reason) {
        return new RouteEntry<>(tracker, index, event, null, reason, 0);
    }
}
