package io.cdcfanout.kcl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.amazonaws.services.dynamodbv2.streamsadapter.adapter.DynamoDBStreamsClientRecord;
import com.amazonaws.services.dynamodbv2.streamsadapter.model.DynamoDBStreamsProcessRecordsInput;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.api.sink.SinkUnavailableException;
import io.cdcfanout.testkit.RecordingSink;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.awssdk.services.dynamodb.model.StreamRecord;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.kinesis.lifecycle.events.InitializationInput;
import software.amazon.kinesis.lifecycle.events.LeaseLostInput;
import software.amazon.kinesis.lifecycle.events.ShardEndedInput;
import software.amazon.kinesis.processor.RecordProcessorCheckpointer;

/**
 * The processor on one thread, with a same-thread pipeline and a recording checkpointer: which
 * positions it checkpoints, and when it gives up resubmitting. Nothing here sleeps.
 */
class PipelineShardProcessorTest {
    private static final String ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-24T00:00:00.000";
    private static final String SHARD = "shardId-0001";

    /** Records every checkpoint ("END" for the shard's end) and runs a hook after each. */
    private static final class Checkpoints {
        final List<String> taken = new ArrayList<>();
        Consumer<String> after = s -> { };

        RecordProcessorCheckpointer checkpointer() {
            return (RecordProcessorCheckpointer) Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {RecordProcessorCheckpointer.class}, (proxy, method, args) -> {
                        if (!method.getName().equals("checkpoint")) {
                            throw new UnsupportedOperationException(method.getName());
                        }
                        String at = args == null ? "END" : (String) args[0];
                        taken.add(at);
                        after.accept(at);
                        return null;
                    });
        }
    }

    /** Halts its route at the event of key {@code haltAt} until {@code halting} is cleared. */
    private static final class HaltingSink implements Sink<Map<String, AttributeValue>> {
        final RecordingSink<Map<String, AttributeValue>> recorded = new RecordingSink<>();
        final String haltAt;
        volatile boolean halting = true;
        Runnable onHalt = () -> { };

        HaltingSink(String haltAt) {
            this.haltAt = haltAt;
        }

        @Override
        public SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
            if (halting && batch.events().stream().anyMatch(e -> id(e).equals(haltAt))) {
                onHalt.run();
                throw new SinkUnavailableException("the replica is down (scripted)", null);
            }
            return recorded.write(batch);
        }
    }

    private static Pipeline<Map<String, AttributeValue>> pipeline(Sink<Map<String, AttributeValue>> sink) {
        // One event a call, on the calling thread: a halt falls between two known events.
        return Pipeline.<Map<String, AttributeValue>>builder().executor(Runnable::run)
                .route(Route.<Map<String, AttributeValue>>builder("r").sink(sink)
                        .buffer(BufferPolicy.builder().maxEvents(1).build()).build())
                .build();
    }

    private static String sequence(int i) {
        return String.format("%021d", i + 1);
    }

    private static DynamoDBStreamsProcessRecordsInput batch(RecordProcessorCheckpointer checkpointer, int n) {
        List<DynamoDBStreamsClientRecord> records = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Map<String, AttributeValue> item = Map.of("id", AttributeValue.fromS("k" + i));
            records.add(DynamoDBStreamsClientRecord.fromRecord(Record.builder().eventID("e" + i).eventName("INSERT")
                    .dynamodb(StreamRecord.builder().sequenceNumber(sequence(i)).keys(item).newImage(item)
                            .approximateCreationDateTime(Instant.parse("2026-11-24T00:00:00Z"))
                            .streamViewType(StreamViewType.NEW_IMAGE).build())
                    .build()));
        }
        return DynamoDBStreamsProcessRecordsInput.builder().records(records).checkpointer(checkpointer).build();
    }

    private static PipelineShardProcessor processor(Pipeline<Map<String, AttributeValue>> pipeline) {
        PipelineShardProcessor p = (PipelineShardProcessor) PipelineProcessorFactory.builder().streamArn(ARN)
                .pipeline(pipeline).retryBackoff(Duration.ZERO).build().shardRecordProcessor();
        p.initialize(InitializationInput.builder().shardId(SHARD).build());
        return p;
    }

    private static String id(ChangeEvent<? extends Map<String, AttributeValue>> e) {
        return e.after().orElseThrow().get("id").s();
    }

    private static List<String> keys(List<? extends ChangeEvent<? extends Map<String, AttributeValue>>> events) {
        return events.stream().map(PipelineShardProcessorTest::id).toList();
    }

    @Test
    void aHaltMidBatchCheckpointsTheAcknowledgedPrefixThenResubmitsTheRestInOrder() {
        HaltingSink sink = new HaltingSink("k3");
        Checkpoints checkpoints = new Checkpoints();
        try (Pipeline<Map<String, AttributeValue>> pipeline = pipeline(sink)) {
            // The route comes back as soon as the prefix is checkpointed.
            checkpoints.after = at -> {
                sink.halting = false;
                pipeline.resume("r");
            };
            processor(pipeline).processRecords(batch(checkpoints.checkpointer(), 6));
        }
        assertEquals(List.of(sequence(2), sequence(5)), checkpoints.taken, "k0..k2 first, then the rest");
        assertEquals(List.of("k0", "k1", "k2", "k3", "k4", "k5"), keys(sink.recorded.events()), "once each, in order");
    }

    @Test
    void aLostLeaseStopsTheResubmissionsWithoutACheckpoint() {
        HaltingSink sink = new HaltingSink("k0");
        Checkpoints checkpoints = new Checkpoints();
        AtomicReference<PipelineShardProcessor> processor = new AtomicReference<>();
        try (Pipeline<Map<String, AttributeValue>> pipeline = pipeline(sink)) {
            processor.set(processor(pipeline));
            // KCL reports the lost lease from another thread while the route is down.
            sink.onHalt = () -> processor.get().leaseLost(LeaseLostInput.builder().build());
            processor.get().processRecords(batch(checkpoints.checkpointer(), 3));
        }
        assertEquals(List.of(), checkpoints.taken, "nothing was acknowledged, and the next owner starts over");
        assertEquals(List.of(), sink.recorded.events());
    }

    @Test
    void aFullyAcknowledgedBatchCheckpointsItsLastRecordAndAShardEndCheckpointsTheEnd() {
        RecordingSink<Map<String, AttributeValue>> sink = new RecordingSink<>();
        Checkpoints checkpoints = new Checkpoints();
        try (Pipeline<Map<String, AttributeValue>> pipeline = pipeline(sink)) {
            PipelineShardProcessor p = processor(pipeline);
            p.processRecords(batch(checkpoints.checkpointer(), 4));
            p.shardEnded(ShardEndedInput.builder().checkpointer(checkpoints.checkpointer()).build());
        }
        assertEquals(List.of(sequence(3), "END"), checkpoints.taken);
        assertEquals(4, sink.events().size());
    }
}
