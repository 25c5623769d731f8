package io.cdcfanout.examples.deploy;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import io.cdcfanout.lambda.DynamoDbStreamProcessor;
import java.io.PrintStream;
import java.time.Clock;
import io.cdcfanout.examples.invoices.InvoiceArchive;
import io.cdcfanout.s3sink.S3DeadLetterSink;
import software.amazon.awssdk.services.firehose.FirehoseClient;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The invoice archive as an AWS Lambda function on the {@code Invoices} stream. Handler:
 * {@code io.cdcfanout.examples.deploy.InvoiceArchiveHandler::handleRequest}, in
 * {@code examples-<version>-lambda.jar}. Environment: {@code ARCHIVE_BUCKET} and
 * {@code DELIVERY_STREAM}. Dead letters go to {@code s3://$ARCHIVE_BUCKET/dead-letters/}; after each
 * invocation the pipeline's metrics go to the log as CloudWatch EMF ({@link EmfMetrics}). See
 * {@code examples/deploy/template.yaml} for the stack.
 */
public final class InvoiceArchiveHandler implements RequestHandler<DynamodbEvent, StreamsEventResponse> {
    private final DynamoDbStreamProcessor processor;
    private final EmfMetrics metrics;
    private final PrintStream metricsOut;

    /** What Lambda calls, once per container: clients and configuration from the environment. */
    public InvoiceArchiveHandler() {
        this(S3Client.create(), FirehoseClient.create(), env("ARCHIVE_BUCKET"), env("DELIVERY_STREAM"), System.out);
    }

    /** A handler on the given clients, bucket and delivery stream, writing its EMF metrics to {@code metricsOut}. */
    public InvoiceArchiveHandler(S3Client s3, FirehoseClient firehose, String bucket, String deliveryStream,
            PrintStream metricsOut) {
        this.metrics = new EmfMetrics("invoice-archive", Clock.systemUTC());
        this.metricsOut = metricsOut;
        this.processor = DynamoDbStreamProcessor.of(InvoiceArchive.pipeline(s3, bucket, firehose, deliveryStream,
                metrics, S3DeadLetterSink.builder().client(s3).bucket(bucket).prefix("dead-letters").build()).build());
    }

    /** A handler on the given clients, bucket and delivery stream, writing its metrics to standard output. */
    public InvoiceArchiveHandler(S3Client s3, FirehoseClient firehose, String bucket, String deliveryStream) {
        this(s3, firehose, bucket, deliveryStream, System.out);
    }

    /** Processes the batch, then writes the invocation's metrics as EMF to the log. */
    @Override
    public StreamsEventResponse handleRequest(DynamodbEvent event, Context context) {
        try {
            return processor.process(event, context);
        } finally {
            metrics.emit(metricsOut);
        }
    }

    private static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.isBlank()) {
            throw new IllegalStateException("environment variable " + name + " must be set");
        }
        return value;
    }
}
