package io.cdcfanout.examples;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.DeadLetterSink;
import io.cdcfanout.api.sink.Sink;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** The README's usage example; {@code ReadmeSnippetTest} keeps the two identical. */
public final class QuickStart {
    private QuickStart() {
    }

    /** Builds the README's pipeline, submits one batch and returns where the source may checkpoint. */
    public static BatchResult<Map<String, Object>> run(Sink<Map<String, Object>> emailSink,
            Sink<Object> archiveSink, DeadLetterSink deadLetters, List<ChangeEvent<Map<String, Object>>> events) {
        // README:begin
        Pipeline<Map<String, Object>> pipeline = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("welcome")
                        .operations(Operation.INSERT)              // only new customers
                        .sink(emailSink)
                        .build())
                .route(Route.<Map<String, Object>>builder("archive")
                        .sink(archiveSink)
                        .buffer(BufferPolicy.builder().maxEvents(500).maxAge(Duration.ofSeconds(5)).build())
                        .retry(RetryPolicy.builder().maxAttempts(8).build())
                        .build())
                .deadLetterSink(deadLetters)                       // poison events, with the reason
                .build();

        CompletableFuture<BatchResult<Map<String, Object>>> settled = pipeline.submit(events);
        pipeline.flush();                                          // or let count, bytes or age flush it
        BatchResult<Map<String, Object>> result = settled.join(); // settled on every route
        Map<String, Position> safe = result.checkpoints();        // per shard: checkpoint up to here
        pipeline.close();                                          // flushes what is left
        // README:end
        return result;
    }
}
