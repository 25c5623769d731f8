package io.cdcfanout.dynamodb;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.awssdk.services.dynamodb.model.StreamRecord;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Regression: item data reached the logs. A dead-letter reason ("cannot send to <e-mail>") was logged
 * at ERROR when a route halted and at WARN when the poller rewound; defect reasons quoting raw fields
 * went out the same way. Flows run here with a marker in keys, values, failure reasons and exception
 * messages; whatever the library prints at INFO and above (slf4j-simple's default) must not contain it.
 * The Lambda processor's part is in cdc-lambda's LambdaLogPrivacyTest.
 */
class LogPrivacyTest {
    private static final String MARKER = "pii-7f3a9c@example.com";

    /** Fails every event it sees once with a reason quoting the item, then delivers. */
    private static final class LeakySink implements Sink<Map<String, AttributeValue>> {
        final AtomicInteger calls = new AtomicInteger();
        final boolean fatal;

        LeakySink(boolean fatal) {
            this.fatal = fatal;
        }

        @Override
        public SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
            if (calls.incrementAndGet() == 2) {
                throw new IllegalStateException("boom while sending to " + MARKER);
            }
            if (calls.get() > 3 && !fatal) {
                return SinkResult.allDelivered(batch.size());
            }
            SinkResult.Builder r = SinkResult.builder(batch.size());
            for (int i = 0; i < batch.size(); i++) {
                r.fail(i, "cannot send to " + batch.events().get(i).after().map(a -> a.get("email").s()).orElse("?"),
                        !fatal);
            }
            return r.build();
        }
    }

    private static Record record(String seq, String eventName) {
        Map<String, AttributeValue> image = Map.of("id", s(MARKER), "email", s(MARKER), "n", n("1"));
        return Record.builder().eventID("e" + seq).eventName(eventName).dynamodb(StreamRecord.builder()
                .sequenceNumber(seq).approximateCreationDateTime(Instant.EPOCH)
                .streamViewType(StreamViewType.NEW_AND_OLD_IMAGES).keys(Map.of("id", s(MARKER)))
                .newImage(image).build()).build();
    }

    @Test
    void noItemDataReachesTheLogsAtInfoOrAbove() throws Exception {
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            runFlows();
        } finally {
            System.setErr(original);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        original.print(log);
        assertTrue(log.contains("halted"), "the flows did log (a halt, a rewind, dead letters): " + log.length());
        assertFalse(log.contains(MARKER), "item data in the log:\n" + log.lines()
                .filter(l -> l.contains(MARKER)).limit(5).reduce("", (a, b) -> a + b + "\n"));
        assertFalse(log.contains("pii-7f3a9c"), "a part of the marker in the log");
    }

    private void runFlows() throws Exception {
        Source source = StreamRecords.sourceOf("arn:aws:dynamodb:eu-west-1:123456789012:table/Users/stream/x");
        List<ChangeEvent<Map<String, AttributeValue>>> events = new ArrayList<>();
        events.add(StreamRecords.toEvent(record("100", "INSERT"), source, "shardId-1"));
        events.add(StreamRecords.toEvent(record("101", MARKER), source, "shardId-1")); // defective: eventName
        events.add(StreamRecords.toEvent(record("102", "INSERT"), source, "shardId-1"));
        PipelineListener throwing = new PipelineListener() {
            @Override
            public void onRouteHalted(String route, String reason) {
                throw new IllegalStateException("listener saw " + MARKER);
            }
        };
        RetryPolicy quick = RetryPolicy.builder().maxAttempts(2).initialBackoff(Duration.ofMillis(1)).build();
        // 1. A fatal failure, no dead-letter sink: the route halts.
        try (Pipeline<Map<String, AttributeValue>> p = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("mail").sink(new LeakySink(true)).retry(quick).build())
                .listener(throwing).build()) {
            p.submit(events);
            p.flush();
            p.submit(events).join();
        }
        // 2. The same with a dead-letter sink: dead letters, retries, a thrown sink exception.
        try (Pipeline<Map<String, AttributeValue>> p = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("mail").sink(new LeakySink(true)).retry(quick).build())
                .route(Route.<Map<String, AttributeValue>>builder("retry").sink(new LeakySink(false)).retry(quick)
                        .build())
                .deadLetterSink(new RecordingDeadLetterSink()).build()) {
            var done = p.submit(events);
            p.flush();
            done.join();
        }
        // 3. The poller on DynamoDB Local: a batch that is not acknowledged is read again (a rewind).
        LocalDynamoDb local = LocalDynamoDb.get();
        String table = LocalDynamoDb.uniqueName("Privacy");
        String arn = local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        local.client().putItem(b -> b.tableName(table).item(Map.of("id", s(MARKER), "email", s(MARKER))));
        LeakySink poller = new LeakySink(false);
        java.util.concurrent.CountDownLatch rewound = new java.util.concurrent.CountDownLatch(2);
        io.cdcfanout.dynamodb.poller.PollerListener rewinds = new io.cdcfanout.dynamodb.poller.PollerListener() {
            @Override
            public void onRewind(String shardId, String toCheckpoint, String reason) {
                rewound.countDown();
            }
        };
        try (Pipeline<Map<String, AttributeValue>> p = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("mail").sink(poller)
                        .retry(RetryPolicy.builder().maxAttempts(1).build()).build()).build();
                StreamPoller sp = StreamPoller.builder().streamsClient(local.streams()).streamArn(arn).pipeline(p)
                        .listener(rewinds).pollInterval(Duration.ofMillis(10)).maxBackoff(Duration.ofMillis(50)).build().start()) {
            assertTrue(rewound.await(30, java.util.concurrent.TimeUnit.SECONDS), "the poller rewound: "
                    + poller.calls + " " + sp.failure());
        }
    }
}
