package io.cdcfanout.kcl;

import com.amazonaws.services.dynamodbv2.streamsadapter.adapter.DynamoDBStreamsClientRecord;
import com.amazonaws.services.dynamodbv2.streamsadapter.model.DynamoDBStreamsProcessRecordsInput;
import com.amazonaws.services.dynamodbv2.streamsadapter.processor.DynamoDBStreamsShardRecordProcessor;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Settlement;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.dynamodb.StreamRecords;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
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

/**
 * One shard's processor; see {@link PipelineProcessorFactory}. It submits each batch and returns, so
 * KCL goes on reading; batches settle in the pipeline meanwhile (without a flush of the shared pipeline,
 * which would make shards wait on each other), and each later call checkpoints over the batches that
 * settled, in order. It keeps the unsettled batches (up to {@link PipelineProcessorFactory.Builder#maxPendingRecords}
 * records, then it waits) so that it can submit again what was not acknowledged: KCL never hands a
 * batch over twice.
 */
final class PipelineShardProcessor implements DynamoDBStreamsShardRecordProcessor {
    private static final Logger LOG = LoggerFactory.getLogger(PipelineShardProcessor.class);
    private static final int CHECKPOINT_ATTEMPTS = 5;

    /** A submitted batch, its KCL sequence numbers, and its settlement. */
    private record Pending(List<ChangeEvent<Map<String, AttributeValue>>> events, List<String> sequences,
            CompletableFuture<BatchResult<Map<String, AttributeValue>>> done) {
    }

    private final Pipeline<Map<String, AttributeValue>> pipeline;
    private final Source source;
    private final Duration retryBackoff;
    private final int maxPendingRecords;
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    private int pendingRecords;
    private String shardId = StreamRecords.UNKNOWN_SHARD;
    private String lastAcknowledged;
    /** Counted down once the shard is given up: lease lost, or shutdown requested. */
    private final CountDownLatch stop = new CountDownLatch(1);

    PipelineShardProcessor(Pipeline<Map<String, AttributeValue>> pipeline, Source source, Duration retryBackoff,
            int maxPendingRecords) {
        this.pipeline = pipeline;
        this.source = source;
        this.retryBackoff = retryBackoff;
        this.maxPendingRecords = maxPendingRecords;
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
        if (stop.getCount() == 0) {
            return;
        }
        if (!records.isEmpty()) {
            List<ChangeEvent<Map<String, AttributeValue>>> events = StreamRecords.toEvents(records, source, shardId);
            pending.addLast(new Pending(events, sequences, pipeline.submit(events)));
            pendingRecords += events.size();
        }
        settle(input.checkpointer(), false);
        while (pendingRecords > maxPendingRecords && stop.getCount() > 0 && !pending.isEmpty()) {
            // Backpressure: a route buffers longer than this shard may run ahead. Only now is the shared
            // pipeline flushed, and only as far as the oldest batch needs.
            pipeline.flush();
            if (!awaitHead()) {
                return;
            }
            settle(input.checkpointer(), false);
        }
    }

    /**
     * Checkpoints over the settled batches at the head, in order; with {@code all}, waits for every
     * batch. A batch not fully acknowledged checkpoints its acknowledged prefix, then its unacknowledged
     * rest and every later batch are submitted again, in order, until acknowledged or the shard is given up.
     */
    private void settle(RecordProcessorCheckpointer checkpointer, boolean all) {
        String acknowledged = null;
        while (!pending.isEmpty() && stop.getCount() > 0) {
            Pending head = pending.peekFirst();
            if (!head.done().isDone() && (!all || !awaitHead())) {
                break;
            }
            Outcome outcome = outcome(head.events(), head.done());
            if (outcome.acknowledged() == head.events().size()) {
                pending.pollFirst();
                pendingRecords -= head.events().size();
                acknowledged = head.sequences().get(head.sequences().size() - 1);
                continue;
            }
            if (outcome.acknowledged() > 0) {
                acknowledged = head.sequences().get(outcome.acknowledged() - 1);
            }
            if (acknowledged != null && !checkpoint(checkpointer, acknowledged)) {
                return;
            }
            acknowledged = null;
            // Let everything submitted after it settle too, so nothing is in flight twice, then resubmit
            // the unacknowledged rest and all later batches, in order.
            pipeline.flush();
            List<ChangeEvent<Map<String, AttributeValue>>> events = new ArrayList<>(head.events().subList(
                    outcome.acknowledged(), head.events().size()));
            List<String> sequences = new ArrayList<>(head.sequences().subList(outcome.acknowledged(),
                    head.sequences().size()));
            pending.pollFirst();
            for (Pending later : pending) {
                if (!await(later.done())) {
                    return;
                }
                events.addAll(later.events());
                sequences.addAll(later.sequences());
            }
            pending.clear();
            pendingRecords = 0;
            LOG.warn("Shard {}: {} records not acknowledged, submitting them again in {}", shardId, events.size(),
                    retryBackoff);
            LOG.debug("Shard {}: the first unacknowledged record's reason: {}", shardId, outcome.reason());
            if (!pause()) {
                return;
            }
            resubmit(checkpointer, events, sequences);
            return;
        }
        if (acknowledged != null) {
            checkpoint(checkpointer, acknowledged);
        }
    }

    /** Submits events again (flushing, waiting) until every one is acknowledged or the shard is given up. */
    private void resubmit(RecordProcessorCheckpointer checkpointer, List<ChangeEvent<Map<String, AttributeValue>>> events,
            List<String> sequences) {
        int attempt = 1;
        while (!events.isEmpty() && stop.getCount() > 0) {
            attempt++;
            CompletableFuture<BatchResult<Map<String, AttributeValue>>> done = pipeline.submit(events);
            pipeline.flush();
            if (!await(done)) {
                return;
            }
            Outcome outcome = outcome(events, done);
            int acknowledged = outcome.acknowledged();
            if (acknowledged > 0 && !checkpoint(checkpointer, sequences.get(acknowledged - 1))) {
                return;
            }
            if (acknowledged == events.size()) {
                return;
            }
            if (attempt % 10 == 0) {
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

    /** Waits for the oldest batch; false if interrupted or the shard was given up meanwhile. */
    private boolean awaitHead() {
        return await(pending.peekFirst().done());
    }

    /** Waits for a settlement, looking at the shard's stop now and then; false if interrupted or given up. */
    private boolean await(CompletableFuture<?> done) {
        while (!done.isDone()) {
            try {
                if (stop.await(50, TimeUnit.MILLISECONDS)) {
                    return done.isDone();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** How many leading events of a batch every route acknowledged, and why the next one was not. */
    private record Outcome(int acknowledged, String reason) {
    }

    /** How far a settled batch was acknowledged. */
    private Outcome outcome(List<ChangeEvent<Map<String, AttributeValue>>> events,
            CompletableFuture<BatchResult<Map<String, AttributeValue>>> done) {
        BatchResult<Map<String, AttributeValue>> result;
        try {
            result = done.join();
        } catch (java.util.concurrent.CompletionException e) {
            // The pipeline's futures never fail. If one did, nothing counts as acknowledged: throwing
            // would make KCL go on past the batch.
            LOG.error("Shard {}: the pipeline failed a batch ({}); it will be submitted again", shardId,
                    e.getCause().getClass().getName());
            LOG.debug("Shard {}: the pipeline failed a batch", shardId, e.getCause());
            return new Outcome(0, "the pipeline failed: " + e.getCause());
        }
        Settlement settled = Settlement.of(events, result);
        return new Outcome(settled.acknowledged(), settled.reason().orElse(null));
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
        // Everything of the shard must be acknowledged before its end is: then KCL starts the children.
        pipeline.flush();
        settle(input.checkpointer(), true);
        if (stop.getCount() > 0 && pending.isEmpty()) {
            LOG.info("Shard {} ended; checkpointing its end so that KCL starts its children", shardId);
            checkpoint(input.checkpointer(), null);
        }
    }

    @Override
    public void shutdownRequested(ShutdownRequestedInput input) {
        // Checkpoint what settles now; what does not is read again by the next owner.
        pipeline.flush();
        for (Pending p : pending) {
            await(p.done());
        }
        giveUp();
        String acknowledged = null;
        for (Pending p : pending) {
            Outcome o = outcome(p.events(), p.done());
            if (o.acknowledged() > 0) {
                acknowledged = p.sequences().get(o.acknowledged() - 1);
            }
            if (o.acknowledged() < p.events().size()) {
                break;
            }
        }
        if (acknowledged != null) {
            lastAcknowledged = acknowledged;
        }
        if (lastAcknowledged != null) {
            checkpoint(input.checkpointer(), lastAcknowledged);
        }
    }
}
