package io.cdcfanout.kcl;

import com.amazonaws.services.dynamodbv2.streamsadapter.AmazonDynamoDBStreamsAdapterClient;
import com.amazonaws.services.dynamodbv2.streamsadapter.StreamsSchedulerFactory;
import com.amazonaws.services.dynamodbv2.streamsadapter.polling.DynamoDBStreamsPollingConfig;
import io.cdcfanout.local.LocalDynamoDb;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.SdkRequest;
import software.amazon.awssdk.core.SdkResponse;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.cloudwatch.CloudWatchAsyncClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbAsyncClient;
import software.amazon.awssdk.services.dynamodb.model.DescribeStreamRequest;
import software.amazon.awssdk.services.dynamodb.model.DescribeStreamResponse;
import software.amazon.awssdk.services.dynamodb.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.dynamodb.model.ListStreamsResponse;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;
import software.amazon.kinesis.common.ConfigsBuilder;
import software.amazon.kinesis.common.InitialPositionInStream;
import software.amazon.kinesis.common.InitialPositionInStreamExtended;
import software.amazon.kinesis.coordinator.Scheduler;
import software.amazon.kinesis.leases.LeaseManagementConfig;
import software.amazon.kinesis.metrics.MetricsLevel;
import software.amazon.kinesis.processor.ShardRecordProcessorFactory;

/**
 * A KCL 3 scheduler on DynamoDB Local, with the timings shortened so that a worker takes its first
 * lease in about half a minute instead of two.
 *
 * <p>The adapter accepts stream ARNs of known regions only, and DynamoDB Local's name the region
 * {@code ddblocal}; so the streams client rewrites them to {@value #REGION} on the way out and back
 * on the way in. Nothing else is changed.
 */
final class LocalKcl implements AutoCloseable {
    static final String REGION = "us-east-1";
    private static final String LOCAL = ":ddblocal:";
    private static final String REAL = ":" + REGION + ":";

    private final Scheduler scheduler;
    private final Thread thread;
    private final DynamoDbAsyncClient leases;
    private final CloudWatchAsyncClient metrics;
    private final AmazonDynamoDBStreamsAdapterClient adapter;

    /** The stream ARN as the adapter must see it. */
    static String adapterArn(String localArn) {
        return localArn.replace(LOCAL, REAL);
    }

    LocalKcl(LocalDynamoDb local, String localStreamArn, String application, String worker,
            ShardRecordProcessorFactory factory) {
        this(local, localStreamArn, application, worker, factory, 200);
    }

    /** With KCL's pause between reads of a shard, in milliseconds (200 above; a backlog wants less). */
    LocalKcl(LocalDynamoDb local, String localStreamArn, String application, String worker,
            ShardRecordProcessorFactory factory, long idleTimeBetweenReadsMillis) {
        StaticCredentialsProvider credentials = StaticCredentialsProvider.create(
                AwsBasicCredentials.create("local", "local"));
        DynamoDbStreamsClient streams = DynamoDbStreamsClient.builder().endpointOverride(local.endpoint())
                .region(Region.of(REGION)).credentialsProvider(credentials)
                .overrideConfiguration(o -> o.addExecutionInterceptor(new RegionRewrite())).build();
        adapter = new AmazonDynamoDBStreamsAdapterClient(streams, Region.of(REGION));
        leases = DynamoDbAsyncClient.builder().endpointOverride(local.endpoint()).region(Region.of(REGION))
                .credentialsProvider(credentials).build();
        // Metrics are off; KCL still wants a client. Nothing listens on port 9.
        metrics = CloudWatchAsyncClient.builder().endpointOverride(URI.create("http://127.0.0.1:9"))
                .region(Region.of(REGION)).credentialsProvider(credentials).build();
        String arn = adapterArn(localStreamArn);
        ConfigsBuilder configs = new ConfigsBuilder(StreamsSchedulerFactory.createSingleStreamTracker(arn,
                InitialPositionInStreamExtended.newInitialPosition(InitialPositionInStream.TRIM_HORIZON)),
                application, adapter, leases, metrics, worker, factory);
        LeaseManagementConfig leaseConfig = configs.leaseManagementConfig().shardSyncIntervalMillis(1_000)
                .failoverTimeMillis(3_000).leaseAssignmentIntervalMillis(1_000L);
        leaseConfig.workerUtilizationAwareAssignmentConfig(leaseConfig.workerUtilizationAwareAssignmentConfig()
                .inMemoryWorkerMetricsCaptureFrequencyMillis(200).workerMetricsReporterFreqInMillis(500));
        scheduler = StreamsSchedulerFactory.createScheduler(configs.checkpointConfig(), configs.coordinatorConfig(),
                leaseConfig, configs.lifecycleConfig(), configs.metricsConfig().metricsLevel(MetricsLevel.NONE),
                configs.processorConfig().callProcessRecordsEvenForEmptyRecordList(true), configs.retrievalConfig()
                        .retrievalSpecificConfig(new DynamoDBStreamsPollingConfig(arn, adapter)
                                .idleTimeBetweenReadsInMillis(idleTimeBetweenReadsMillis)),
                adapter);
        thread = new Thread(scheduler, "kcl-" + worker);
        thread.setDaemon(true);
        thread.start();
    }

    /** Whether the worker's loop still runs; false once it has stopped or died. */
    boolean running() {
        return thread.isAlive();
    }

    /** Stops the worker gracefully: its processors finish their batch and checkpoint. */
    @Override
    public void close() {
        try {
            scheduler.startGracefulShutdown().get(60, TimeUnit.SECONDS);
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            scheduler.shutdown();
            throw new IllegalStateException("the KCL worker did not stop gracefully", e);
        }
        adapter.close();
        leases.close();
        metrics.close();
    }

    /** DynamoDB Local's region in stream ARNs, and back. */
    private static final class RegionRewrite implements ExecutionInterceptor {
        @Override
        public SdkRequest modifyRequest(Context.ModifyRequest context, ExecutionAttributes attributes) {
            SdkRequest r = context.request();
            if (r instanceof DescribeStreamRequest d) {
                return d.toBuilder().streamArn(d.streamArn().replace(REAL, LOCAL)).build();
            }
            if (r instanceof GetShardIteratorRequest g) {
                return g.toBuilder().streamArn(g.streamArn().replace(REAL, LOCAL)).build();
            }
            return r;
        }

        @Override
        public SdkResponse modifyResponse(Context.ModifyResponse context, ExecutionAttributes attributes) {
            SdkResponse r = context.response();
            if (r instanceof DescribeStreamResponse d) {
                return d.toBuilder().streamDescription(d.streamDescription().toBuilder()
                        .streamArn(adapterArn(d.streamDescription().streamArn())).build()).build();
            }
            if (r instanceof ListStreamsResponse l) {
                return l.toBuilder().streams(l.streams().stream()
                        .map(s -> s.toBuilder().streamArn(adapterArn(s.streamArn())).build()).toList()).build();
            }
            return r;
        }
    }
}
