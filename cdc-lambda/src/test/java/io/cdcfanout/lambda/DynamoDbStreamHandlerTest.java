package io.cdcfanout.lambda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import com.amazonaws.services.lambda.runtime.serialization.events.LambdaEventSerializers;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import io.cdcfanout.testkit.RecordingSink;
import io.cdcfanout.testkit.ScriptedSink;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** The Lambda path: a DynamodbEvent JSON fixture, deserialized the way the Lambda runtime does it. */
class DynamoDbStreamHandlerTest {

    private static DynamodbEvent fixture() throws Exception {
        return fixture("/fixtures/dynamodb-event.json");
    }

    static DynamodbEvent fixture(String resource) throws Exception {
        try (InputStream in = DynamoDbStreamHandlerTest.class.getResourceAsStream(resource)) {
            return LambdaEventSerializers.serializerFor(DynamodbEvent.class, DynamodbEvent.class.getClassLoader())
                    .fromJson(in);
        }
    }

    /** A handler as a user writes it: the pipeline is built once, in the constructor. */
    static final class Handler extends DynamoDbStreamHandler {
        Handler(Pipeline<Map<String, AttributeValue>> pipeline) {
            super(pipeline);
        }
    }

    @Test
    void recordsBecomeEventsWithTheTableFromTheEventSourceArn() throws Exception {
        List<ChangeEvent<Map<String, AttributeValue>>> events = LambdaRecords.toEvents(fixture());
        assertEquals(5, events.size());
        ChangeEvent<Map<String, AttributeValue>> insert = events.get(0);
        assertEquals("Movies", insert.source().table());
        assertEquals("eu-west-1", insert.source().region());
        assertEquals(Operation.INSERT, insert.operation());
        assertEquals(Instant.ofEpochSecond(1714564800), insert.creationTime().orElseThrow());
        assertEquals("111111111111111111111", insert.position().sequenceNumber());
        assertEquals(Map.of("year", new BigDecimal("2013"), "title", "Rush"), insert.key().values());
        String line = new String(JsonLinesSerializer.plain().toBytes(insert), StandardCharsets.UTF_8);
        assertTrue(line.contains("\"gross\":98765432109876543210.123456789"), line);
        assertTrue(line.contains("\"poster\":\"AAH/fw==\""), line);
        assertTrue(line.contains("\"info\":{\"cast\":[\"Chris\",\"Daniel\"],\"color\":true}"), line);
        assertTrue(line.contains("\"tags\":[\"f1\",\"racing\"]"), line);
        assertTrue(events.get(2).ttlExpiry(), "the REMOVE by the TTL service");
        assertEquals("NewImage is missing, but a MODIFY on a NEW_AND_OLD_IMAGES stream must carry it",
                events.get(3).defect().orElseThrow());
        assertFalse(events.get(4).defect().isPresent());
    }

    @Test
    void aBatchThatSettlesGivesAnEmptyResponseAndTheMalformedRecordIsDeadLettered() throws Exception {
        RecordingSink<Map<String, AttributeValue>> sink = new RecordingSink<>();
        RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
        Handler handler = new Handler(Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("archive").sink(sink).build())
                .deadLetterSink(deadLetters).build());
        StreamsEventResponse response = handler.handleRequest(fixture(), null);
        assertEquals(List.of(), response.getBatchItemFailures());
        assertEquals(List.of("c4ca4238a0b923820dcc509a6f75849b", "c81e728d9d4c2f636f067f89cc14862c",
                "eccbc87e4b5ce2fe28308fd9f2a7baf3", "e4da3b7fbbce2345d7772b0674a318d5"), sink.eventIds(),
                "flushed before returning: nothing waits in a buffer between invocations");
        assertEquals(List.of("a87ff679a2f3e71d9181a67b7542122c"), deadLetters.eventIds());
        assertTrue(deadLetters.letters().get(0).reason().contains("NewImage is missing"));
    }

    @Test
    void anUnacknowledgedRecordIsNamedSoTheMappingRetriesFromIt() throws Exception {
        // No dead-letter sink: a fatal failure halts the route and its events stay unacknowledged.
        ScriptedSink<Map<String, AttributeValue>> sink = ScriptedSink.<Map<String, AttributeValue>>builder()
                .fatalWhen(e -> e.eventId().equals("eccbc87e4b5ce2fe28308fd9f2a7baf3"), "rejected").build();
        Handler handler = new Handler(Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("archive").sink(sink).build()).build());
        StreamsEventResponse response = handler.handleRequest(fixture(), null);
        assertEquals(1, response.getBatchItemFailures().size());
        assertEquals("333333333333333333333", response.getBatchItemFailures().get(0).getItemIdentifier(),
                "the first record that was not acknowledged");
    }

    /**
     * Regression: one processor per warm container, and a sink unavailable only on its first call halted
     * its route for good: every later invocation failed, and the mapping discarded batches for every route.
     */
    @Test
    void aRouteHaltedInOneInvocationRunsAgainInTheNextOfTheSameContainer() throws Exception {
        java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
        RecordingSink<Map<String, AttributeValue>> archived = new RecordingSink<>();
        io.cdcfanout.api.sink.Sink<Map<String, AttributeValue>> flaky = batch -> {
            if (calls.incrementAndGet() == 1) {
                throw new io.cdcfanout.api.sink.SinkUnavailableException("AccessDenied while a policy propagates", null);
            }
            return archived.write(batch);
        };
        RecordingSink<Map<String, AttributeValue>> replica = new RecordingSink<>();
        DynamoDbStreamProcessor processor = DynamoDbStreamProcessor.of(Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("archive").sink(flaky).build())
                .route(Route.<Map<String, AttributeValue>>builder("replica").sink(replica).build())
                .deadLetterSink(new RecordingDeadLetterSink()).build());
        assertEquals(1, processor.process(fixture(), null).getBatchItemFailures().size(), "the first invocation fails");
        for (int invocation = 2; invocation <= 6; invocation++) {
            assertEquals(List.of(), processor.process(fixture(), null).getBatchItemFailures(),
                    "invocation " + invocation + " of the same container");
        }
        assertEquals(5 * 4, archived.events().size(), "invocations 2-6 archived their 4 valid records each");
        assertEquals(6 * 4, replica.events().size(), "the healthy route got every invocation's records");
    }

    @Test
    void theLambdaGuideSampleEventWithoutCreationTimesIsArchivedNotRejected() throws Exception {
        RecordingSink<Map<String, AttributeValue>> sink = new RecordingSink<>();
        RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
        Handler handler = new Handler(Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("archive").sink(sink).build())
                .deadLetterSink(deadLetters).build());
        DynamodbEvent sample = fixture("/fixtures/lambda-guide-sample-event.json");
        StreamsEventResponse response = handler.handleRequest(sample, null);
        assertEquals(List.of(), response.getBatchItemFailures());
        assertEquals(List.of("1", "2", "3"), sink.eventIds());
        assertEquals(List.of(), deadLetters.eventIds());
        List<ChangeEvent<Map<String, AttributeValue>>> events = LambdaRecords.toEvents(sample);
        assertEquals(List.of(Operation.INSERT, Operation.MODIFY, Operation.REMOVE),
                events.stream().map(ChangeEvent::operation).toList());
        assertTrue(events.stream().allMatch(e -> e.creationTime().isEmpty()), "the sample has no times");
        assertEquals("ExampleTableWithStream", events.get(0).source().table());
        String line = new String(JsonLinesSerializer.plain().toBytes(events.get(0)), StandardCharsets.UTF_8);
        assertTrue(line.contains("\"time\":null"), line);
    }

    @Test
    void thePartialBatchResponseEchoesTheSequenceNumberAsReceivedWithLeadingZeros() throws Exception {
        DynamodbEvent event = fixture("/fixtures/lambda-guide-sample-event.json");
        event.getRecords().get(1).getDynamodb().setSequenceNumber("000222");
        ScriptedSink<Map<String, AttributeValue>> sink = ScriptedSink.<Map<String, AttributeValue>>builder()
                .fatalWhen(e -> e.eventId().equals("2"), "rejected").build();
        Handler handler = new Handler(Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("archive").sink(sink).build()).build());
        StreamsEventResponse response = handler.handleRequest(event, null);
        assertEquals("000222", response.getBatchItemFailures().get(0).getItemIdentifier(),
                "the mapping matches identifiers as strings");
    }

    /** A handler with its own base class: the processor by composition, no inheritance needed. */
    static final class ComposedHandler extends Object
            implements com.amazonaws.services.lambda.runtime.RequestHandler<DynamodbEvent, StreamsEventResponse> {
        private final DynamoDbStreamProcessor processor;

        ComposedHandler(Pipeline<Map<String, AttributeValue>> pipeline) {
            this.processor = DynamoDbStreamProcessor.of(pipeline);
        }

        @Override
        public StreamsEventResponse handleRequest(DynamodbEvent event, com.amazonaws.services.lambda.runtime.Context c) {
            return processor.process(event, c);
        }
    }

    @Test
    void theProcessorComposesIntoAnyHandlerAndAnswersLikeTheBaseClass() throws Exception {
        ScriptedSink<Map<String, AttributeValue>> sink = ScriptedSink.<Map<String, AttributeValue>>builder()
                .fatalWhen(e -> e.eventId().equals("eccbc87e4b5ce2fe28308fd9f2a7baf3"), "rejected").build();
        ComposedHandler handler = new ComposedHandler(Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("archive").sink(sink).build()).build());
        StreamsEventResponse response = handler.handleRequest(fixture(), null);
        assertEquals("333333333333333333333", response.getBatchItemFailures().get(0).getItemIdentifier());
        assertEquals("deadlineMargin must not be negative (was PT-1S)", org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class, () -> DynamoDbStreamProcessor.of(handler.processor.pipeline())
                        .withDeadlineMargin(java.time.Duration.ofSeconds(-1))).getMessage());
    }

    /** A batch that does not settle before the deadline margin is retried whole, and the log names no item. */
    @Test
    void aBatchPastTheDeadlineIsRetriedWholeWithoutItemDataInTheLog() throws Exception {
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        io.cdcfanout.api.sink.Sink<Map<String, AttributeValue>> slow = batch -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new IllegalStateException("cannot send to pii-7f3a9c@example.com");
        };
        java.io.PrintStream original = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true, StandardCharsets.UTF_8));
        StreamsEventResponse response;
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("archive").sink(slow).build()).build()) {
            DynamodbEvent event = fixture();
            com.amazonaws.services.lambda.runtime.Context context = (com.amazonaws.services.lambda.runtime.Context)
                    java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                            new Class<?>[] {com.amazonaws.services.lambda.runtime.Context.class},
                            (proxy, method, args) -> method.getName().equals("getRemainingTimeInMillis") ? 2_050 : null);
            response = DynamoDbStreamProcessor.of(pipeline).process(event, context);
            release.countDown();
        } finally {
            System.setErr(original);
        }
        assertEquals("111111111111111111111", response.getBatchItemFailures().get(0).getItemIdentifier(),
                "the whole batch, from its first record");
        String log = captured.toString(StandardCharsets.UTF_8);
        original.print(log);
        assertFalse(log.contains("pii-7f3a9c"), log);
        assertFalse(log.contains("Rush"), "no item value in the log: " + log);
    }
}
