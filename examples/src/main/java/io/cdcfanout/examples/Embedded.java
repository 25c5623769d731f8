package io.cdcfanout.examples;

import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.local.LocalFirehose;
import io.cdcfanout.local.LocalS3;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.io.PrintStream;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;
import software.amazon.awssdk.services.firehose.FirehoseClient;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The embedded default, in-process on loopback: DynamoDB Local, an S3-compatible server, and a Firehose
 * stand-in that delivers into the archive bucket the way Firehose does (buffered by size and interval,
 * gzip). Every example runs on it; with real AWS clients the same code runs unchanged.
 */
public final class Embedded implements AutoCloseable {
    /** The bucket every archive writes to. */
    public static final String BUCKET = "cdc-archive";
    /** Where the Firehose stand-in delivers, inside {@link #BUCKET}. */
    public static final String FIREHOSE_PREFIX = "firehose/";
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final String home;
    private final String away;
    private final Map<String, AtomicLong> totals = new ConcurrentHashMap<>();
    private final LocalDynamoDb dynamo;
    private final LocalS3 s3;
    private final LocalFirehose firehose;

    /** Starts the three servers and creates the archive bucket. */
    public Embedded() {
        // DynamoDB Local keeps one database per region for the JVM's life, so each instance gets regions
        // of its own: the first has the real names.
        int n = INSTANCES.incrementAndGet();
        home = n == 1 ? "us-east-1" : "us-east-1-" + n;
        away = n == 1 ? "eu-west-1" : "eu-west-1-" + n;
        dynamo = LocalDynamoDb.get();
        s3 = new LocalS3();
        s3.bucket(BUCKET);
        try {
            firehose = new LocalFirehose();
        } catch (IOException e) {
            throw new UncheckedIOException("the Firehose stand-in did not start", e);
        }
        firehose.deliverTo(s3.client(), BUCKET, FIREHOSE_PREFIX, 1024 * 1024, Duration.ofSeconds(1), true);
    }

    /** The home region's name. */
    public String home() {
        return home;
    }

    /** A second region's name, for replicas. */
    public String away() {
        return away;
    }

    /**
     * Runs {@code flow} on a fresh embedded default, prints what it returns, and exits the JVM: DynamoDB
     * Local's threads are not daemons, so a {@code main} would not end by itself. Exits 1 if the flow throws.
     */
    public static void runAndExit(Function<Embedded, ?> flow) {
        int status = 0;
        try (Embedded env = new Embedded()) {
            System.out.println(flow.apply(env));
        } catch (RuntimeException e) {
            LoggerFactory.getLogger(Embedded.class).error("the flow failed", e);
            status = 1;
        }
        System.exit(status);
    }

    /** A progress listener for one flow, whose counts also add up in {@link #totals()}. */
    public Flows.Progress progress(PrintStream out) {
        return new Flows.Progress(out, totals);
    }

    /** Counts of every flow run on this instance, by {@code <route>.<counter>}, in name order. */
    public Map<String, Long> totals() {
        Map<String, Long> copy = new TreeMap<>();
        totals.forEach((k, v) -> copy.put(k, v.get()));
        return copy;
    }

    /** A DynamoDB client of the home region. */
    public DynamoDbClient dynamoDb() {
        return dynamo.client(home);
    }

    /** A DynamoDB client of {@code region}, a separate database. */
    public DynamoDbClient dynamoDb(String region) {
        return dynamo.client(region);
    }

    /** A DynamoDB Streams client of {@code region}. */
    public DynamoDbStreamsClient streams(String region) {
        return dynamo.streams(region);
    }

    /** An S3 client. */
    public S3Client s3() {
        return s3.client();
    }

    /** A Firehose client. */
    public FirehoseClient firehose() {
        return firehose.client();
    }

    /** The Firehose stand-in, to force or await its deliveries. */
    public LocalFirehose firehoseStandIn() {
        return firehose;
    }

    /** The S3 stand-in, to read the archive. */
    public LocalS3 s3StandIn() {
        return s3;
    }

    /** Stops S3 and Firehose. DynamoDB Local stays up until the JVM exits (its threads are not daemons). */
    @Override
    public void close() {
        firehose.close();
        s3.close();
    }
}
