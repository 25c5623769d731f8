package io.cdcfanout.examples.quickstart;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import io.cdcfanout.dynamodb.DynamoDbPipeline;
import io.cdcfanout.lambda.DynamoDbStreamProcessor;
import io.cdcfanout.s3sink.S3DeadLetterSink;
import io.cdcfanout.s3sink.S3Sink;
import software.amazon.awssdk.services.s3.S3Client;

/** The README's Lambda quick start: an archive of a table's changes in S3, by composition. */
// DOC:begin
public final class LambdaQuickStart implements RequestHandler<DynamodbEvent, StreamsEventResponse> {
    private static final S3Client S3 = S3Client.create();
    private static final DynamoDbStreamProcessor PROCESSOR = DynamoDbStreamProcessor.of(DynamoDbPipeline.builder()
            .route("archive", r -> r.sink(S3Sink.builder().client(S3).bucket("invoices-archive").build()))
            .deadLetterSink(S3DeadLetterSink.builder().client(S3).bucket("invoices-archive").build())
            .build());

    @Override
    public StreamsEventResponse handleRequest(DynamodbEvent event, Context context) {
        return PROCESSOR.process(event, context);   // a partial batch response
    }
}
// DOC:end
