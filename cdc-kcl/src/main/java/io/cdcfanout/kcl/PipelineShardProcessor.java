package io.cdcfanout.kcl;

import com.amazonaws.services.dynamodbv2.streamsadapter.adapter.DynamoDBStreamsClientRecord;
import com.amazonaws.services.dynamodbv2.streamsadapter.model.DynamoDBStreamsProcessRecordsInput;
import com.amazonaws.services.dynamodbv2.streamsadapter.processor.DynamoDBStreamsShardRecordProcessor;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.dynamodb.StreamRecords;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.kinesis.exceptions.KinesisClientLibDependencyException;
import software.amazon.kinesis.exceptions.ShutdownException;
import software.amazon.kinesis.exceptions.ThrottlingException;
import software.amazon.kinesis.lifecycle.events.InitializationInput;
import software.amazon.kinesis.lifecycle.events.LeaseLostInput;
import software.amazon.kinesis.lifecycle.events.ShardEndedInput;
import software.amazon.kinesis.lifecycle.events.ShutdownRequestedInput;
import software.amazon.kinesis.processor.RecordProcessorCheckpointer;

/** One shard's processor; see {@link PipelineProcessorFactory}. */
final class PipelineShardProcessor implements DynamoDBStreamsShardRecordProcessor {
    private static final Logger LOG = LoggerFactory.getLogger(PipelineShardProcessor.class);
    private static final int CHECKPOINT_ATTEMPTS = 5;

    private final Pipeline<Map<String, AttributeValue>> pipeline;
    private final Source source;
    private final Duration retryBackoff;
    private String shardId = StreamRecords.UNKNOWN_SHARD;
    private String lastAcknowledged;
    /** Counted down once the shard is given up: lease lost, or shutdown requested. */
    private final CountDownLatch stop = new CountDownLatch(1);

    PipelineShardProcessor(Pipeline<Map<String, AttributeValue>> pipeline, Source source, Duration retryBackoff) {
        this.pipeline = pipeline;
        this.source = source;
        this.retryBackoff = retryBackoff;
    }

    @Override
    public void initialize(InitializationInput input) {
        shardId = input.shardId();
        LOG.info("Processing shard {} of {} from {}", shardId, source.table(), input.extendedSequenceNumber());
    }

    @Override
    public void processRecords(DynamoDBStreamsProcessRecordsInput input) {
        List<Record> records = new ArrayList<>(input.records().size());
        // KCL's own sequence numbers, as its checkpointer expects them (a defective record may lack one
        // in its DynamoDB part).
        List<String> sequences = new ArrayList<>(input.records().size());
        for (DynamoDBStreamsClientRecord r : input.records()) {
            records.add(r.getRecord());
            sequences.add(r.sequenceNumber());
        }
        List<ChangeEvent<Map<String, AttributeValue>>> events = StreamRecords.toEvents(records, source, shardId);
        int attempt = 0;
        while (!events.isEmpty() && stop.getCount() > 0) {
            attempt++;
            Outcome outcome = settle(events);
            if (outcome == null) {
                return; // interrupted: KCL is shutting down
            }
            int acknowledged = outcome.acknowledged();
            if (acknowledged > 0 && !checkpoint(input.checkpointer(), sequences.get(acknowledged - 1))) {
                return;
            }
            if (acknowledged == events.size()) {
                return;
            }
            if (attempt == 1 || attempt % 10 == 0) {
                LOG.warn("Shard {}: {} of {} records not acknowledged (attempt {}), submitting them again in {}",
                        shardId, events.size() - acknowledged, events.size(), attempt, retryBackoff);
                LOG.debug("Shard {}: the first unacknowledged record's reason: {}", shardId, outcome.reason());
            }
            events = events.subList(acknowledged, events.size());
            sequences = sequences.subList(acknowledged, sequences.size());
            if (!pause()) {
                return;
            }
        }
    }

    /** How many leading events of a batch every route acknowledged, and why the next one was not. */
    private record Outcome(int acknowledged, String reason) {
    }

    /** The batch's outcome once every route has settled it; null if interrupted. */
    private Outcome settle(List<ChangeEvent<Map<String, AttributeValue>>> events) {
        CompletableFuture<BatchResult<Map<String, AttributeValue>>> done = pipeline.submit(events);
        pipeline.flush();
        BatchResult<Map<String, AttributeValue>> result;
        try {
            result = done.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (ExecutionException e) {
            // The pipeline's futures never fail. If one did, nothing counts as acknowledged: throwing
            // would make KCL go on past the batch.
            LOG.error("Shard {}: the pipeline failed a batch ({}); it will be submitted again", shardId,
                    e.getCause().getClass().getName());
            LOG.debug("Shard {}: the pipeline failed a batch", shardId, e.getCause());
            return new Outcome(0, "the pipeline failed: " + e.getCause());
        }
        if (result.succeeded()) {
            return new Outcome(events.size(), null);
        }
        return new Outcome(indexOf(events, result.firstFailure().get()), result.failures().get(0).reason());
    }

    private static int indexOf(List<ChangeEvent<Map<String, AttributeValue>>> events,
            ChangeEvent<Map<String, AttributeValue>> event) {
        for (int i = 0; i < events.size(); i++) {
            if (events.get(i) == event) {
                return i;
            }
        }
        throw new IllegalStateException("the failed event " + event.eventId() + " is not in the batch");
    }

    /** Waits {@code retryBackoff}, or less if the shard is given up meanwhile; false if it was. */
    private boolean pause() {
        try {
            return !stop.await(retryBackoff.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Ends the resubmissions, and wakes a pause at once. */
    private void giveUp() {
        stop.countDown();
    }

    /** Checkpoints at {@code sequence} (null: the shard's end); false if this worker lost the shard. */
    private boolean checkpoint(RecordProcessorCheckpointer checkpointer, String sequence) {
        for (int attempt = 1; ; attempt++) {
            try {
                if (sequence == null) {
                    checkpointer.checkpoint();
                } else {
                    checkpointer.checkpoint(sequence);
                    lastAcknowledged = sequence;
                }
                return true;
            } catch (ShutdownException e) {
                LOG.info("Shard {}: the lease moved to another worker; not checkpointing", shardId);
                giveUp();
                return false;
            } catch (ThrottlingException | KinesisClientLibDependencyException e) {
                if (attempt >= CHECKPOINT_ATTEMPTS) {
                    // Not fatal: the next batch's checkpoint covers this one.
                    LOG.warn("Shard {}: checkpoint failed {} times, going on: {}", shardId, attempt, e.toString());
                    return true;
                }
                if (!pause()) {
                    return false;
                }
            } catch (software.amazon.kinesis.exceptions.InvalidStateException e) {
                LOG.error("Shard {}: the lease table refused the checkpoint: {}", shardId, e.toString());
                return false;
            }
        }
    }

    @Override
    public void leaseLost(LeaseLostInput input) {
        giveUp();
        LOG.info("Shard {}: lease lost", shardId);
    }

    @Override
    public void shardEnded(ShardEndedInput input) {
        LOG.info("Shard {} ended; checkpointing its end so that KCL starts its children", shardId);
        checkpoint(input.checkpointer(), null);
    }

    @Override
    public void shutdownRequested(ShutdownRequestedInput input) {
        giveUp();
        if (lastAcknowledged != null) {
            checkpoint(input.checkpointer(), lastAcknowledged);
        }
    }
}
