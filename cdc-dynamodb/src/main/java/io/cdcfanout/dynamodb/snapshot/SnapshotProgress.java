package io.cdcfanout.dynamodb.snapshot;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * How far a snapshot has come, as reported after each acknowledged page.
 *
 * @param items items acknowledged by the pipeline in this run
 * @param unitsDone units (segments) read to their end, including those done in earlier runs
 * @param units units this process reads (Scan segments, or export data files)
 * @param elapsed time since the run started
 * @param itemsPerSecond items per second in this run
 * @param eta time left, estimated from the share of units done; empty until a unit is done
 */
public record SnapshotProgress(long items, int unitsDone, int units, Duration elapsed, double itemsPerSecond,
        Optional<Duration> eta) {

    /** The progress after {@code items} in this run started at {@code started}; ETA from the share of units done. */
    public static SnapshotProgress of(long items, int unitsDone, int units, Instant started, Instant now) {
        Duration elapsed = Duration.between(started, now);
        double seconds = Math.max(elapsed.toNanos() / 1e9, 1e-9);
        Optional<Duration> eta = unitsDone == 0 ? Optional.empty()
                : Optional.of(Duration.ofNanos((long) (elapsed.toNanos() * (double) (units - unitsDone) / unitsDone)));
        return new SnapshotProgress(items, unitsDone, units, elapsed, items / seconds, eta);
    }
}
