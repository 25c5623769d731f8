package io.cdcfanout.examples.deploy;

import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.examples.invoices.InvoiceArchive;
import io.cdcfanout.s3sink.S3DeadLetterSink;
import java.io.PrintStream;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.firehose.FirehoseClient;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Redrives the invoice archive's dead letters, selected by route and time range, through the same
 * pipeline the handler and the poller run. One command, from the Lambda jar:
 *
 * <pre>
 * ARCHIVE_BUCKET=... DELIVERY_STREAM=... java -cp examples/target/examples-*-lambda.jar \
 *     io.cdcfanout.examples.deploy.Redrive s3 2026-11-30T00:00:00Z 2026-11-30T12:00:00Z
 * </pre>
 *
 * Arguments: the route ({@code s3} or {@code firehose}), and the time range [from, to) in ISO-8601. It
 * prints how many letters it found and how many were delivered; the exit status is 0 when all were.
 * Letters that fail again go back to the dead letters, under their new time.
 */
public final class Redrive {
    private Redrive() {
    }

    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: Redrive <route> <from ISO-8601> <to ISO-8601>");
            System.exit(2);
        }
        S3Client s3 = S3Client.create();
        int failed = run(s3, FirehoseClient.create(), env("ARCHIVE_BUCKET"), env("DELIVERY_STREAM"), args[0],
                Instant.parse(args[1]), Instant.parse(args[2]), System.out);
        System.exit(failed == 0 ? 0 : 1);
    }

    /** Redrives; returns how many letters were not delivered. */
    public static int run(S3Client s3, FirehoseClient firehose, String bucket, String deliveryStream, String route,
            Instant from, Instant to, PrintStream out) {
        List<DeadLetter> letters = S3DeadLetterSink.read(s3, bucket, "dead-letters", route, from, to);
        out.println(letters.size() + " dead letters of route '" + route + "' from " + from + " to " + to);
        if (letters.isEmpty()) {
            return 0;
        }
        try (Pipeline<Map<String, AttributeValue>> pipeline = InvoiceArchive.pipeline(s3, bucket, firehose,
                deliveryStream, new PipelineListener() { },
                S3DeadLetterSink.builder().client(s3).bucket(bucket).prefix("dead-letters").build()).build()) {
            BatchResult<Map<String, AttributeValue>> result = pipeline.redrive(letters).join();
            int failed = result.failures().size() + result.deadLettered();
            out.println((letters.size() - failed) + " delivered, " + failed + " not");
            return failed;
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
