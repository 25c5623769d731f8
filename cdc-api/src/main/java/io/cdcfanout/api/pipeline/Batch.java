package io.cdcfanout.api.pipeline;

import io.github.resilience4j.retry.Retry;
import java.util.ArrayList;
import java.util.List;

/**
 * One batch of a route: events taken from the queue together, one lane of keys. It goes to the sink,
 * its failed events are retried, what cannot be delivered becomes dead letters. Touched by one delivery
 * step at a time; {@code holdsCall} is guarded by the route's lock.
 */
final class Batch<T, R> {
    /** An event that will not be delivered: the reason, the attempts, and whether it only follows a parked key. */
    record Doomed<T, R>(RouteEntry<T, R> entry, String reason, int attempts, boolean followsParkedKey) {
        Doomed(RouteEntry<T, R> entry, String reason, int attempts) {
            this(entry, reason, attempts, false);
        }
    }

    final List<RouteEntry<T, R>> entries = new ArrayList<>();
    final FlushCause cause;
    long bytes;
    List<RouteEntry<T, R>> pending = new ArrayList<>();
    final List<Doomed<T, R>> dead = new ArrayList<>();
    Retry.AsyncContext<Object> context;
    int attempt;
    boolean holdsCall = true;

    Batch(FlushCause cause) {
        this.cause = cause;
    }
}
