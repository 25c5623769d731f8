package io.cdcfanout.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The pipeline on real threads: backpressure and concurrent submitters. Nothing sleeps; threads wait on latches. */
class PipelineConcurrencyTest {

    @Test
    void aSlowSinkPushesBackOnTheSourceAndMemoryStaysBounded() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        ScriptedSink<Map<String, Object>> slow = ScriptedSink.<Map<String, Object>>builder().gate(gate).build();
        RecordingListener listener = new RecordingListener();
        AtomicInteger admitted = new AtomicInteger();
        int capacity = 20;
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder().listener(listener)
                .route(Route.<Map<String, Object>>builder("slow").filter(e -> admitted.incrementAndGet() > 0)
                        .sink(slow).buffer(BufferPolicy.builder().maxEvents(5).capacity(capacity)
                                .maxAge(Duration.ofMillis(1)).offerTimeout(Duration.ofMinutes(1)).build())
                        .build())
                .build()) {
            TestEvents events = TestEvents.forTable("T", "id");
            List<ChangeEvent<Map<String, Object>>> all = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                all.add(events.insert("k" + (i % 7), Map.of("i", i)));
            }
            ExecutorService source = Executors.newSingleThreadExecutor();
            List<CompletableFuture<BatchResult<Map<String, Object>>>> results = new ArrayList<>();
            Future<?> submitting = source.submit(() -> {
                for (ChangeEvent<Map<String, Object>> e : all) {
                    results.add(p.submit(List.of(e)));
                }
            });
            // Wait (without sleeping) until the source is blocked by backpressure.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (listener.count("slow.backpressure") == 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertTrue(listener.count("slow.backpressure") > 0, "the source was made to wait");
            assertFalse(submitting.isDone());
            assertTrue(admitted.get() <= capacity + 1,
                    "the route took at most its capacity plus the one event waiting for room (took " + admitted + ")");

            gate.countDown();
            submitting.get(30, TimeUnit.SECONDS);
            for (CompletableFuture<BatchResult<Map<String, Object>>> r : results) {
                assertTrue(r.get(30, TimeUnit.SECONDS).succeeded());
            }
            assertEquals(200, slow.delivered().events().size());
            source.shutdown();
        }
    }

    @Test
    void aFullRouteFailsWhatItCannotTakeWithinTheOfferTimeout() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        ScriptedSink<Map<String, Object>> stuck = ScriptedSink.<Map<String, Object>>builder().gate(gate).build();
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("stuck").sink(stuck)
                        .buffer(BufferPolicy.builder().maxEvents(2).capacity(2).offerTimeout(Duration.ofMillis(50))
                                .build()).build())
                .build()) {
            TestEvents events = TestEvents.forTable("T", "id");
            CompletableFuture<BatchResult<Map<String, Object>>> held = p.submit(List.of(
                    events.insert("a", Map.of()), events.insert("b", Map.of())));
            BatchResult<Map<String, Object>> refused = p.submit(List.of(events.insert("c", Map.of()))).get(30,
                    TimeUnit.SECONDS);
            assertEquals(1, refused.failures().size());
            assertEquals("route 'stuck' stayed full (capacity 2) for PT0.05S; the event was not accepted",
                    refused.failures().get(0).reason());
            assertTrue(refused.checkpoints().isEmpty());
            gate.countDown();
            assertTrue(held.get(30, TimeUnit.SECONDS).succeeded());
        }
    }

    /** Regression: the offer timeout read System.nanoTime, so a test could not drive it with its clock. */
    @Test
    void theOfferTimeoutFollowsTheInjectedClock() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        ManualClock clock = new ManualClock();
        ScriptedSink<Map<String, Object>> stuck = ScriptedSink.<Map<String, Object>>builder().gate(gate).build();
        CountDownLatch full = new CountDownLatch(1);
        io.cdcfanout.api.pipeline.PipelineListener listener = new io.cdcfanout.api.pipeline.PipelineListener() {
            @Override
            public void onBackpressure(String route, int held) {
                full.countDown();
            }
        };
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder().clock(clock)
                .route(Route.<Map<String, Object>>builder("stuck").sink(stuck)
                        .buffer(BufferPolicy.builder().maxEvents(2).capacity(2).offerTimeout(Duration.ofHours(1))
                                .build()).build())
                .listener(listener).build()) {
            TestEvents events = TestEvents.forTable("T", "id");
            CompletableFuture<BatchResult<Map<String, Object>>> held = p.submit(List.of(
                    events.insert("a", Map.of()), events.insert("b", Map.of())));
            CompletableFuture<BatchResult<Map<String, Object>>> refused = CompletableFuture.supplyAsync(
                    () -> p.submit(List.of(events.insert("c", Map.of()))).join());
            assertTrue(full.await(30, TimeUnit.SECONDS), "the producer waits for room");
            clock.advance(Duration.ofHours(1).plusMillis(1)); // an hour passes on the pipeline's clock
            BatchResult<Map<String, Object>> result = refused.get(30, TimeUnit.SECONDS);
            assertEquals("route 'stuck' stayed full (capacity 2) for PT1H; the event was not accepted",
                    result.failures().get(0).reason());
            gate.countDown();
            assertTrue(held.get(30, TimeUnit.SECONDS).succeeded());
        }
    }

    /**
     * Several threads submit at once to three routes, with a sink that fails some events and
     * throttles calls. Every event must arrive exactly where its route's filter sends it, exactly
     * once, in order per key.
     */
    @Test
    void concurrentSubmittersGetEveryEventDeliveredWhereRoutedInOrderPerKey() throws Exception {
        int threads = 4;
        int perThread = 2_000;
        RetryPolicy fast = RetryPolicy.builder().maxAttempts(10).initialBackoff(Duration.ofMillis(1))
                .maxBackoff(Duration.ofMillis(5)).build();
        ScriptedSink<Map<String, Object>> flaky = ScriptedSink.<Map<String, Object>>builder()
                .failTimes(e -> Long.parseLong(e.position().sequenceNumber()) % 13 == 0, 2)
                .throttleCalls(3).build();
        RecordingSink<Map<String, Object>> inserts = new RecordingSink<>();
        RecordingSink<Map<String, Object>> everything = new RecordingSink<>();
        RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
        BufferPolicy small = BufferPolicy.builder().maxEvents(50).capacity(200).maxAge(Duration.ofMillis(2)).build();
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder().deadLetterSink(deadLetters)
                .route(Route.<Map<String, Object>>builder("flaky").filter(e -> e.operation() != Operation.REMOVE)
                        .sink(flaky).buffer(small).retry(fast).build())
                .route(Route.<Map<String, Object>>builder("inserts").operations(Operation.INSERT)
                        .sink(inserts).buffer(small).retry(fast).build())
                .route(Route.<Map<String, Object>>builder("everything").sink(everything).buffer(small).retry(fast)
                        .build())
                .build()) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<List<BatchResult<Map<String, Object>>>>> futures = new ArrayList<>();
            List<List<ChangeEvent<Map<String, Object>>>> submitted = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                TestEvents events = TestEvents.forTable("T", "id").shard("shard-" + t).nextSequence(1);
                List<ChangeEvent<Map<String, Object>>> mine = new ArrayList<>();
                for (int i = 0; i < perThread; i++) {
                    String key = "t" + t + "-k" + (i % 17);
                    Operation op = Operation.values()[i % 3];
                    mine.add(switch (op) {
                        case INSERT -> events.insert(key, Map.of("i", i));
                        case MODIFY -> events.modify(key, Map.of("i", i - 1), Map.of("i", i));
                        case SNAPSHOT -> throw new AssertionError("only stream operations are drawn");
                        case REMOVE -> events.remove(key, Map.of("i", i - 1));
                    });
                }
                submitted.add(mine);
                futures.add(pool.submit(() -> {
                    List<CompletableFuture<BatchResult<Map<String, Object>>>> pending = new ArrayList<>();
                    for (int from = 0; from < mine.size(); from += 37) {
                        pending.add(p.submit(mine.subList(from, Math.min(mine.size(), from + 37))));
                    }
                    List<BatchResult<Map<String, Object>>> done = new ArrayList<>();
                    for (CompletableFuture<BatchResult<Map<String, Object>>> f : pending) {
                        done.add(f.get(60, TimeUnit.SECONDS));
                    }
                    return done;
                }));
            }
            for (Future<List<BatchResult<Map<String, Object>>>> f : futures) {
                for (BatchResult<Map<String, Object>> r : f.get(120, TimeUnit.SECONDS)) {
                    assertTrue(r.succeeded(), () -> "failures: " + r.failures());
                }
            }
            pool.shutdown();

            List<ChangeEvent<Map<String, Object>>> all = submitted.stream().flatMap(List::stream).toList();
            assertEquals(List.of(), deadLetters.eventIds(), "retries cover every scripted failure");
            assertExactlyOnceInKeyOrder(all.stream().filter(e -> e.operation() != Operation.REMOVE).toList(),
                    flaky.delivered().events());
            assertExactlyOnceInKeyOrder(all.stream().filter(e -> e.operation() == Operation.INSERT).toList(),
                    inserts.events());
            assertExactlyOnceInKeyOrder(all, everything.events());
        }
    }

    private static void assertExactlyOnceInKeyOrder(List<ChangeEvent<Map<String, Object>>> expected,
            List<? extends ChangeEvent<?>> delivered) {
        assertEquals(expected.size(), delivered.size(), "delivered count");
        Map<Position, Integer> seen = new HashMap<>();
        for (ChangeEvent<?> e : delivered) {
            seen.merge(e.position(), 1, Integer::sum);
        }
        for (ChangeEvent<Map<String, Object>> e : expected) {
            assertEquals(1, seen.getOrDefault(e.position(), 0), () -> "delivered once: " + e);
        }
        Map<Object, Position> last = new HashMap<>();
        for (ChangeEvent<?> e : delivered) {
            Position previous = last.put(e.key(), e.position());
            if (previous != null) {
                assertTrue(e.position().isAfter(previous), () -> "key order broken at " + e);
            }
        }
    }
}
