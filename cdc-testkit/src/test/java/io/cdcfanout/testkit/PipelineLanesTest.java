package io.cdcfanout.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.FlushCause;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Key-ordered concurrent delivery: a route's lanes (batches of distinct keys in progress at once) and
 * the sink's concurrent calls. The same semantic checks run over lanes (1 and 8), triggers (count,
 * bytes, age), shards (1 and 3) and a sink that fails some keys: order per key, only failed events
 * resent, the checkpoint never past an unacknowledged event, close flushes everything.
 */
class PipelineLanesTest {
    private final ManualClock clock = new ManualClock();
    private final ManualScheduler scheduler = new ManualScheduler(clock);
    private final RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();

    /**
     * Records every call, fails the first attempt of every event whose key is in {@code failOnce}, and
     * checks that no key is ever in two calls at once (thread-safe; declares concurrent calls).
     */
    private static final class CheckingSink implements Sink<Map<String, Object>> {
        final int maxCalls;
        final java.util.Set<Object> failOnce;
        final Map<EventKey, AtomicInteger> inFlight = new ConcurrentHashMap<>();
        final Map<String, Integer> attempts = new ConcurrentHashMap<>();
        final List<ChangeEvent<?>> delivered = new CopyOnWriteArrayList<>();
        final AtomicInteger overlaps = new AtomicInteger();
        final AtomicInteger concurrentCalls = new AtomicInteger();
        final AtomicInteger maxSeenCalls = new AtomicInteger();

        CheckingSink(int maxCalls, java.util.Set<Object> failOnce) {
            this.maxCalls = maxCalls;
            this.failOnce = failOnce;
        }

        @Override
        public SinkResult write(SinkBatch<? extends Map<String, Object>> batch) {
            int now = concurrentCalls.incrementAndGet();
            maxSeenCalls.accumulateAndGet(now, Math::max);
            java.util.Set<EventKey> keys = new java.util.HashSet<>();
            batch.events().forEach(e -> keys.add(e.key()));
            for (EventKey k : keys) {
                if (inFlight.computeIfAbsent(k, x -> new AtomicInteger()).incrementAndGet() > 1) {
                    overlaps.incrementAndGet();
                }
            }
            try {
                Thread.yield(); // let other calls in, if the pipeline would allow them
                SinkResult.Builder r = SinkResult.builder(batch.size());
                java.util.Set<EventKey> failed = new java.util.HashSet<>();
                for (int i = 0; i < batch.size(); i++) {
                    ChangeEvent<? extends Map<String, Object>> e = batch.events().get(i);
                    int attempt = attempts.merge(e.position() + "/" + e.eventId(), 1, Integer::sum);
                    if (failed.contains(e.key()) || attempt == 1 && failOnce.contains(e.key().values().get("id"))) {
                        failed.add(e.key());
                        r.fail(i, "failing " + e.eventId() + " once", true);
                    } else {
                        delivered.add(e);
                    }
                }
                return r.build();
            } finally {
                keys.forEach(k -> inFlight.get(k).decrementAndGet());
                concurrentCalls.decrementAndGet();
            }
        }

        @Override
        public int maxConcurrentCalls() {
            return maxCalls;
        }
    }

    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        for (int lanes : new int[] {1, 8}) {
            for (FlushCause trigger : new FlushCause[] {FlushCause.COUNT, FlushCause.BYTES, FlushCause.AGE}) {
                for (int shards : new int[] {1, 3}) {
                    out.add(Arguments.of(lanes, trigger, shards));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "lanes {0}, {1}, {2} shard(s)")
    @MethodSource("matrix")
    void orderPerKeyOnlyFailedResentCheckpointsSafeAndCloseFlushes(int lanes, FlushCause trigger, int shards)
            throws Exception {
        BufferPolicy buffer = switch (trigger) {
            case COUNT -> BufferPolicy.builder().maxEvents(7).maxAge(Duration.ofHours(1)).build();
            case BYTES -> BufferPolicy.builder().maxBytes(700).maxAge(Duration.ofHours(1)).build();
            default -> BufferPolicy.builder().maxAge(Duration.ofMillis(50)).build();
        };
        CheckingSink sink = new CheckingSink(lanes, java.util.Set.of("k3", "k7", "k11"));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<ChangeEvent<Map<String, Object>>> all = new ArrayList<>();
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("r").sink(sink).buffer(buffer).concurrency(lanes)
                        .retry(RetryPolicy.builder().maxAttempts(5).initialBackoff(Duration.ofMillis(1)).build())
                        .build())
                .deadLetterSink(deadLetters).executor(pool).build()) {
            List<CompletableFuture<BatchResult<Map<String, Object>>>> results = new ArrayList<>();
            for (int shard = 0; shard < shards; shard++) {
                TestEvents events = TestEvents.forTable("T", "id").shard("shard-" + shard).sizeBytes(100);
                for (int batch = 0; batch < 10; batch++) {
                    List<ChangeEvent<Map<String, Object>>> b = new ArrayList<>();
                    for (int i = 0; i < 10; i++) {
                        b.add(events.insert("k" + ((batch * 10 + i) % 13), Map.of("shard", shard, "n", batch * 10 + i)));
                    }
                    all.addAll(b);
                    results.add(p.submit(b));
                }
            }
            p.flush().get(30, TimeUnit.SECONDS);
            for (CompletableFuture<BatchResult<Map<String, Object>>> r : results) {
                BatchResult<Map<String, Object>> res = r.get(30, TimeUnit.SECONDS);
                assertTrue(res.succeeded(), res.toString());
                for (Map.Entry<String, Position> cp : res.checkpoints().entrySet()) {
                    assertTrue(cp.getValue().sequenceNumber() != null);
                }
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(0, sink.overlaps.get(), "two calls held one key at once");
        assertTrue(sink.maxSeenCalls.get() <= lanes, "calls at once: " + sink.maxSeenCalls + " > " + lanes);
        assertEquals(all.size(), sink.delivered.size(), "each event delivered once");
        // Order per key: within a shard, a key's events arrive in the order submitted.
        Map<String, List<Integer>> perKey = new HashMap<>();
        for (ChangeEvent<?> e : sink.delivered) {
            @SuppressWarnings("unchecked")
            Map<String, Object> after = (Map<String, Object>) e.after().orElseThrow();
            perKey.computeIfAbsent(e.position().shardId() + "/" + e.key().values().get("id"), x -> new ArrayList<>())
                    .add((Integer) after.get("n"));
        }
        perKey.forEach((k, ns) -> assertEquals(ns.stream().sorted().toList(), ns, "order of " + k));
        // Only failed events were sent again: an event is sent twice only if its key fails once.
        sink.attempts.forEach((id, n) -> assertTrue(n <= 2, id + " sent " + n + " times"));
        assertEquals(0, deadLetters.letters().size());
    }

    /** With 8 lanes, a key in backoff holds up only its own lane: other keys keep flowing meanwhile. */
    @Test
    void aKeyInBackoffHoldsUpOnlyItsOwnLane() {
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .failTimes(e -> e.key().values().get("id").equals("poison"), Integer.MAX_VALUE).build();
        TestEvents events = TestEvents.forTable("T", "id").clock(clock);
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder().clock(clock)
                .scheduler(scheduler).executor(scheduler).deadLetterSink(deadLetters)
                .route(Route.<Map<String, Object>>builder("r").sink(sink).concurrency(8)
                        .buffer(BufferPolicy.builder().maxAge(Duration.ZERO).build())
                        .retry(RetryPolicy.builder().maxAttempts(10).initialBackoff(Duration.ofSeconds(1)).build())
                        .build()).build()) {
            CompletableFuture<BatchResult<Map<String, Object>>> poisoned = p.submit(List.of(events.insert("poison",
                    Map.of())));
            List<CompletableFuture<BatchResult<Map<String, Object>>>> healthy = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                healthy.add(p.submit(List.of(events.insert("k" + i, Map.of()))));
            }
            // No time passes: the poison key waits for its retry, every other key is delivered.
            healthy.forEach(f -> assertTrue(f.isDone() && f.join().succeeded()));
            assertTrue(!poisoned.isDone(), "the poison key is still in backoff");
            assertEquals(50, sink.delivered().events().size());
            CompletableFuture<BatchResult<Map<String, Object>>> behind = p.submit(List.of(events.insert("poison",
                    Map.of("later", true))));
            assertTrue(!behind.isDone(), "a later event of the failing key waits behind it");
            scheduler.advance(Duration.ofMinutes(10)); // the retries run out: dead letter, and the later one parked
            assertTrue(poisoned.join().succeeded() && behind.join().succeeded());
            assertEquals(2, deadLetters.letters().size());
        }
    }

    @Test
    void withOneLaneABackoffHoldsUpTheRouteAsBefore() {
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .failTimes(e -> e.key().values().get("id").equals("poison"), Integer.MAX_VALUE).build();
        TestEvents events = TestEvents.forTable("T", "id").clock(clock);
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder().clock(clock)
                .scheduler(scheduler).executor(scheduler).deadLetterSink(deadLetters)
                .route(Route.<Map<String, Object>>builder("r").sink(sink).concurrency(1)
                        .buffer(BufferPolicy.builder().maxAge(Duration.ZERO).build())
                        .retry(RetryPolicy.builder().maxAttempts(10).initialBackoff(Duration.ofSeconds(1)).build())
                        .build()).build()) {
            p.submit(List.of(events.insert("poison", Map.of())));
            CompletableFuture<BatchResult<Map<String, Object>>> other = p.submit(List.of(events.insert("k", Map.of())));
            assertTrue(!other.isDone(), "one lane: everything waits for the backoff");
            scheduler.advance(Duration.ofMinutes(10));
            assertTrue(other.join().succeeded());
        }
    }

    /** Many threads, random failures: never two calls holding one key, every event once, in order. */
    @Test
    void aStressRunNeverHasTwoEventsOfOneKeyInFlight() throws Exception {
        CheckingSink sink = new CheckingSink(8, java.util.Set.of());
        Random random = new Random(5);
        java.util.Set<Object> flaky = new java.util.HashSet<>();
        for (int i = 0; i < 20; i++) {
            flaky.add("k" + random.nextInt(100));
        }
        CheckingSink failing = new CheckingSink(8, flaky);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        ExecutorService submitters = Executors.newFixedThreadPool(4);
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("a").sink(sink).concurrency(8)
                        .buffer(BufferPolicy.builder().maxEvents(20).maxAge(Duration.ofMillis(1)).build()).build())
                .route(Route.<Map<String, Object>>builder("b").sink(failing).concurrency(8)
                        .buffer(BufferPolicy.builder().maxEvents(20).maxAge(Duration.ofMillis(1)).build())
                        .retry(RetryPolicy.builder().maxAttempts(5).initialBackoff(Duration.ofMillis(1)).build())
                        .build())
                .deadLetterSink(deadLetters).executor(pool).build()) {
            List<CompletableFuture<?>> done = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                done.add(CompletableFuture.runAsync(() -> {
                    TestEvents events = TestEvents.forTable("T", "id").shard("shard-" + thread);
                    for (int b = 0; b < 50; b++) {
                        List<ChangeEvent<Map<String, Object>>> batch = new ArrayList<>();
                        for (int i = 0; i < 20; i++) {
                            batch.add(events.insert("k" + ((b * 20 + i) % 100), Map.of("n", b * 20 + i)));
                        }
                        assertTrue(p.submit(batch).join().succeeded());
                    }
                }, submitters));
            }
            for (CompletableFuture<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
            submitters.shutdownNow();
        }
        for (CheckingSink s : List.of(sink, failing)) {
            assertEquals(0, s.overlaps.get(), "two calls held one key at once");
            assertEquals(4 * 50 * 20, s.delivered.size());
            assertTrue(s.maxSeenCalls.get() > 1, "calls did run at once: " + s.maxSeenCalls);
        }
    }

    @Test
    void concurrencyIsCheckedWithAPreciseMessage() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Route.builder("r").concurrency(0));
        assertEquals("concurrency must be between 1 and 256 (was 0)", e.getMessage());
    }

    /** Memory stays bounded across lanes: a stuck sink holds at most the route's capacity, in all lanes together. */
    @Test
    void aStuckSinkHoldsAtMostTheCapacityAcrossAllLanes() throws Exception {
        java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
        ScriptedSink<Map<String, Object>> stuck = ScriptedSink.<Map<String, Object>>builder().gate(gate).build();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        TestEvents events = TestEvents.forTable("T", "id");
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder().executor(pool)
                .route(Route.<Map<String, Object>>builder("r").sink(new Sink<Map<String, Object>>() {
                    @Override
                    public SinkResult write(SinkBatch<? extends Map<String, Object>> batch) {
                        return stuck.write(batch);
                    }

                    @Override
                    public int maxConcurrentCalls() {
                        return 8;
                    }
                }).concurrency(8).buffer(BufferPolicy.builder().maxEvents(2).capacity(20)
                        .offerTimeout(Duration.ofMillis(50)).build()).build())
                .build()) {
            List<ChangeEvent<Map<String, Object>>> batch = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                batch.add(events.insert("k" + i, Map.of()));
            }
            CompletableFuture<BatchResult<Map<String, Object>>> result = p.submit(batch); // returns once it gave up
            gate.countDown();
            BatchResult<Map<String, Object>> refused = result.get(30, TimeUnit.SECONDS);
            assertEquals(80, refused.failures().size(), "20 held (in 8 lanes and the queue), 80 refused");
        } finally {
            pool.shutdownNow();
        }
    }
}
