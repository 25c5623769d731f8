package io.cdcfanout.examples.quickstart;

import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.dynamodb.DynamoDbPipeline;
import io.cdcfanout.dynamodb.poller.DynamoDbCheckpointStore;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.s3sink.S3DeadLetterSink;
import io.cdcfanout.s3sink.S3Sink;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;
import software.amazon.awssdk.services.s3.S3Client;

/** The README's poller quick start: the same archive in a long-running process, with durable checkpoints. */
public final class PollerQuickStart {
    private PollerQuickStart() {
    }

    /** Starts the poller; close both, poller first, on shutdown. */
    public static StreamPoller start(DynamoDbClient db, DynamoDbStreamsClient streams, S3Client s3) {
        // DOC:begin
        Pipeline<Map<String, AttributeValue>> pipeline = DynamoDbPipeline.builder()
                .route("archive", r -> r.sink(S3Sink.builder().client(s3).bucket("invoices-archive").build()))
                .deadLetterSink(S3DeadLetterSink.builder().client(s3).bucket("invoices-archive").build())
                .build();
        StreamPoller poller = StreamPoller.builder()
                .streamsClient(streams).table("Invoices", db)
                .checkpointStore(DynamoDbCheckpointStore.builder().client(db).table("cdc-checkpoints").build())
                .pipeline(pipeline)
                .build().start();
        // DOC:end
        return poller;
    }
}
