package io.cdcfanout.api.pipeline;

import java.util.Map;
import java.util.Objects;

/**
 * What a pipeline holds now, per route, for gauges: a snapshot, consistent per route.
 *
 * @param routes by route name, in the order the routes were added
 */
public record PipelineStats(Map<String, RouteStats> routes) {
    public PipelineStats {
        routes = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(
                Objects.requireNonNull(routes, "routes must not be null")));
    }

    /**
     * One route now.
     *
     * @param bufferedEvents events waiting in the buffer for a sink call
     * @param bufferedBytes their estimated size
     * @param inFlightEvents events in sink calls, their retries and dead-letter writes
     * @param parkedKeys item keys parked after a dead letter (their later events are dead-lettered too)
     * @param halted whether the route is halted
     */
    public record RouteStats(int bufferedEvents, long bufferedBytes, int inFlightEvents, int parkedKeys,
            boolean halted) {
    }
}
