package io.cdcfanout.dynamodb.snapshot;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * Paces reads to a rate of capacity units per second: each page's consumed units push the time the
 * next read may start by {@code units / rate}. Shared by a snapshot's threads.
 */
final class ReadRate {
    private final double perSecond;
    private final Clock clock;
    private Instant next;

    ReadRate(double perSecond, Clock clock) {
        this.perSecond = perSecond;
        this.clock = clock;
        this.next = clock.instant();
    }

    /** How long to wait before the next read; zero without a limit. */
    synchronized Duration waitBeforeNext() {
        if (perSecond <= 0) {
            return Duration.ZERO;
        }
        Duration wait = Duration.between(clock.instant(), next);
        return wait.isNegative() ? Duration.ZERO : wait;
    }

    /** Records {@code units} consumed by a read. */
    synchronized void consumed(double units) {
        if (perSecond <= 0) {
            return;
        }
        Instant now = clock.instant();
        Instant from = next.isAfter(now) ? next : now;
        next = from.plusNanos((long) (units / perSecond * 1e9));
    }
}
