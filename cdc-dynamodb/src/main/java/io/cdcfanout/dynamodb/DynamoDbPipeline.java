package io.cdcfanout.dynamodb;

import io.cdcfanout.api.pipeline.Pipeline;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * The common case in one line: a pipeline of DynamoDB stream events, whose images are the records'
 * {@code Map<String, AttributeValue>}, without type witnesses:
 *
 * <pre>{@code
 * Pipeline<Map<String, AttributeValue>> pipeline = DynamoDbPipeline.builder()
 *         .route("archive", r -> r.sink(S3Sink.builder().bucket("invoices-archive").build()))
 *         .route("welcome", r -> r.operations(Operation.INSERT).sink(emailSink))
 *         .deadLetterSink(deadLetters)
 *         .build();
 * }</pre>
 *
 * Compare Debezium's {@code DebeziumEngine.create(Json.class)}: the image type is fixed once, here.
 */
public final class DynamoDbPipeline {
    private DynamoDbPipeline() {
    }

    /** A pipeline builder for events with DynamoDB images. */
    public static Pipeline.Builder<Map<String, AttributeValue>> builder() {
        return Pipeline.builder();
    }
}
