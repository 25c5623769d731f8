package io.cdcfanout.dynamodb.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The CI-sized multi-master torture ({@link TwoWayTorture}; its {@code main} runs the long version):
 * two sides, two writer threads each, 50 shared keys, puts, updates, deletes and ties. Regression: the
 * same kind of run diverged on 2 to 19 keys, with resurrected deletes, lost updates and wrong winners.
 */
class TwoWayTortureTest {
    @ParameterizedTest
    @EnumSource(TwoWayTorture.Mode.class)
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void everySideEndsWithTheWinnerOfEveryKey(TwoWayTorture.Mode mode) throws Exception {
        TwoWayTorture.Figures f = TwoWayTorture.run(new TwoWayTorture.Config(mode, 2, 2, 50, Duration.ofSeconds(4),
                7));
        System.out.println("two-way torture " + f);
        assertTrue(f.writes() > 100 && f.deletes() > 10 && f.ties() > 10, "the run wrote enough: " + f);
        assertEquals(0, f.differing(), "keys that differ between the sides: " + f);
        assertEquals(0, f.resurrections(), "deleted keys alive again: " + f);
        assertEquals(0, f.lostUpdates(), "winning writes missing: " + f);
        assertEquals(0, f.wrongWinners(), "keys holding a losing write: " + f);
        assertEquals(0, f.deadLetters(), f.toString());
        assertTrue(f.replicatorWrites() <= f.writes(), "each write is copied at most once to the other side: " + f);
        assertEquals(0, f.replayWrites(), "a replay from the start writes nothing: " + f);
        if (mode == TwoWayTorture.Mode.WIRE_FAULTS) {
            assertTrue(f.faultsServed() > 10, "faults were injected: " + f);
        }
        if (mode == TwoWayTorture.Mode.CRASHES) {
            assertEquals(3, f.crashes());
        }
    }
}
