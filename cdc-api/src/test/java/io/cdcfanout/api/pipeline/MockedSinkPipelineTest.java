package io.cdcfanout.api.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.inOrder;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.api.sink.DeadLetterSink;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkLimits;
import io.cdcfanout.api.sink.SinkResult;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.mockito.ArgumentCaptor;
import org.mockito.InOrder;

/**
 * The pipeline against Mockito sinks. Sink calls run on the calling thread ({@code Runnable::run});
 * flushes are explicit, so no timer ever matters.
 */
class MockedSinkPipelineTest {
    private final Clock clock = Clock.fixed(Instant.parse("2026-01-01T00:00:10Z"), ZoneOffset.UTC);
    private final ScheduledExecutorService unusedTimers = Executors.newSingleThreadScheduledExecutor();

    @SuppressWarnings("unchecked")
    private final Sink<String> sink = mock(Sink.class);
    private final DeadLetterSink deadLetters = mock(DeadLetterSink.class);

    @AfterEach
    void stopTimers() {
        unusedTimers.shutdownNow();
    }

    private static ChangeEvent<String> event(int seq, String key) {
        return ChangeEvent.<String>builder().operation(Operation.INSERT).source(Source.ofTable("T"))
                .position(new Position("s", Integer.toString(seq))).creationTime(Instant.parse("2026-01-01T00:00:00Z"))
                .eventId("e" + seq).key(EventKey.of("T", "id", key)).after("v" + seq).sizeBytes(10).build();
    }

    private Pipeline<String> pipeline(RetryPolicy retry) {
        when(sink.limits()).thenReturn(SinkLimits.NONE);
        when(sink.estimateSize(any())).thenReturn(10L);
        return Pipeline.<String>builder().clock(clock).scheduler(unusedTimers).executor(Runnable::run)
                .deadLetterSink(deadLetters)
                .route(Route.<String>builder("r").sink(sink).retry(retry)
                        .buffer(BufferPolicy.builder().maxAge(Duration.ofHours(1)).build()).build())
                .build();
    }

    /** The letters of the dead-letter sink's one call. */
    private List<DeadLetter> acceptedLetters() {
        @SuppressWarnings("unchecked")
        ArgumentCaptor<List<DeadLetter>> letters = ArgumentCaptor.forClass(List.class);
        verify(deadLetters).accept(letters.capture());
        return letters.getValue();
    }

    @Test
    @SuppressWarnings("unchecked")
    void theSinkGetsOneBatchInSourceOrderAndTheBatchIsAcknowledged() {
        when(sink.write(any())).thenAnswer(inv -> SinkResult.allDelivered(((SinkBatch<?>) inv.getArgument(0)).size()));
        try (Pipeline<String> p = pipeline(RetryPolicy.none())) {
            var result = p.submit(List.of(event(1, "a"), event(2, "b"), event(3, "a")));
            assertFalse(result.isDone());
            p.flush().join();
            assertTrue(result.join().succeeded());
            ArgumentCaptor<SinkBatch<String>> batch = ArgumentCaptor.forClass(SinkBatch.class);
            verify(sink).write(batch.capture());
            assertEquals(List.of("e1", "e2", "e3"), batch.getValue().events().stream().map(ChangeEvent::eventId).toList());
            assertEquals("r", batch.getValue().route());
            assertEquals(1, batch.getValue().attempt());
        }
        verify(sink).close();
        verify(deadLetters).close();
    }

    @Test
    void aFatalExceptionFromTheSinkDeadLettersTheWholeCallWithoutRetrying() {
        when(sink.write(any())).thenThrow(CdcException.fatal("ResourceNotFoundException: stream 'x' not found", null));
        try (Pipeline<String> p = pipeline(RetryPolicy.defaults())) {
            var result = p.submit(List.of(event(1, "a"), event(2, "b")));
            p.flush().join();
            assertTrue(result.join().succeeded());
            verify(sink, times(1)).write(any());
            List<DeadLetter> letters = acceptedLetters();
            assertEquals(2, letters.size());
            assertEquals("io.cdcfanout.api.CdcException: ResourceNotFoundException: stream 'x' not found",
                    letters.get(0).reason());
            assertEquals(Instant.parse("2026-01-01T00:00:10Z"), letters.get(0).failedAt());
        }
    }

    @Test
    void aSinkThatReportsTheWrongNumberOfOutcomesIsNotTrusted() {
        when(sink.write(any())).thenReturn(SinkResult.allDelivered(1));
        try (Pipeline<String> p = pipeline(RetryPolicy.defaults())) {
            var result = p.submit(List.of(event(1, "a"), event(2, "b")));
            p.flush().join();
            assertTrue(result.join().succeeded());
            verify(sink, times(1)).write(any());
            assertEquals("io.cdcfanout.api.CdcException: the sink returned 1 outcomes for 2 events",
                    acceptedLetters().get(0).reason());
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void eventsTheFilterDropsAreAcknowledgedWithoutTouchingTheSink() {
        when(sink.limits()).thenReturn(SinkLimits.NONE);
        List<String> seen = new ArrayList<>();
        try (Pipeline<String> p = Pipeline.<String>builder().clock(clock).scheduler(unusedTimers).executor(Runnable::run)
                .route(Route.<String>builder("none").filter(e -> seen.add(e.eventId()) && false).sink(sink).build())
                .build()) {
            var result = p.submit(List.of(event(1, "a"))).join();
            assertTrue(result.succeeded());
            assertEquals(List.of("e1"), seen);
            assertEquals(new Position("s", "1"), result.checkpoints().get("s"));
        }
        verify(sink, never()).write(any(SinkBatch.class));
    }

    @Test
    void deliveriesAndCloseHappenInOrder() {
        when(sink.write(any())).thenAnswer(inv -> SinkResult.allDelivered(((SinkBatch<?>) inv.getArgument(0)).size()));
        Pipeline<String> p = pipeline(RetryPolicy.none());
        p.submit(List.of(event(1, "a")));
        p.close();
        InOrder order = inOrder(sink);
        order.verify(sink).write(any());
        order.verify(sink).close();
    }
}
