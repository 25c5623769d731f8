package io.cdcfanout.api.sink;

import io.cdcfanout.api.ChangeEvent;
import java.time.Instant;
import java.util.Objects;

/**
 * An event a route gave up on, with everything needed to inspect it and to redrive it.
 *
 * @param route the name of the route that failed it
 * @param event the full event as it was submitted to the pipeline (before the route's transform)
 * @param reason why it failed, naming the rule or error
 * @param attempts how many times the sink was called with it (0 when it never reached the sink)
 * @param failedAt when the route gave up, by the pipeline's clock
 */
public record DeadLetter(String route, ChangeEvent<?> event, String reason, int attempts, Instant failedAt) {

    /** @throws NullPointerException if a component is null */
    public DeadLetter {
        Objects.requireNonNull(route, "route must not be null");
        Objects.requireNonNull(event, "event must not be null");
        Objects.requireNonNull(reason, "reason must not be null");
        Objects.requireNonNull(failedAt, "failedAt must not be null");
        if (attempts < 0) {
            throw new IllegalArgumentException("attempts must be at least 0 (was " + attempts + ")");
        }
    }
}
