package io.cdcfanout.lambda;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import io.cdcfanout.api.pipeline.Pipeline;
import java.time.Duration;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * A convenience base class for a Lambda handler whose only job is the pipeline; it hands each batch to a
 * {@link DynamoDbStreamProcessor}, which a handler with its own base class uses directly instead.
 * Subclass it with a no-argument constructor that passes a pipeline built once per container:
 *
 * <pre>{@code
 * public final class ArchiveHandler extends DynamoDbStreamHandler {
 *     public ArchiveHandler() {
 *         super(Pipeline.<Map<String, AttributeValue>>builder().route(...).build());
 *     }
 * }
 * }</pre>
 */
public abstract class DynamoDbStreamHandler implements RequestHandler<DynamodbEvent, StreamsEventResponse> {
    /** Default for the time kept back from the invocation's deadline, in milliseconds. */
    public static final long DEFAULT_DEADLINE_MARGIN_MILLIS = DynamoDbStreamProcessor.DEFAULT_DEADLINE_MARGIN_MILLIS;

    private final DynamoDbStreamProcessor processor;

    /** A handler feeding {@code pipeline}; see {@link DynamoDbStreamProcessor#of}. */
    protected DynamoDbStreamHandler(Pipeline<Map<String, AttributeValue>> pipeline) {
        this.processor = DynamoDbStreamProcessor.of(pipeline);
    }

    /** A handler with its own deadline margin; see {@link DynamoDbStreamProcessor#withDeadlineMargin}. */
    protected DynamoDbStreamHandler(Pipeline<Map<String, AttributeValue>> pipeline, Duration deadlineMargin) {
        this.processor = DynamoDbStreamProcessor.of(pipeline).withDeadlineMargin(deadlineMargin);
    }

    /** The pipeline this handler feeds. */
    protected final Pipeline<Map<String, AttributeValue>> pipeline() {
        return processor.pipeline();
    }

    /** Processes one batch; see {@link DynamoDbStreamProcessor#process}. */
    @Override
    public StreamsEventResponse handleRequest(DynamodbEvent event, Context context) {
        return processor.process(event, context);
    }
}
