package io.cdcfanout.examples.deploy;

import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.lambda.DynamoDbStreamHandler;
import io.cdcfanout.examples.invoices.InvoiceArchive;
import io.cdcfanout.s3sink.S3DeadLetterSink;
import software.amazon.awssdk.services.firehose.FirehoseClient;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The invoice archive as an AWS Lambda function on the {@code Invoices} stream. Handler:
 * {@code io.cdcfanout.examples.deploy.InvoiceArchiveHandler::handleRequest}, in
 * {@code examples-<version>-lambda.jar}. Environment: {@code ARCHIVE_BUCKET} and
 * {@code DELIVERY_STREAM}. Dead letters go to {@code s3://$ARCHIVE_BUCKET/dead-letters/}. See
 * {@code examples/deploy/template.yaml} for the stack.
 */
public final class InvoiceArchiveHandler extends DynamoDbStreamHandler {

    /** What Lambda calls, once per container: clients and configuration from the environment. */
    public InvoiceArchiveHandler() {
        this(S3Client.create(), FirehoseClient.create(), env("ARCHIVE_BUCKET"), env("DELIVERY_STREAM"));
    }

    /** A handler on the given clients, bucket and delivery stream. */
    public InvoiceArchiveHandler(S3Client s3, FirehoseClient firehose, String bucket, String deliveryStream) {
        super(InvoiceArchive.pipeline(s3, bucket, firehose, deliveryStream, new PipelineListener() { },
                S3DeadLetterSink.builder().client(s3).bucket(bucket).prefix("dead-letters").build()).build());
    }

    private static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.isBlank()) {
            throw new IllegalStateException("environment variable " + name + " must be set");
        }
        return value;
    }
}
