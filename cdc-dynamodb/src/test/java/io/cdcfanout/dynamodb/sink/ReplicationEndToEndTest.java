package io.cdcfanout.dynamodb.sink;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.interceptor.SdkExecutionAttribute;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ProvisionedThroughputExceededException;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Random puts, updates and deletes on a source table, replicated through the real stream by the
 * poller into a second "region" whose client is throttled on every seventh write: afterwards the
 * target equals the source.
 */
class ReplicationEndToEndTest {

    @ParameterizedTest
    @EnumSource(ReplicationSink.WriteMode.class)
    void theReplicaConvergesDespiteThrottling(ReplicationSink.WriteMode mode) throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        String table = LocalDynamoDb.uniqueName("Accounts");
        String arn = local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        String region = mode == ReplicationSink.WriteMode.BATCHED ? "eu-central-2" : "eu-central-1";
        AtomicInteger writes = new AtomicInteger();
        ExecutionInterceptor throttle = new ExecutionInterceptor() {
            @Override
            public void beforeExecution(Context.BeforeExecution context, ExecutionAttributes attributes) {
                String op = attributes.getAttribute(SdkExecutionAttribute.OPERATION_NAME);
                if (op.endsWith("Item") && writes.incrementAndGet() % 7 == 0) {
                    throw ProvisionedThroughputExceededException.builder().message("injected throttling")
                            .statusCode(400).awsErrorDetails(AwsErrorDetails.builder()
                                    .errorCode("ProvisionedThroughputExceededException")
                                    .errorMessage("injected throttling").build()).build();
                }
            }
        };
        DynamoDbClient target = DynamoDbClient.builder().endpointOverride(local.endpoint()).region(Region.of(region))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("local", "local")))
                .overrideConfiguration(c -> c.addExecutionInterceptor(throttle))
                .build();
        LocalDynamoDb.createTable(local.client(region), table, null, "id:S");

        Random random = new Random(mode.ordinal());
        for (int i = 0; i < 400; i++) {
            String id = "a" + random.nextInt(30);
            int v = i;
            switch (random.nextInt(6)) {
                case 0 -> local.client().deleteItem(r -> r.tableName(table).key(Map.of("id", s(id))));
                case 1 -> local.client().updateItem(r -> r.tableName(table).key(Map.of("id", s(id)))
                        .updateExpression("ADD balance :d").expressionAttributeValues(Map.of(":d", n("5"))));
                default -> local.client().putItem(r -> r.tableName(table).item(Map.of("id", s(id),
                        "balance", n(Integer.toString(v)), "flags", AttributeValue.builder().ns("-1", "" + v).build())));
            }
        }
        RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
        Replicas.Activity activity = new Replicas.Activity();
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("replica")
                        .sink(ReplicationSink.builder().client(target).table(table).origin("src").writeMode(mode)
                                .build())
                        .retry(RetryPolicy.builder().maxAttempts(20).initialBackoff(Duration.ofMillis(5))
                                .maxBackoff(Duration.ofMillis(50)).build())
                        .buffer(BufferPolicy.builder().maxEvents(50).maxAge(Duration.ofMillis(20)).build())
                        .build())
                .deadLetterSink(deadLetters).listener(activity).build();
                StreamPoller poller = StreamPoller.builder().streamsClient(local.streams()).streamArn(arn)
                        .pipeline(pipeline).recordsPerCall(37).pollInterval(Duration.ofMillis(10)).build().start()) {
            Map<String, Map<String, AttributeValue>> source = Replicas.items(local.client(), table);
            long deadline = System.currentTimeMillis() + 40_000;
            while (!source.equals(Replicas.items(local.client(region), table)) && System.currentTimeMillis() < deadline) {
                activity.await(Duration.ofMillis(500)); // the replica changes only when the route delivers
            }
            assertEquals(source, Replicas.items(local.client(region), table));
            assertTrue(poller.failure().isEmpty());
        }
        assertEquals(0, deadLetters.letters().size(), "throttling is retried, never dead-lettered");
        assertTrue(writes.get() > 7, "throttling was injected");
    }
}
