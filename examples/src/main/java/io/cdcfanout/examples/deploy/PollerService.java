package io.cdcfanout.examples.deploy;

import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.dynamodb.poller.DynamoDbCheckpointStore;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.examples.invoices.InvoiceArchive;
import io.cdcfanout.s3sink.S3DeadLetterSink;
import java.util.Map;
import java.time.Duration;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;
import software.amazon.awssdk.services.firehose.FirehoseClient;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The invoice archive as a long-running service (a container on ECS Fargate, say): the embedded poller
 * with checkpoints in a DynamoDB table, so a replacement task resumes where the last one stopped.
 * Environment: {@code SOURCE_TABLE}, {@code CHECKPOINT_TABLE}, {@code ARCHIVE_BUCKET},
 * {@code DELIVERY_STREAM}. Stops cleanly on SIGTERM (ECS sends it before SIGKILL): the poller drains
 * and checkpoints. When the poller stops by itself ({@code DataLossPolicy.FAIL}, a fatal AWS error), the
 * process exits with status 1, so the orchestrator starts a new task instead of keeping an idle one.
 * See {@code examples/deploy/Dockerfile}.
 */
public final class PollerService {
    private PollerService() {
    }

    public static void main(String[] args) throws InterruptedException {
        DynamoDbClient db = DynamoDbClient.create();
        S3Client s3 = S3Client.create();
        String bucket = env("ARCHIVE_BUCKET");
        // Metrics as CloudWatch EMF on standard output, once a minute (ship the container's log with
        // FireLens or the CloudWatch agent, which extract EMF).
        EmfMetrics metrics = new EmfMetrics("invoice-archive-poller", java.time.Clock.systemUTC());
        java.util.concurrent.ScheduledExecutorService emitter = java.util.concurrent.Executors
                .newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "emf-metrics");
                    t.setDaemon(true);
                    return t;
                });
        emitter.scheduleAtFixedRate(() -> metrics.emit(System.out), 1, 1, java.util.concurrent.TimeUnit.MINUTES);
        Pipeline<Map<String, AttributeValue>> pipeline = InvoiceArchive.pipeline(s3, bucket, FirehoseClient.create(),
                env("DELIVERY_STREAM"), metrics,
                S3DeadLetterSink.builder().client(s3).bucket(bucket).prefix("dead-letters").build()).build();
        StreamPoller poller = StreamPoller.builder()
                .streamsClient(DynamoDbStreamsClient.create())
                .table(env("SOURCE_TABLE"), db)
                .checkpointStore(DynamoDbCheckpointStore.builder().client(db).table(env("CHECKPOINT_TABLE")).build())
                .pipeline(pipeline)
                .listener(metrics.poller())
                .build()
                .start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            poller.close();    // drains the pipeline and saves the last checkpoints
            pipeline.close();
            metrics.emit(System.out);
        }, "shutdown"));
        System.exit(awaitStop(poller));
    }

    /**
     * Waits until the poller stops and returns the exit status: 1, since a poller only stops by itself
     * on a failure (a SIGTERM ends the process through the shutdown hook before this returns).
     */
    static int awaitStop(StreamPoller poller) throws InterruptedException {
        while (!poller.awaitStop(Duration.ofMinutes(1))) {
            // still running
        }
        System.err.println("The poller stopped by itself: " + poller.failure().map(t -> t.getClass().getName() + ": "
                + t.getMessage()).orElse("no failure recorded") + "; exiting with status 1");
        return 1;
    }

    private static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.isBlank()) {
            throw new IllegalStateException("environment variable " + name + " must be set");
        }
        return value;
    }
}
