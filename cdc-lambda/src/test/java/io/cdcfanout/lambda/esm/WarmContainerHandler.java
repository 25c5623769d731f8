package io.cdcfanout.lambda.esm;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.lambda.DynamoDbStreamProcessor;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * A handler as the README writes it: the processor in a static field, built once per container. The
 * archive's first call in each container fails as if AccessDenied while an IAM change propagates.
 * Its sinks report to {@link SharedSinks}, outside this package, so they outlive the container.
 */
public final class WarmContainerHandler implements RequestHandler<DynamodbEvent, StreamsEventResponse> {
    private static final java.util.concurrent.atomic.AtomicInteger ARCHIVE_CALLS = new java.util.concurrent.atomic.AtomicInteger();
    private static final DynamoDbStreamProcessor PROCESSOR = DynamoDbStreamProcessor.of(
            Pipeline.<Map<String, AttributeValue>>builder()
                    .route(Route.<Map<String, AttributeValue>>builder("archive").sink(batch -> {
                        if (ARCHIVE_CALLS.incrementAndGet() == 1) {
                            throw new io.cdcfanout.api.sink.SinkUnavailableException(
                                    "AccessDenied while a policy propagates", null);
                        }
                        return io.cdcfanout.lambda.SharedSinks.ARCHIVE.write(batch);
                    }).build())
                    .route(Route.<Map<String, AttributeValue>>builder("replica")
                            .sink(io.cdcfanout.lambda.SharedSinks.REPLICA).build())
                    .deadLetterSink(new RecordingDeadLetterSink()).build());

    @Override
    public StreamsEventResponse handleRequest(DynamodbEvent event, Context context) {
        return PROCESSOR.process(event, context);
    }
}
