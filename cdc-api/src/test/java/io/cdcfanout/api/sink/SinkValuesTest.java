package io.cdcfanout.api.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SinkValuesTest {

    @Test
    void resultsReportEachEventAndTheCallsCost() {
        SinkResult r = SinkResult.builder(3).fail(1, "throttled", true).fail(2, "too big", false)
                .count("requests", 1).count("requests", 1).count("billedUnits", 4).build();
        assertEquals(SinkResult.Status.DELIVERED, r.status(0));
        assertEquals(SinkResult.Status.FAILED_RETRYABLE, r.status(1));
        assertEquals(SinkResult.Status.FAILED_FATAL, r.status(2));
        assertEquals("throttled", r.reason(1));
        assertEquals("", r.reason(0));
        assertEquals(2, r.failedCount());
        assertFalse(r.allDelivered());
        assertEquals(Map.of("requests", 2L, "billedUnits", 4L), r.counters());
        assertTrue(SinkResult.allDelivered(5).allDelivered());
        assertEquals(4, SinkResult.allFailed(4, "down", true).failedCount());
    }

    @Test
    void resultBuilderRejectsAnIndexOutsideTheBatch() {
        assertThrows(IndexOutOfBoundsException.class, () -> SinkResult.builder(2).fail(2, "x", true));
        assertEquals("size must be at least 0 (was -1)",
                assertThrows(IllegalArgumentException.class, () -> SinkResult.builder(-1)).getMessage());
    }

    @Test
    void limitsNameTheBrokenRule() {
        assertEquals("maxBatchEvents must be at least 1 (was 0)",
                assertThrows(IllegalArgumentException.class, () -> new SinkLimits(0, 10, 10)).getMessage());
        assertEquals("maxEventBytes must be between 1 and maxBatchBytes (4194304) (was 5000000)",
                assertThrows(IllegalArgumentException.class, () -> new SinkLimits(500, 4_194_304, 5_000_000))
                        .getMessage());
    }

    @Test
    void batchesValidateTheirAttempt() {
        assertEquals("attempt must be at least 1 (was 0)",
                assertThrows(IllegalArgumentException.class, () -> SinkBatch.of("r", 0, List.of())).getMessage());
        assertEquals("SinkBatch[route=r, attempt=2, events=0]", SinkBatch.of("r", 2, List.of()).toString());
    }

    /**
     * Regression: ReplicationSink's parallel writes marked failures into one builder from several threads,
     * and its reasons were a plain HashMap, so failures could be lost (an event reported delivered).
     */
    @Test
    void failuresMarkedFromParallelWritesAreAllKept() throws Exception {
        int n = 20_000;
        SinkResult.Builder b = SinkResult.builder(n);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            java.util.List<java.util.concurrent.Future<?>> all = new java.util.ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                all.add(pool.submit(() -> {
                    for (int i = thread; i < n; i += 8) {
                        b.fail(i, "failed " + i, i % 2 == 0).count("requests", 1);
                    }
                }));
            }
            for (java.util.concurrent.Future<?> f : all) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        SinkResult r = b.build();
        for (int i = 0; i < n; i++) {
            assertEquals("failed " + i, r.reason(i));
        }
        assertEquals((long) n, r.counters().get("requests"));
    }
}
