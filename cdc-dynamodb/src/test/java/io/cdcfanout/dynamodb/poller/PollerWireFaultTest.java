package io.cdcfanout.dynamodb.poller;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.local.WireFaults;
import io.cdcfanout.local.WireFaults.Fault;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/**
 * Regression: one transient error that outlived the SDK's own retries stopped the poller for good,
 * because {@code SdkException.retryable()} is a constant false in SDK 2.57. Each fault below comes in a
 * burst longer than the SDK's attempts for one call, then clears; the poller must still run and
 * deliver all 20 changes in order.
 */
class PollerWireFaultTest {
    private static final int CHANGES = 20;
    private static final int BURST = 12;

    enum Case {
        GET_RECORDS_500("GetRecords", Fault.awsJson(500, "InternalServerError")),
        DESCRIBE_STREAM_500("DescribeStream", Fault.awsJson(500, "InternalServerError")),
        GET_RECORDS_CONNECTION_CLOSED("GetRecords", new Fault.DropBeforeApply()),
        GET_RECORDS_503("GetRecords", Fault.awsJson(503, "ServiceUnavailable"));

        final String operation;
        final Fault fault;

        Case(String operation, Fault fault) {
            this.operation = operation;
            this.fault = fault;
        }
    }

    @ParameterizedTest
    @EnumSource(Case.class)
    void aBurstOfTransientFaultsLongerThanTheSdksRetriesLeavesThePollerRunningAndLosesNothing(Case c)
            throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        String table = LocalDynamoDb.uniqueName("Faults");
        local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        for (int v = 1; v <= CHANGES / 2; v++) {
            put(local, table, v);
        }
        ArrivalSink sink = new ArrivalSink();
        try (WireFaults wire = new WireFaults(local.endpoint());
                DynamoDbStreamsClient streams = DynamoDbStreamsClient.builder().endpointOverride(wire.endpoint())
                        .region(Region.US_EAST_1).credentialsProvider(StaticCredentialsProvider.create(
                                AwsBasicCredentials.create("local", "local"))).build();
                Pipeline<Map<String, AttributeValue>> pipeline = StreamPollerTest.pipeline(sink)) {
            wire.inject(WireFaults.operation(c.operation), c.fault, BURST);
            try (StreamPoller poller = StreamPoller.builder().streamsClient(streams).table(table, local.client())
                    .pipeline(pipeline).pollInterval(Duration.ofMillis(10)).maxBackoff(Duration.ofMillis(200))
                    .shardDiscoveryInterval(Duration.ofMillis(200)).build().start()) {
                for (int v = CHANGES / 2 + 1; v <= CHANGES; v++) {
                    put(local, table, v);
                }
                assertTrue(sink.await(CHANGES, Duration.ofSeconds(60)), "delivered " + sink.size()
                        + "; faults served " + wire.faulted().size() + "; poller " + poller.failure());
                assertTrue(wire.exhausted(), "every injected fault was served: " + wire.faulted());
                assertFalse(poller.isStopped(), "the poller still runs: " + poller.failure());
                assertEquals(java.util.Optional.empty(), poller.failure());
            }
        }
        List<Integer> versions = new ArrayList<>();
        sink.arrivals().forEach(a -> versions.add(Integer.parseInt(a.event().after().orElseThrow().get("v").n())));
        assertEquals(IntStream.rangeClosed(1, CHANGES).boxed().toList(), versions, "every change once, in order");
    }

    private static void put(LocalDynamoDb local, String table, int version) {
        local.client().putItem(r -> r.tableName(table).item(Map.of("id", s("k"), "v", n(Integer.toString(version)))));
    }
}
