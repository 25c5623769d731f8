package io.cdcfanout.dynamodb.poller;

import java.time.Duration;

/**
 * When each shard is read next: at once after records, after the short active interval while a shard
 * had records within the active window, after the poll interval when idle, and after an exponential
 * pause (100 ms doubling, up to the maximum) after failures. Pure arithmetic on the shard's state.
 */
final class Pacer {
    static final long FIRST_PAUSE_MILLIS = 100;

    private final Duration pollInterval;
    private final Duration activePollInterval;
    private final Duration activeWindow;
    private final Duration maxBackoff;

    Pacer(Duration pollInterval, Duration activePollInterval, Duration activeWindow, Duration maxBackoff) {
        this.pollInterval = pollInterval;
        this.activePollInterval = activePollInterval;
        this.activeWindow = activeWindow;
        this.maxBackoff = maxBackoff;
    }

    /** A read returned records: read again at once, and count the shard as active. */
    void records(ShardState s, long now) {
        s.failures = 0;
        s.nextPollAt = now;
        s.lastRecordsAt = now;
    }

    /** A read returned nothing: wait the active or the idle interval. */
    void empty(ShardState s, long now) {
        s.failures = 0;
        boolean active = now - s.lastRecordsAt < activeWindow.toMillis();
        s.nextPollAt = now + (active ? activePollInterval : pollInterval).toMillis();
    }

    /** Waits the idle interval (a shard with nothing to read yet). */
    void idle(ShardState s, long now) {
        s.nextPollAt = now + pollInterval.toMillis();
    }

    /** One more failure: pause exponentially; returns the pause in milliseconds. */
    long pause(ShardState s, long now) {
        s.failures++;
        long millis = Math.min(maxBackoff.toMillis(), FIRST_PAUSE_MILLIS << Math.min(16, s.failures - 1));
        s.nextPollAt = now + millis;
        return millis;
    }

    /** The longest pause after a failure, in milliseconds. */
    long maxBackoffMillis() {
        return maxBackoff.toMillis();
    }
}
