package io.cdcfanout.examples.invoices;

import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.DeadLetterSink;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.firehose.FirehoseSink;
import io.cdcfanout.s3sink.Partitioner;
import io.cdcfanout.s3sink.S3Sink;
import java.time.Duration;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.firehose.FirehoseClient;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The invoice archive: every change of the {@code Invoices} table goes to a Firehose delivery stream
 * (which lands in S3 on its own schedule) and, directly, to S3 objects partitioned by table and day,
 * ready for Athena. The same pipeline runs in the Lambda handler and in the embedded demo.
 */
public final class InvoiceArchive {
    /** The source table. */
    public static final String TABLE = "Invoices";
    /** The key prefix of the direct S3 archive. */
    public static final String PREFIX = "archive";

    private InvoiceArchive() {
    }

    /** The archive pipeline, with routes {@code firehose} and {@code s3}; more routes can be added. */
    public static Pipeline.Builder<Map<String, AttributeValue>> pipeline(S3Client s3, String bucket,
            FirehoseClient firehose, String deliveryStream, PipelineListener listener, DeadLetterSink deadLetters) {
        JsonLinesSerializer jsonLines = JsonLinesSerializer.plain();
        RetryPolicy retry = RetryPolicy.builder().maxAttempts(8).initialBackoff(Duration.ofMillis(100)).build();
        return Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("firehose")
                        .sink(FirehoseSink.builder().client(firehose).deliveryStream(deliveryStream)
                                .serializer(jsonLines).build())
                        .buffer(BufferPolicy.builder().maxEvents(500).maxAge(Duration.ofMillis(500)).build())
                        .retry(retry)
                        .build())
                .route(Route.<Map<String, AttributeValue>>builder("s3")
                        .sink(S3Sink.builder().client(s3).bucket(bucket).prefix(PREFIX)
                                .partitioner(Partitioner.byTableAndDay()).serializer(jsonLines).build())
                        .buffer(BufferPolicy.builder().maxEvents(10_000).maxBytes(64L << 20)
                                .maxAge(Duration.ofSeconds(1)).build())
                        .retry(retry)
                        .build())
                .listener(listener)
                .deadLetterSink(deadLetters);
    }
}
