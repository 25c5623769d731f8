package io.cdcfanout.dynamodb.snapshot;

import java.time.Duration;
import java.util.Optional;

/**
 * How far a snapshot has come, as reported after each acknowledged page.
 *
 * @param items items acknowledged by the pipeline in this run
 * @param unitsDone units (segments) read to their end, including those done in earlier runs
 * @param units units this process reads
 * @param elapsed time since the run started
 * @param itemsPerSecond items per second in this run
 * @param eta time left, estimated from the share of units done; empty until a unit is done
 */
public record SnapshotProgress(long items, int unitsDone, int units, Duration elapsed, double itemsPerSecond,
        Optional<Duration> eta) {
}
