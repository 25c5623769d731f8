package io.cdcfanout.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.api.pipeline.PipelineStats;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.SinkResult;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/** What operators see: the caller's MDC on sink threads, stats for gauges, several listeners at once. */
class PipelineObservabilityTest {

    @Test
    void sinkCallsRunWithTheSubmittersMdcAndLeaveTheirThreadClean() {
        List<String> seen = new CopyOnWriteArrayList<>();
        try (Pipeline<Map<String, Object>> pipeline = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("r").sink(batch -> {
                    seen.add(MDC.get("requestId") + "/" + Thread.currentThread().getName().startsWith("cdc"));
                    return SinkResult.allDelivered(batch.size());
                }).build()).build()) {
            TestEvents t = TestEvents.forTable("T", "id");
            MDC.put("requestId", "req-1");
            try {
                pipeline.submit(List.of(t.insert("a", Map.of()))).join();
            } finally {
                MDC.remove("requestId");
            }
            pipeline.submit(List.of(t.insert("b", Map.of()))).join();
        }
        assertEquals(2, seen.size());
        assertTrue(seen.get(0).startsWith("req-1/"), seen.toString());
        assertTrue(seen.get(1).startsWith("null/"), "no MDC leaks into the next call: " + seen);
    }

    @Test
    void statsShowBufferedInFlightParkedAndHalted() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch entered = new CountDownLatch(1);
        TestEvents t = TestEvents.forTable("T", "id");
        List<ChangeEvent<Map<String, Object>>> events = List.of(t.insert("a", Map.of()), t.insert("b", Map.of()));
        try (Pipeline<Map<String, Object>> pipeline = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("slow").sink(batch -> {
                    entered.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return SinkResult.allDelivered(batch.size());
                }).buffer(BufferPolicy.builder().maxEvents(1).build()).build())
                .route(Route.<Map<String, Object>>builder("held").sink(new RecordingSink<>())
                        .buffer(BufferPolicy.builder().maxEvents(100).maxAge(Duration.ofHours(1)).build()).build())
                .build()) {
            var done = pipeline.submit(events);
            assertTrue(entered.await(10, java.util.concurrent.TimeUnit.SECONDS));
            PipelineStats stats = pipeline.stats();
            assertEquals(List.of("slow", "held"), List.copyOf(stats.routes().keySet()));
            assertEquals(2, stats.routes().get("held").bufferedEvents());
            assertTrue(stats.routes().get("held").bufferedBytes() > 0);
            assertTrue(stats.routes().get("slow").inFlightEvents() >= 1, stats.toString());
            assertEquals(0, stats.routes().get("slow").parkedKeys());
            release.countDown();
            pipeline.flush().join();
            done.join();
            // A settled batch leaves the route's books just after its events' futures complete.
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
            while (pipeline.stats().routes().get("slow").inFlightEvents() > 0 && System.nanoTime() < deadline) {
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
            }
            assertEquals(new PipelineStats.RouteStats(0, 0, 0, 0, false), pipeline.stats().routes().get("slow"));
        }
    }

    @Test
    void everyListenerIsCalledEvenWhenOneThrows() {
        AtomicInteger first = new AtomicInteger();
        AtomicInteger third = new AtomicInteger();
        try (Pipeline<Map<String, Object>> pipeline = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("r").sink(new RecordingSink<>()).build())
                .listener(new PipelineListener() {
                    @Override
                    public void onEventsIn(String route, int events) {
                        first.addAndGet(events);
                    }
                })
                .listener(new PipelineListener() {
                    @Override
                    public void onEventsIn(String route, int events) {
                        throw new IllegalStateException("broken listener");
                    }
                })
                .listener(new PipelineListener() {
                    @Override
                    public void onEventsIn(String route, int events) {
                        third.addAndGet(events);
                    }
                }).build()) {
            pipeline.submit(List.of(TestEvents.forTable("T", "id").insert("a", Map.of()))).join();
        }
        assertEquals(1, first.get());
        assertEquals(1, third.get());
    }

    /**
     * Regression: a batch's future completed before the listener heard of the delivery, so a Lambda
     * invocation that wrote its metrics once its batch settled counted the delivery in the next one.
     */
    @Test
    void theListenerHearsOfADeliveryBeforeTheBatchSettles() throws Exception {
        AtomicInteger heard = new AtomicInteger();
        CountDownLatch registered = new CountDownLatch(1);
        try (Pipeline<Map<String, Object>> pipeline = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("r").sink(batch -> {
                    try {
                        registered.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return SinkResult.allDelivered(batch.size());
                }).build())
                .listener(new PipelineListener() {
                    @Override
                    public void onDelivered(String route, int events, Duration maxLag) {
                        heard.addAndGet(events);
                    }
                }).build()) {
            var done = pipeline.submit(List.of(TestEvents.forTable("T", "id").insert("a", Map.of())));
            var seenAtSettle = done.thenApply(r -> heard.get());
            registered.countDown();
            pipeline.flush();
            assertEquals(1, seenAtSettle.get(10, java.util.concurrent.TimeUnit.SECONDS));
        }
    }
}
