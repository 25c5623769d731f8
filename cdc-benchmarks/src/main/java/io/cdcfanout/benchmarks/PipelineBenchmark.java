package io.cdcfanout.benchmarks;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkResult;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The pipeline's own cost: batches of {@value #BATCH} events submitted and settled through 1 or 4 routes
 * whose sinks do nothing, for each flush trigger. Sink calls run on the submitting thread (an inline
 * executor), so the figure is one core's; only the age trigger uses the pipeline's timer thread. One
 * operation is one event.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class PipelineBenchmark {
    static final int BATCH = 10_000;
    private static final long EVENT_BYTES = 200;

    /** The buffer trigger that cuts sink calls. */
    public enum Trigger {
        /** 500 events a call. */
        COUNT,
        /** 100,000 bytes (500 events of 200 bytes) a call. */
        BYTES,
        /** Whatever arrived within 1 ms. */
        AGE,
        /** maxAge zero: whatever is queued when the route is idle. */
        AGE_ZERO
    }

    @Param({"1", "4"})
    public int routes;

    @Param({"COUNT", "BYTES", "AGE", "AGE_ZERO"})
    public Trigger trigger;

    private Pipeline<Map<String, Object>> pipeline;
    private List<ChangeEvent<Map<String, Object>>> batch;
    private long sequence = 1;

    @Setup(Level.Trial)
    public void setUp() {
        Sink<Map<String, Object>> noOp = b -> SinkResult.allDelivered(b.size());
        BufferPolicy.Builder buffer = BufferPolicy.builder().capacity(4 * BATCH).maxEvents(4 * BATCH)
                .maxBytes(1L << 40).maxAge(Duration.ofHours(1));
        switch (trigger) {
            case COUNT -> buffer.maxEvents(500);
            case BYTES -> buffer.maxBytes(500 * EVENT_BYTES);
            case AGE -> buffer.maxAge(Duration.ofMillis(1));
            case AGE_ZERO -> buffer.maxAge(Duration.ZERO);
            default -> throw new AssertionError(trigger);
        }
        Pipeline.Builder<Map<String, Object>> b = Pipeline.<Map<String, Object>>builder().executor(Runnable::run);
        for (int r = 0; r < routes; r++) {
            b.route(Route.<Map<String, Object>>builder("route-" + r).sink(noOp).buffer(buffer.build()).build());
        }
        pipeline = b.build();
    }

    @Setup(Level.Iteration)
    public void events() {
        Source source = Source.ofTable("Invoices");
        Instant now = Instant.parse("2026-11-24T19:00:00Z");
        batch = new ArrayList<>(BATCH);
        for (int i = 0; i < BATCH; i++) {
            String id = "inv-" + (i % 500);
            batch.add(ChangeEvent.<Map<String, Object>>builder()
                    .operation(Operation.MODIFY).source(source)
                    .position(new Position("shardId-1", Long.toString(sequence++)))
                    .creationTime(now).eventId("e" + sequence)
                    .key(EventKey.of("Invoices", "id", id))
                    .before(Map.of("id", id, "n", 1)).after(Map.of("id", id, "n", 2))
                    .sizeBytes(EVENT_BYTES)
                    .build());
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pipeline.close();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public BatchResult<Map<String, Object>> submitAndSettle() {
        BatchResult<Map<String, Object>> result = pipeline.submit(batch).join();
        if (!result.succeeded()) {
            throw new IllegalStateException(result.toString());
        }
        return result;
    }
}
