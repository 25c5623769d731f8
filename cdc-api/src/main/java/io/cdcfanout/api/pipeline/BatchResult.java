package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Position;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What became of a submitted batch, once every event is delivered, dead-lettered or failed on every
 * route it matched. A failed event was not acknowledged: the source must not checkpoint past it.
 *
 * @param <T> the image type of the events
 */
public final class BatchResult<T> {

    /** An event that was not acknowledged, and why. */
    public record Failure<T>(ChangeEvent<T> event, String reason) {
    }

    private final List<ChangeEvent<T>> events;
    private final List<Failure<T>> failures;
    private final int deadLettered;
    private final Map<String, Position> checkpoints;

    BatchResult(List<ChangeEvent<T>> events, String[] failureReasons, int deadLettered) {
        this.events = events;
        this.deadLettered = deadLettered;
        List<Failure<T>> failed = new ArrayList<>();
        Map<String, Position> done = new LinkedHashMap<>();
        Set<String> blocked = new HashSet<>();
        for (int i = 0; i < events.size(); i++) {
            ChangeEvent<T> e = events.get(i);
            String shard = e.position().shardId();
            if (failureReasons[i] != null) {
                failed.add(new Failure<>(e, failureReasons[i]));
                blocked.add(shard);
            } else if (!blocked.contains(shard)) {
                done.merge(shard, e.position(), (a, b) -> b.compareTo(a) > 0 ? b : a);
            }
        }
        this.failures = Collections.unmodifiableList(failed);
        this.checkpoints = Collections.unmodifiableMap(done);
    }

    /** The number of events submitted. */
    public int size() {
        return events.size();
    }

    /** Whether every event was delivered or dead-lettered everywhere it was routed. */
    public boolean succeeded() {
        return failures.isEmpty();
    }

    /** The events that were not acknowledged, in batch order. */
    public List<Failure<T>> failures() {
        return failures;
    }

    /** The first event, in batch order, that was not acknowledged. */
    public Optional<ChangeEvent<T>> firstFailure() {
        return failures.isEmpty() ? Optional.empty() : Optional.of(failures.get(0).event());
    }

    /** How many events went to the dead-letter sink on at least one route. */
    public int deadLettered() {
        return deadLettered;
    }

    /**
     * By shard id, the highest position the source may checkpoint: every event of that shard in
     * this batch up to it (in batch order) is acknowledged. A shard whose first event failed is absent.
     */
    public Map<String, Position> checkpoints() {
        return checkpoints;
    }

    @Override
    public String toString() {
        return "BatchResult[size=" + events.size() + ", failed=" + failures.size() + ", deadLettered="
                + deadLettered + "]";
    }
}
