package io.cdcfanout.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.FlushCause;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.PoisonPolicy;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkLimits;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.api.sink.SinkUnavailableException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The pipeline's semantics, driven by a manual clock on one thread: nothing here sleeps. */
class PipelineSemanticsTest {
    private static final RetryPolicy NO_JITTER = RetryPolicy.builder().maxAttempts(3)
            .initialBackoff(Duration.ofMillis(100)).multiplier(2).jitter(0).build();

    /** A buffer that holds events until a flush (the default sends at once). */
    private static final BufferPolicy SLOW = BufferPolicy.builder().maxAge(Duration.ofHours(1)).build();

    private final ManualClock clock = new ManualClock();
    private final ManualScheduler scheduler = new ManualScheduler(clock);
    private final RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
    private final RecordingListener listener = new RecordingListener();
    private final TestEvents events = TestEvents.forTable("Customers", "id").clock(clock).sizeBytes(100);

    private Pipeline.Builder<Map<String, Object>> pipeline() {
        return Pipeline.<Map<String, Object>>builder()
                .clock(clock).scheduler(scheduler).executor(scheduler)
                .deadLetterSink(deadLetters).listener(listener);
    }

    private List<ChangeEvent<Map<String, Object>>> inserts(int n, String keyPrefix) {
        List<ChangeEvent<Map<String, Object>>> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(events.insert(keyPrefix + i, Map.of("n", i)));
        }
        return list;
    }

    // ------------------------------------------------------------------ flush triggers

    /** Each trigger fires on its own threshold and nothing earlier; the other two are set out of reach. */
    @ParameterizedTest
    @EnumSource(value = FlushCause.class, names = {"COUNT", "BYTES", "AGE"})
    void flushesOnEachTriggerAndNotBefore(FlushCause trigger) {
        BufferPolicy policy = switch (trigger) {
            case COUNT -> BufferPolicy.builder().maxEvents(10).maxBytes(1_000_000).maxAge(Duration.ofHours(1)).build();
            case BYTES -> BufferPolicy.builder().maxEvents(1000).maxBytes(1000).maxAge(Duration.ofHours(1)).build();
            case AGE -> BufferPolicy.builder().maxEvents(1000).maxBytes(1_000_000).maxAge(Duration.ofSeconds(5)).build();
            default -> throw new AssertionError(trigger);
        };
        RecordingSink<Map<String, Object>> sink = new RecordingSink<>();
        try (Pipeline<Map<String, Object>> p = pipeline()
                .route(Route.<Map<String, Object>>builder("r").sink(sink).buffer(policy).build()).build()) {
            // 9 events of 100 bytes: under every threshold.
            CompletableFuture<BatchResult<Map<String, Object>>> first = p.submit(inserts(9, "a"));
            clock.advance(Duration.ofSeconds(4));
            scheduler.runDueTasks();
            assertEquals(0, sink.calls(), "no trigger has fired yet");
            assertFalse(first.isDone(), "nothing is acknowledged before the sink accepted it");

            if (trigger == FlushCause.AGE) {
                scheduler.advance(Duration.ofSeconds(1));
            } else {
                p.submit(inserts(1, "b"));
            }
            assertEquals(1, sink.calls());
            assertEquals(trigger == FlushCause.AGE ? 9 : 10, sink.events().size());
            assertEquals(List.of(trigger), listener.flushes().stream().map(RecordingListener.Flush::cause).toList());
            assertTrue(first.join().succeeded());
        }
    }

    /** maxAge zero: an idle route sends at once; events arriving during a call go together in the next. */
    @Test
    void zeroMaxAgeSendsWhenIdleAndCoalescesWhileACallIsInFlight() {
        List<Integer> sizes = new ArrayList<>();
        AtomicInteger calls = new AtomicInteger();
        List<CompletableFuture<BatchResult<Map<String, Object>>>> during = new ArrayList<>();
        java.util.concurrent.atomic.AtomicReference<Pipeline<Map<String, Object>>> holder =
                new java.util.concurrent.atomic.AtomicReference<>();
        Sink<Map<String, Object>> sink = batch -> {
            sizes.add(batch.size());
            if (calls.incrementAndGet() == 1) {
                // Three more arrive, one submit at a time, while this call is in flight.
                for (int i = 0; i < 3; i++) {
                    during.add(holder.get().submit(inserts(1, "during" + i)));
                }
            }
            return SinkResult.allDelivered(batch.size());
        };
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .buffer(BufferPolicy.builder().maxAge(Duration.ZERO).build()).build()).build()) {
            holder.set(p);
            CompletableFuture<BatchResult<Map<String, Object>>> first = p.submit(inserts(2, "first"));
            assertTrue(first.join().succeeded(), "sent without any clock advance");
            assertEquals(List.of(2, 3), sizes, "the three that arrived during the first call went in one");
            during.forEach(f -> assertTrue(f.join().succeeded()));
            assertEquals(List.of(FlushCause.AGE, FlushCause.AGE),
                    listener.flushes().stream().map(RecordingListener.Flush::cause).toList());
            assertEquals(0, scheduler.pendingTasks(), "no age timer is needed");
        }
    }

    @Test
    void explicitFlushDrainsEverythingBuffered() {
        RecordingSink<Map<String, Object>> sink = new RecordingSink<>();
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .buffer(BufferPolicy.builder().maxAge(Duration.ofHours(1)).build()).build()).build()) {
            CompletableFuture<BatchResult<Map<String, Object>>> batch = p.submit(inserts(3, "k"));
            assertEquals(0, sink.calls());
            CompletableFuture<Void> flushed = p.flush();
            assertTrue(flushed.isDone());
            assertEquals(3, sink.events().size());
            assertTrue(batch.join().succeeded());
            assertEquals(FlushCause.FLUSH, listener.flushes().get(0).cause());
        }
    }

    @Test
    void callsRespectTheSinksLimits() {
        RecordingSink<Map<String, Object>> sink = new RecordingSink<>(new SinkLimits(4, 250, 250), e -> 100);
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .buffer(BufferPolicy.builder().maxEvents(10).maxAge(Duration.ofSeconds(1)).build()).build()).build()) {
            CompletableFuture<BatchResult<Map<String, Object>>> batch = p.submit(inserts(10, "k"));
            assertEquals(4, sink.calls(), "a full call (by the sink's byte limit) flushes without waiting");
            p.flush().join();
            assertTrue(batch.join().succeeded());
            // 250 bytes a call at 100 bytes an event: 2 events a call, whatever the count limit says.
            assertEquals(5, sink.calls());
            sink.batches().forEach(b -> assertEquals(2, b.size()));
        }
    }

    /** Regression: a sink limit below the buffer thresholds used to leave full calls waiting for the age trigger. */
    @Test
    void aSinkLimitBelowTheBufferThresholdsFlushesWithoutWaitingForAge() {
        RecordingSink<Map<String, Object>> sink = new RecordingSink<>(new SinkLimits(3, Long.MAX_VALUE, Long.MAX_VALUE),
                ChangeEvent::sizeBytes);
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .buffer(BufferPolicy.builder().maxEvents(100).maxAge(Duration.ofHours(1)).build()).build()).build()) {
            CompletableFuture<BatchResult<Map<String, Object>>> batch = p.submit(inserts(6, "k"));
            assertTrue(batch.isDone(), "two full calls of 3 went out at once");
            assertEquals(List.of(3, 3), sink.batches().stream().map(b -> b.size()).toList());
            assertEquals(List.of(FlushCause.COUNT, FlushCause.COUNT),
                    listener.flushes().stream().map(RecordingListener.Flush::cause).toList());
        }
    }

    // ------------------------------------------------------------------ partial failure and order

    @Test
    void retriesOnlyTheFailedEvents() {
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .failEvent("evt-2", 1).failEvent("evt-4", 2).build();
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .retry(NO_JITTER).buffer(BufferPolicy.builder().maxEvents(5).build()).build()).build()) {
            CompletableFuture<BatchResult<Map<String, Object>>> batch = p.submit(inserts(5, "k"));
            assertEquals(List.of("evt-1", "evt-3", "evt-5"), sink.delivered().eventIds());

            scheduler.advance(Duration.ofMillis(100));
            assertEquals(List.of(2), sink.delivered().batches().stream().skip(1).map(b -> b.size()).toList(),
                    "the retry carries only the two failed events");
            assertEquals(List.of("evt-1", "evt-3", "evt-5", "evt-2"), sink.delivered().eventIds());

            scheduler.advance(Duration.ofMillis(200));
            assertEquals(List.of("evt-1", "evt-3", "evt-5", "evt-2", "evt-4"), sink.delivered().eventIds());
            assertEquals(List.of(1, 2, 3), sink.delivered().batches().stream().map(b -> b.attempt()).toList());
            assertEquals(5 + 2 + 1, sink.eventsOffered(), "successes are never sent again");
            assertTrue(batch.join().succeeded());
            assertEquals(2, listener.count("r.retries"));
        }
    }

    @Test
    void aLaterEventOfAKeyNeverOvertakesAnEarlierFailedOne() {
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder().failEvent("evt-1", 2).build();
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .retry(NO_JITTER).buffer(BufferPolicy.builder().maxEvents(2).build()).build()).build()) {
            ChangeEvent<Map<String, Object>> a1 = events.insert("A", Map.of("v", 1));
            ChangeEvent<Map<String, Object>> b1 = events.insert("B", Map.of("v", 1));
            ChangeEvent<Map<String, Object>> a2 = events.modify("A", Map.of("v", 1), Map.of("v", 2));
            ChangeEvent<Map<String, Object>> a3 = events.modify("A", Map.of("v", 2), Map.of("v", 3));
            p.submit(List.of(a1, b1));
            p.submit(List.of(a2, a3));
            assertEquals(List.of("evt-2"), sink.delivered().eventIds(), "A2 and A3 wait behind A1's retries");
            scheduler.advance(Duration.ofSeconds(1));
            assertEquals(List.of("evt-2", "evt-1", "evt-3", "evt-4"), sink.delivered().eventIds());
        }
    }

    @Test
    void aSinkThatAppliesALaterEventOfAFailedKeyGetsItAgainAfterTheEarlierOne() {
        // A sink that breaks the contract: fails A1 but applies A2 in the same call.
        List<String> applied = new ArrayList<>();
        int[] call = {0};
        io.cdcfanout.api.sink.Sink<Map<String, Object>> careless = batch -> {
            var result = io.cdcfanout.api.sink.SinkResult.builder(batch.size());
            for (int i = 0; i < batch.size(); i++) {
                ChangeEvent<? extends Map<String, Object>> e = batch.events().get(i);
                if (call[0] == 0 && e.eventId().equals("evt-1")) {
                    result.fail(i, "throttled", true);
                } else {
                    applied.add(e.eventId());
                }
            }
            call[0]++;
            return result.build();
        };
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(careless)
                .retry(NO_JITTER).buffer(BufferPolicy.builder().maxEvents(2).build()).build()).build()) {
            p.submit(List.of(events.insert("A", Map.of("v", 1)), events.modify("A", Map.of("v", 1), Map.of("v", 2))));
            scheduler.advance(Duration.ofSeconds(1));
            assertEquals(List.of("evt-2", "evt-1", "evt-2"), applied, "A2 is written again after A1, so it stays last");
        }
    }

    @Test
    void anUnavailableSinkHaltsTheRouteWithoutDeadLetteringOrRetrying() {
        AtomicInteger calls = new AtomicInteger();
        Sink<Map<String, Object>> missing = batch -> {
            calls.incrementAndGet();
            throw new SinkUnavailableException("table 'Replica' does not exist", null);
        };
        try (Pipeline<Map<String, Object>> p = pipeline()
                .route(Route.<Map<String, Object>>builder("replica").sink(missing).retry(NO_JITTER).build()).build()) {
            CompletableFuture<BatchResult<Map<String, Object>>> batch = p.submit(inserts(3, "k"));
            p.flush().join();
            BatchResult<Map<String, Object>> result = batch.join();
            assertEquals(3, result.failures().size(), "nothing is acknowledged");
            assertEquals(0, result.deadLettered());
            assertEquals(List.of(), deadLetters.eventIds());
            assertEquals(1, calls.get(), "no retries against a missing destination");
            assertEquals(Optional.of("the sink is unavailable: table 'Replica' does not exist"), p.haltReason("replica"));
            assertEquals(List.of("replica"), listener.halts());
        }
    }

    // ------------------------------------------------------------------ poison events

    @Test
    void aDefectiveEventIsDeadLetteredOnEveryRouteWithoutRunningFiltersOrSinks() {
        RecordingSink<Map<String, Object>> sink = new RecordingSink<>();
        RecordingSink<Map<String, Object>> inserts = new RecordingSink<>();
        try (Pipeline<Map<String, Object>> p = pipeline()
                .route(Route.<Map<String, Object>>builder("all").sink(sink).build())
                .route(Route.<Map<String, Object>>builder("inserts").operations(Operation.INSERT)
                        .filter(e -> e.after().orElseThrow().containsKey("v")).sink(inserts).build())
                .build()) {
            ChangeEvent<Map<String, Object>> sound = events.insert("A", Map.of("v", 1));
            ChangeEvent<Map<String, Object>> defective = events.builder(Operation.MODIFY, "B")
                    .defect("Keys is missing (a record must name its key attributes)").build();
            CompletableFuture<BatchResult<Map<String, Object>>> batch = p.submit(List.of(defective, sound));
            p.flush().join();
            BatchResult<Map<String, Object>> result = batch.join();
            assertTrue(result.succeeded(), "a dead-lettered event is acknowledged");
            assertEquals(1, result.deadLettered());
            assertEquals(List.of(sound.eventId()), sink.eventIds());
            assertEquals(List.of(sound.eventId()), inserts.eventIds());
            assertEquals(List.of(defective.eventId(), defective.eventId()), deadLetters.eventIds());
            assertEquals("the source could not map the record: Keys is missing (a record must name its key "
                    + "attributes)", deadLetters.letters().get(0).reason());
            assertEquals(0, deadLetters.letters().get(0).attempts());
        }
    }

    @Test
    void poisonEventsAreDeadLetteredWithTheFullEventAndOtherKeysKeepFlowing() {
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .fatalWhen(e -> e.eventId().equals("evt-2"), "item too large for the target").build();
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("replica")
                .sink(sink).retry(NO_JITTER).buffer(BufferPolicy.builder().maxEvents(3).build()).build()).build()) {
            ChangeEvent<Map<String, Object>> a1 = events.insert("A", Map.of("v", 1));
            ChangeEvent<Map<String, Object>> b1 = events.insert("B", Map.of("secret", "x"));
            ChangeEvent<Map<String, Object>> c1 = events.insert("C", Map.of("v", 1));
            BatchResult<Map<String, Object>> first = p.submit(List.of(a1, b1, c1)).join();
            ChangeEvent<Map<String, Object>> b2 = events.modify("B", Map.of("secret", "x"), Map.of("secret", "y"));
            ChangeEvent<Map<String, Object>> a2 = events.modify("A", Map.of("v", 1), Map.of("v", 2));
            ChangeEvent<Map<String, Object>> c2 = events.modify("C", Map.of("v", 1), Map.of("v", 2));
            BatchResult<Map<String, Object>> second = p.submit(List.of(b2, a2, c2)).join();

            assertTrue(first.succeeded(), "a dead-lettered event counts as acknowledged");
            assertTrue(second.succeeded());
            assertEquals(1, first.deadLettered());
            assertEquals(List.of("evt-1", "evt-3", "evt-5", "evt-6"), sink.delivered().eventIds());
            assertEquals(List.of("evt-2", "evt-4"), deadLetters.eventIds(), "B's later event follows it (parked key)");

            DeadLetter letter = deadLetters.letters().get(0);
            assertSame(b1, letter.event(), "the letter holds the full event");
            assertEquals("replica", letter.route());
            assertEquals("item too large for the target", letter.reason());
            assertEquals(1, letter.attempts());
            assertEquals(clock.instant(), letter.failedAt());
            assertTrue(deadLetters.letters().get(1).reason().startsWith("key parked"));
            assertEquals(0, deadLetters.letters().get(1).attempts());
        }
    }

    @Test
    void retriesRunOutIntoTheDeadLetterSinkWithTheAttemptCount() {
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .failTimes(e -> e.key().values().get("id").equals("A"), 100).build();
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .retry(NO_JITTER).buffer(BufferPolicy.builder().maxEvents(2).build()).build()).build()) {
            CompletableFuture<BatchResult<Map<String, Object>>> batch =
                    p.submit(List.of(events.insert("A", Map.of()), events.insert("B", Map.of())));
            scheduler.advance(Duration.ofMillis(100));
            assertFalse(batch.isDone());
            scheduler.advance(Duration.ofMillis(200));
            assertTrue(batch.join().succeeded());
            assertEquals(List.of("evt-2"), sink.delivered().eventIds());
            DeadLetter letter = deadLetters.letters().get(0);
            assertEquals(3, letter.attempts());
            assertEquals("gave up after 3 attempts: scripted retryable failure", letter.reason());
        }
    }

    @Test
    void haltRouteStopsAcknowledgingAndTheCheckpointStopsBeforeIt() {
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .fatalWhen(e -> e.eventId().equals("evt-2"), "schema mismatch").build();
        RecordingSink<Map<String, Object>> healthy = new RecordingSink<>();
        try (Pipeline<Map<String, Object>> p = pipeline()
                .route(Route.<Map<String, Object>>builder("strict").sink(sink).onPoison(PoisonPolicy.HALT_ROUTE)
                        .buffer(BufferPolicy.builder().maxEvents(1).build()).build())
                .route(Route.<Map<String, Object>>builder("healthy").sink(healthy)
                        .buffer(BufferPolicy.builder().maxEvents(1).build()).build())
                .build()) {
            BatchResult<Map<String, Object>> result = p.submit(inserts(4, "k")).join();

            assertEquals(List.of("evt-1"), sink.delivered().eventIds());
            assertEquals(List.of("evt-2"), deadLetters.eventIds());
            assertEquals(4, healthy.events().size(), "a halted route does not hold back the others");
            assertEquals(List.of("evt-3", "evt-4"), result.failures().stream().map(f -> f.event().eventId()).toList());
            assertEquals("evt-3", result.firstFailure().orElseThrow().eventId());
            assertEquals(new Position("shardId-000001", "101"), result.checkpoints().get("shardId-000001"),
                    "the checkpoint stops at evt-2, the last acknowledged event before the first failure");
            assertTrue(p.haltReason("strict").orElseThrow().contains("schema mismatch"));
            assertEquals(List.of("strict"), listener.halts());

            p.resume("strict");
            assertTrue(p.submit(inserts(1, "z")).join().succeeded());
        }
    }

    @Test
    void withoutADeadLetterSinkAPoisonEventHaltsTheRouteInsteadOfBeingLost() {
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .fatalWhen(e -> true, "bad").build();
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder()
                .clock(clock).scheduler(scheduler).executor(scheduler)
                .route(Route.<Map<String, Object>>builder("r").sink(sink)
                        .buffer(BufferPolicy.builder().maxEvents(1).build()).build()).build()) {
            BatchResult<Map<String, Object>> result = p.submit(inserts(1, "k")).join();
            assertFalse(result.succeeded());
            assertTrue(result.failures().get(0).reason().contains("no dead-letter sink is configured"));
            assertTrue(p.haltReason("r").isPresent());
            assertTrue(result.checkpoints().isEmpty());
        }
    }

    @Test
    void aFailingDeadLetterSinkIsRetriedThenHaltsTheRouteWithoutAcknowledging() {
        deadLetters.failNext(10);
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .fatalWhen(e -> true, "bad").build();
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .retry(NO_JITTER).buffer(BufferPolicy.builder().maxEvents(1).build()).build()).build()) {
            CompletableFuture<BatchResult<Map<String, Object>>> batch = p.submit(inserts(1, "k"));
            scheduler.advance(Duration.ofSeconds(1));
            BatchResult<Map<String, Object>> result = batch.join();
            assertFalse(result.succeeded());
            assertEquals(3, deadLetters.calls());
            assertTrue(p.haltReason("r").orElseThrow().startsWith("the dead-letter sink failed"));
        }
    }

    /** Regression: a retry rejected by the executor inside a scheduled task vanished, and the batch never settled. */
    @Test
    void aDeadLetterRetryRejectedByTheExecutorSettlesTheBatchAsFailed() {
        deadLetters.failNext(1);
        java.util.concurrent.atomic.AtomicBoolean rejecting = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.Executor executor = task -> {
            if (rejecting.get()) {
                throw new java.util.concurrent.RejectedExecutionException("executor is shut down");
            }
            scheduler.execute(task);
        };
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .fatalWhen(e -> true, "bad").build();
        try (Pipeline<Map<String, Object>> p = pipeline().executor(executor).closeTimeout(Duration.ofMillis(10)).route(Route.<Map<String, Object>>builder("r")
                .sink(sink).retry(NO_JITTER).buffer(BufferPolicy.builder().maxEvents(1).build()).build()).build()) {
            CompletableFuture<BatchResult<Map<String, Object>>> batch = p.submit(inserts(1, "k"));
            assertFalse(batch.isDone(), "the dead-letter write waits for its retry");
            rejecting.set(true);
            scheduler.advance(Duration.ofSeconds(10));
            assertTrue(batch.isDone(), "the rejected retry settles the batch; dead-letter calls " + deadLetters.calls()
                    + ", sink calls " + sink.calls() + ", halted " + p.haltReason("r"));
            assertFalse(batch.join().succeeded(), "nothing is acknowledged that was not dead-lettered");
            assertTrue(p.haltReason("r").orElseThrow().contains("the executor rejected its retry"),
                    p.haltReason("r").orElseThrow());
        }
    }

    @Test
    void aDeadLetterSinkThatRecoversWithinTheRetriesLosesNothing() {
        deadLetters.failNext(1);
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .fatalWhen(e -> true, "bad").build();
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .retry(NO_JITTER).buffer(BufferPolicy.builder().maxEvents(1).build()).build()).build()) {
            CompletableFuture<BatchResult<Map<String, Object>>> batch = p.submit(inserts(1, "k"));
            scheduler.advance(Duration.ofMillis(100));
            assertTrue(batch.join().succeeded());
            assertEquals(List.of("evt-1"), deadLetters.eventIds());
        }
    }

    @Test
    void userCodeThatThrowsDeadLettersTheEventOnThatRouteOnly() {
        RecordingSink<Map<String, Object>> sink = new RecordingSink<>();
        RecordingSink<String> names = new RecordingSink<>();
        try (Pipeline<Map<String, Object>> p = pipeline()
                .route(Route.<Map<String, Object>>builder("all").sink(sink)
                        .buffer(BufferPolicy.builder().maxEvents(2).build()).build())
                .route(Route.<Map<String, Object>>builder("names")
                        .transform(e -> e.map(image -> (String) image.get("name")))
                        .sink(names).buffer(BufferPolicy.builder().maxEvents(2).build()).build())
                .build()) {
            // The second event's "name" is a number: the cast in the transform throws.
            BatchResult<Map<String, Object>> result = p.submit(List.of(
                    events.insert("a", Map.of("name", "Ada")), events.insert("b", Map.of("name", 42)))).join();
            assertTrue(result.succeeded());
            assertEquals(2, sink.events().size());
            assertEquals(List.of("evt-1"), names.eventIds());
            assertEquals("Ada", names.events().get(0).after().orElseThrow());
            DeadLetter letter = deadLetters.letters().get(0);
            assertEquals("names", letter.route());
            assertTrue(letter.reason().startsWith("the route's transform threw java.lang.ClassCastException"),
                    letter.reason());
            assertEquals(0, letter.attempts());
        }
    }

    @Test
    void anEventOverTheSinksSizeLimitIsDeadLetteredNeverTruncated() {
        RecordingSink<Map<String, Object>> sink = new RecordingSink<>(new SinkLimits(500, 4_194_304, 1_024_000),
                ChangeEvent::sizeBytes);
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("firehose")
                .sink(sink).buffer(BufferPolicy.builder().maxEvents(2).build()).build()).build()) {
            ChangeEvent<Map<String, Object>> big = TestEvents.forTable("T", "id").sizeBytes(1_024_001)
                    .insert("x", Map.of());
            p.submit(List.of(big, events.insert("y", Map.of()))).join();
            assertEquals(1, sink.events().size());
            assertEquals("event is 1024001 bytes, over the sink's limit of 1024000 bytes per event (maxEventBytes)",
                    deadLetters.letters().get(0).reason());
        }
    }

    @Test
    void redriveSendsTheEventAgainAndUnparksItsKey() {
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .failEvent("evt-1", 1).build();
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .retry(RetryPolicy.none()).buffer(BufferPolicy.builder().maxEvents(1).build()).build()).build()) {
            p.submit(List.of(events.insert("A", Map.of()))).join();
            p.submit(List.of(events.modify("A", Map.of(), Map.of("v", 1)))).join();
            assertEquals(List.of("evt-1", "evt-2"), deadLetters.eventIds());

            BatchResult<Map<String, Object>> redriven = p.redrive(deadLetters.letters()).join();
            assertTrue(redriven.succeeded());
            assertEquals(List.of("evt-1", "evt-2"), sink.delivered().eventIds());
            assertTrue(p.submit(List.of(events.modify("A", Map.of("v", 1), Map.of("v", 2)))).join().succeeded());
            assertEquals(List.of("evt-1", "evt-2", "evt-3"), sink.delivered().eventIds());
        }
    }

    @Test
    void sinksCanTellRedrivenEventsFromLiveOnes() {
        Map<String, Boolean> seen = new java.util.LinkedHashMap<>();
        boolean[] failFirst = {true};
        Sink<Map<String, Object>> sink = batch -> {
            SinkResult.Builder r = SinkResult.builder(batch.size());
            for (int i = 0; i < batch.size(); i++) {
                String id = batch.events().get(i).eventId();
                if (failFirst[0] && id.equals("evt-1")) {
                    failFirst[0] = false;
                    r.fail(i, "bad", false);
                } else {
                    seen.put(id, batch.redriven(i));
                }
            }
            return r.build();
        };
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .retry(RetryPolicy.none()).buffer(BufferPolicy.builder().maxEvents(2).build()).build()).build()) {
            p.submit(List.of(events.insert("A", Map.of()), events.insert("B", Map.of()))).join();
            assertEquals(List.of("evt-1"), deadLetters.eventIds());
            CompletableFuture<BatchResult<Map<String, Object>>> redriven = p.redrive(deadLetters.letters());
            p.submit(List.of(events.insert("C", Map.of()))).join();
            assertTrue(redriven.join().succeeded());
        }
        assertEquals(Map.of("evt-2", false, "evt-1", true, "evt-3", false), seen);
    }

    // ------------------------------------------------------------------ checkpoints

    @Test
    void theCheckpointNeverPassesAnUndeliveredEvent() {
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .failEvent("evt-3", 1).build();
        try (Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .retry(NO_JITTER).buffer(BufferPolicy.builder().maxEvents(5).build()).build()).build()) {
            CompletableFuture<BatchResult<Map<String, Object>>> batch = p.submit(inserts(5, "k"));
            assertFalse(batch.isDone(), "evt-3 is still being retried: no checkpoint yet");
            scheduler.advance(Duration.ofMillis(100));
            BatchResult<Map<String, Object>> result = batch.join();
            assertEquals(Map.of("shardId-000001", new Position("shardId-000001", "104")), result.checkpoints());
        }
    }

    @Test
    void checkpointsAreKeptPerShard() {
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .fatalWhen(e -> e.position().shardId().equals("s2") && e.position().sequenceNumber().equals("201"), "x")
                .build();
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder()
                .clock(clock).scheduler(scheduler).executor(scheduler)
                .route(Route.<Map<String, Object>>builder("r").sink(sink).buffer(BufferPolicy.builder().maxEvents(4)
                        .build()).build()).build()) {
            TestEvents s1 = TestEvents.forTable("T", "id").shard("s1").nextSequence(100);
            TestEvents s2 = TestEvents.forTable("T", "id").shard("s2").nextSequence(200);
            BatchResult<Map<String, Object>> result = p.submit(List.of(
                    s1.insert("a", Map.of()), s2.insert("b", Map.of()), s2.insert("c", Map.of()),
                    s1.insert("d", Map.of()))).join();
            // No dead-letter sink: s2/201 is not acknowledged, so s2 stops at 200 while s1 moves on.
            assertEquals(Map.of("s1", new Position("s1", "101"), "s2", new Position("s2", "200")),
                    result.checkpoints());
        }
    }

    // ------------------------------------------------------------------ close

    @Test
    void closeFlushesWhatIsBufferedAndClosesTheSinks() {
        RecordingSink<Map<String, Object>> sink = new RecordingSink<>();
        Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r").sink(sink)
                .buffer(BufferPolicy.builder().maxAge(Duration.ofHours(1)).build()).build()).build();
        CompletableFuture<BatchResult<Map<String, Object>>> batch = p.submit(inserts(7, "k"));
        p.close();
        assertTrue(batch.join().succeeded());
        assertEquals(7, sink.events().size());
        assertEquals(FlushCause.CLOSE, listener.flushes().get(0).cause());
        assertTrue(sink.closed());
        p.close();
    }

    @Test
    void closeFailsWhatItCannotDeliverWithinTheTimeout() {
        ScriptedSink<Map<String, Object>> sink = ScriptedSink.<Map<String, Object>>builder()
                .failTimes(e -> true, 100).build();
        Pipeline<Map<String, Object>> p = pipeline().closeTimeout(Duration.ZERO)
                .route(Route.<Map<String, Object>>builder("r").sink(sink).retry(NO_JITTER).build()).build();
        CompletableFuture<BatchResult<Map<String, Object>>> batch = p.submit(inserts(2, "k"));
        p.close();
        BatchResult<Map<String, Object>> result = batch.join();
        assertEquals(2, result.failures().size());
        assertTrue(result.failures().get(0).reason().contains("closed"));
        assertTrue(result.checkpoints().isEmpty());
    }

    /** Regression: a sink shared by two routes was closed twice, though Sink.close promises one call. */
    @Test
    void aSinkSharedByTwoRoutesIsClosedOnce() {
        AtomicInteger closes = new AtomicInteger();
        Sink<Map<String, Object>> shared = new Sink<>() {
            @Override
            public SinkResult write(io.cdcfanout.api.sink.SinkBatch<? extends Map<String, Object>> batch) {
                return SinkResult.allDelivered(batch.size());
            }

            @Override
            public void close() {
                closes.incrementAndGet();
            }
        };
        Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("a").sink(shared).build())
                .route(Route.<Map<String, Object>>builder("b").sink(shared).build()).build();
        assertTrue(p.submit(inserts(2, "k")).join().succeeded());
        p.close();
        assertEquals(1, closes.get());
    }

    @Test
    void aClosedPipelineRefusesNewBatches() {
        Pipeline<Map<String, Object>> p = pipeline().route(Route.<Map<String, Object>>builder("r")
                .sink(new RecordingSink<>()).build()).build();
        p.close();
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> p.submit(inserts(1, "k")));
        assertEquals("the pipeline is closed", e.getMessage());
    }

    // ------------------------------------------------------------------ routing

    @Test
    void eachRouteGetsOnlyWhatItsFilterTakes() {
        RecordingSink<Map<String, Object>> welcome = new RecordingSink<>();
        RecordingSink<Map<String, Object>> emails = new RecordingSink<>();
        RecordingSink<Map<String, Object>> all = new RecordingSink<>();
        try (Pipeline<Map<String, Object>> p = pipeline()
                .route(Route.<Map<String, Object>>builder("welcome").operations(Operation.INSERT).sink(welcome).buffer(SLOW).build())
                .route(Route.<Map<String, Object>>builder("email-changes").operations(Operation.MODIFY)
                        .changedAny("email").sink(emails).buffer(SLOW).build())
                .route(Route.<Map<String, Object>>builder("all").filter(e -> !e.ttlExpiry()).sink(all).buffer(SLOW).build())
                .build()) {
            BatchResult<Map<String, Object>> result = p.submit(List.of(
                    events.insert("a", Map.of("email", "a@x")),
                    events.modify("a", Map.of("email", "a@x"), Map.of("email", "a@y")),
                    events.modify("a", Map.of("email", "a@y", "n", 1), Map.of("email", "a@y", "n", 2)),
                    events.expire("a", Map.of("email", "a@y")))).thenApply(r -> r).getNow(null);
            p.flush().join();
            assertTrue(result == null, "nothing is acknowledged before the flush");
            assertEquals(List.of("evt-1"), welcome.eventIds());
            assertEquals(List.of("evt-2"), emails.eventIds());
            assertEquals(List.of("evt-1", "evt-2", "evt-3"), all.eventIds());
        }
    }

    @Test
    void aListenerThatThrowsChangesNothing() {
        RecordingSink<Map<String, Object>> sink = new RecordingSink<>();
        io.cdcfanout.api.pipeline.PipelineListener broken = new io.cdcfanout.api.pipeline.PipelineListener() {
            @Override
            public void onFlush(String route, FlushCause cause, int n, long bytes) {
                throw new IllegalStateException("listener bug");
            }
        };
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder().clock(clock)
                .scheduler(scheduler).executor(scheduler).listener(broken)
                .route(Route.<Map<String, Object>>builder("r").sink(sink)
                        .buffer(BufferPolicy.builder().maxEvents(1).build()).build()).build()) {
            assertTrue(p.submit(inserts(2, "k")).join().succeeded());
            assertEquals(2, sink.events().size());
        }
    }
}
