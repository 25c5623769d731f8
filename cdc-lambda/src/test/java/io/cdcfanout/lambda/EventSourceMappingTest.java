package io.cdcfanout.lambda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.lambda.esm.WarmContainerHandler;
import io.cdcfanout.local.EventSourceMappingSimulator;
import io.cdcfanout.local.StreamSimulator;
import io.cdcfanout.testkit.ManualClock;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import io.cdcfanout.testkit.RecordingSink;
import io.cdcfanout.testkit.ScriptedSink;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** The Lambda path driven by a simulated event source mapping, as the service drives it. */
class EventSourceMappingTest {
    private final ManualClock clock = new ManualClock();

    private static Map<String, AttributeValue> item(String id, int v) {
        return Map.of("id", AttributeValue.fromS(id), "v", AttributeValue.fromN(Integer.toString(v)));
    }

    /** Per key, the versions in the order the sink first saw them; a repeat (a retry) is not an inversion. */
    static Map<String, List<Integer>> firstSeen(List<? extends ChangeEvent<? extends Map<String, AttributeValue>>> events) {
        Map<String, List<Integer>> out = new HashMap<>();
        for (ChangeEvent<? extends Map<String, AttributeValue>> e : events) {
            int v = Integer.parseInt(e.after().orElseThrow().get("v").n());
            List<Integer> seen = out.computeIfAbsent(e.after().orElseThrow().get("id").s(), k -> new ArrayList<>());
            if (!seen.contains(v)) {
                seen.add(v);
            }
        }
        return out;
    }

    /**
     * Regression: the README's processor in a static field, one container reused: after one transient
     * SinkUnavailableException its route stayed halted, every later invocation failed, and the mapping
     * discarded batches for every route, the healthy one included.
     */
    @Test
    void aWarmContainerRecoversFromAHaltedRouteAndEveryRouteGetsEveryRecord() {
        try (StreamSimulator stream = StreamSimulator.builder().clock(clock).partitions(1).build();
                EventSourceMappingSimulator esm = EventSourceMappingSimulator.builder().stream(stream, clock)
                        .isolatedHandler(WarmContainerHandler.class).batchSize(5).reportBatchItemFailures(true)
                        .maximumRetryAttempts(2).build()) {
            for (int i = 0; i < 25; i++) {
                stream.put(item("k" + i, 1));
            }
            esm.drain(50);
            assertEquals(1, esm.stats().coldStarts(), "one warm container: " + esm.stats());
            assertEquals(List.of(), esm.failures(), "nothing was discarded");
            assertEquals(25, firstSeen(SharedSinks.ARCHIVE.events()).size());
            assertEquals(25, firstSeen(SharedSinks.REPLICA.events()).size(), "the healthy route got every record");
        }
    }

    /** ParallelizationFactor 10: batches of one shard at once, and each item's changes still in order. */
    @Test
    void tenBatchesOfOneShardAtOnceKeepEachItemsOrder() {
        RecordingSink<Map<String, AttributeValue>> sink = new RecordingSink<>();
        Supplier<RequestHandler<DynamodbEvent, StreamsEventResponse>> handlers = () -> {
            DynamoDbStreamProcessor p = DynamoDbStreamProcessor.of(Pipeline.<Map<String, AttributeValue>>builder()
                    .route(Route.<Map<String, AttributeValue>>builder("r").sink(sink).build())
                    .deadLetterSink(new RecordingDeadLetterSink()).build());
            return (event, context) -> p.process(event, context);
        };
        try (StreamSimulator stream = StreamSimulator.builder().clock(clock).partitions(1).build();
                EventSourceMappingSimulator esm = EventSourceMappingSimulator.builder().stream(stream, clock)
                        .handler(handlers).batchSize(10).parallelizationFactor(10).reportBatchItemFailures(true)
                        .build()) {
            for (int v = 1; v <= 10; v++) {
                for (int k = 0; k < 40; k++) {
                    stream.put(item("k" + k, v));
                }
            }
            esm.drain(100);
            assertTrue(esm.stats().maxConcurrent() > 1, "concurrent batches: " + esm.stats());
            assertTrue(esm.stats().coldStarts() > 1, "scale-out starts containers cold: " + esm.stats());
            Map<String, List<Integer>> seen = firstSeen(sink.events());
            assertEquals(40, seen.size());
            seen.forEach((k, vs) -> assertEquals(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), vs, k));
        }
    }

    /**
     * A poison record without a dead-letter sink halts the route; with bisect the mapping narrows the
     * batch, gives up after its retries and sends the metadata to the on-failure destination, and the
     * records after it flow again.
     */
    @Test
    void aPoisonRecordIsBisectedRetriedThenSkippedToTheDestination() {
        ScriptedSink<Map<String, AttributeValue>> sink = ScriptedSink.<Map<String, AttributeValue>>builder()
                .fatalWhen(e -> "k7".equals(e.key().values().get("id")), "rejected").build();
        Supplier<RequestHandler<DynamodbEvent, StreamsEventResponse>> handlers = () -> {
            DynamoDbStreamProcessor p = DynamoDbStreamProcessor.of(Pipeline.<Map<String, AttributeValue>>builder()
                    .route(Route.<Map<String, AttributeValue>>builder("r").sink(sink)
                            .retry(io.cdcfanout.api.pipeline.RetryPolicy.none()).build()).build());
            return (event, context) -> {
                StreamsEventResponse r = p.process(event, context);
                if (!r.getBatchItemFailures().isEmpty()) {
                    throw new IllegalStateException("function error"); // a handler that throws on failure
                }
                return r;
            };
        };
        try (StreamSimulator stream = StreamSimulator.builder().clock(clock).partitions(1).build();
                EventSourceMappingSimulator esm = EventSourceMappingSimulator.builder().stream(stream, clock)
                        .handler(handlers).batchSize(16).bisectBatchOnFunctionError(true).maximumRetryAttempts(2)
                        .build()) {
            for (int i = 0; i < 16; i++) {
                stream.put(item("k" + i, 1));
            }
            esm.drain(100);
            assertTrue(esm.stats().bisections() >= 3, esm.stats().toString());
            assertEquals(1, esm.failures().size(), esm.failures().toString());
            EventSourceMappingSimulator.FailureRecord f = esm.failures().get(0);
            assertEquals("RetryAttemptsExhausted", f.condition());
            assertEquals(1, f.batchSize(), "bisected down to the poison record");
            assertEquals(15, firstSeen(sink.delivered().events()).size(), "every other record was delivered");
        }
    }

    /** Records older than MaximumRecordAge are skipped to the destination, not retried for ever. */
    @Test
    void recordsPastTheirAgeAreSkippedWithRecordAgeExceeded() {
        Supplier<RequestHandler<DynamodbEvent, StreamsEventResponse>> failing = () -> (event, context) -> {
            throw new IllegalStateException("down");
        };
        try (StreamSimulator stream = StreamSimulator.builder().clock(clock).partitions(1).build();
                EventSourceMappingSimulator esm = EventSourceMappingSimulator.builder().stream(stream, clock)
                        .handler(failing).maximumRecordAge(Duration.ofMinutes(5)).build()) {
            stream.put(item("a", 1));
            for (int minute = 0; minute < 10; minute++) {
                esm.step();
                clock.advance(Duration.ofMinutes(1));
            }
            esm.step();
            assertEquals(1, esm.failures().size());
            assertEquals("RecordAgeExceeded", esm.failures().get(0).condition());
        }
    }
}
