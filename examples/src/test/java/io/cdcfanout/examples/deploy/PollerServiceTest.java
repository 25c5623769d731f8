package io.cdcfanout.examples.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.testkit.RecordingSink;
import java.util.Map;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** Regression: the service kept its container alive after the poller had stopped by itself. */
class PollerServiceTest {
    @Test
    void aPollerThatStopsByItselfEndsTheServiceWithStatusOne() throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("r").sink(new RecordingSink<>()).build()).build();
                StreamPoller poller = StreamPoller.builder().streamsClient(local.streams())
                        .streamArn("arn:aws:dynamodb:us-east-1:000000000000:table/Gone/stream/2026-01-01T00:00:00.000")
                        .pipeline(pipeline).build().start()) {
            assertEquals(1, PollerService.awaitStop(poller), "a stream that does not exist stops the poller");
        }
    }
}
