package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.aws.internal.AwsErrors;
import io.cdcfanout.dynamodb.StreamRecords;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ExpiredIteratorException;
import software.amazon.awssdk.services.dynamodb.model.GetRecordsResponse;
import software.amazon.awssdk.services.dynamodb.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.awssdk.services.dynamodb.model.ResourceNotFoundException;
import software.amazon.awssdk.services.dynamodb.model.ShardIteratorType;
import software.amazon.awssdk.services.dynamodb.model.TrimmedDataAccessException;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/**
 * Reads one shard at a time: opens iterators (after the last record read or the checkpoint, at LATEST,
 * or at TRIM_HORIZON), calls GetRecords, maps the records and submits them to the pipeline. An expired
 * iterator is reopened after the last record; trimmed records and vanished shards are data loss, which
 * the {@link DataLossPolicy} decides; throttling and transient errors pause the shard (through the
 * {@link Pacer}); a fatal error stops the poller. Touched only by the poller thread.
 */
final class ShardReader {
    private static final Logger LOG = LoggerFactory.getLogger(ShardReader.class);

    private final PollerContext ctx;
    private final DynamoDbStreamsClient streams;
    private final Pipeline<Map<String, AttributeValue>> pipeline;
    private final int recordsPerCall;
    private final DataLossPolicy onDataLoss;
    private final Pacer pacer;
    private final Consumer<ShardState.InFlight> onSettled;
    private final Consumer<ShardState> onEmptyEnd;

    /**
     * @param onSettled called (on a pipeline thread) when a submitted batch settles
     * @param onEmptyEnd called when a closed shard is found to hold nothing more to read
     */
    ShardReader(PollerContext ctx, DynamoDbStreamsClient streams, Pipeline<Map<String, AttributeValue>> pipeline,
            int recordsPerCall, DataLossPolicy onDataLoss, Pacer pacer, Consumer<ShardState.InFlight> onSettled,
            Consumer<ShardState> onEmptyEnd) {
        this.ctx = ctx;
        this.streams = streams;
        this.pipeline = pipeline;
        this.recordsPerCall = recordsPerCall;
        this.onDataLoss = onDataLoss;
        this.pacer = pacer;
        this.onSettled = onSettled;
        this.onEmptyEnd = onEmptyEnd;
    }

    /**
     * Reads the shard once and submits what came.
     *
     * @throws CdcException if reading fails for good, or on data loss under {@link DataLossPolicy#FAIL}
     */
    void poll(ShardState s) {
        if (s.iterator == null && !openIterator(s)) {
            return;
        }
        String iterator = s.iterator;
        GetRecordsResponse resp;
        try {
            resp = streams.getRecords(r -> r.shardIterator(iterator).limit(recordsPerCall));
        } catch (ExpiredIteratorException e) {
            LOG.info("The iterator of shard {} expired; resuming after {}", s.id, s.resumeAfter());
            String after = s.resumeAfter();
            ctx.tell(l -> l.onIteratorExpired(s.id, after));
            s.iterator = null;
            return;
        } catch (TrimmedDataAccessException e) {
            s.iterator = null;
            if (s.atHorizon() && !s.lossReported && !s.horizonReopened) {
                // Nothing read and no checkpoint: the iterator was opened at TRIM_HORIZON, the oldest record
                // there is, and its start was trimmed before the first read (DynamoDB Local does this on a
                // fresh stream now and then). The new horizon is still "the oldest record there is".
                s.horizonReopened = true;
                LOG.warn("Shard {} of {}: the TRIM_HORIZON iterator's start was trimmed before the first read; "
                        + "opening a new one at the new horizon", s.id, ctx.streamArn);
                return;
            }
            dataLoss(s, "GetRecords: " + e.getMessage());
            return;
        } catch (ResourceNotFoundException e) {
            s.iterator = null;
            dataLoss(s, "the shard is gone: " + e.getMessage());
            return;
        } catch (SdkException e) {
            backoff(s, e);
            return;
        }
        List<Record> records = resp.records();
        s.iterator = resp.nextShardIterator();
        boolean end = s.iterator == null;
        long now = ctx.now();
        if (!records.isEmpty()) {
            submit(s, records, end);
            pacer.records(s, now);
        } else {
            if (end) {
                s.inFlight.add(new ShardState.InFlight(s.generation, CompletableFuture.completedFuture(null), null,
                        true, List.of(), List.of()));
            }
            pacer.empty(s, now);
        }
        if (end) {
            s.endReached = true;
            ctx.discoverBy(0); // children may be waiting
        }
    }

    private void submit(ShardState s, List<Record> records, boolean end) {
        List<ChangeEvent<Map<String, AttributeValue>>> events = StreamRecords.toEvents(records, ctx.source, s.id);
        String last = records.get(records.size() - 1).dynamodb() == null ? null
                : records.get(records.size() - 1).dynamodb().sequenceNumber();
        if (last == null) {
            last = events.get(events.size() - 1).position().sequenceNumber();
        }
        CompletableFuture<BatchResult<Map<String, AttributeValue>>> done = pipeline.submit(events);
        // Checkpoints keep the stream's own spelling of sequence numbers; Position drops leading zeros.
        List<String> sequences = new ArrayList<>(records.size());
        for (int i = 0; i < records.size(); i++) {
            Record r = records.get(i);
            String seq = r.dynamodb() == null ? null : r.dynamodb().sequenceNumber();
            sequences.add(seq == null ? events.get(i).position().sequenceNumber() : seq);
        }
        ShardState.InFlight f = new ShardState.InFlight(s.generation, done, last, end, events, sequences);
        s.inFlight.add(f);
        s.inFlightRecords += records.size();
        done.whenComplete((r, t) -> onSettled.accept(f));
        s.lastRead = last;
        events.get(events.size() - 1).creationTime().ifPresent(t -> s.lastRecordCreatedAt = t.toEpochMilli());
        Duration lag = events.get(events.size() - 1).creationTime()
                .map(t -> Duration.between(t, ctx.clock.instant())).orElse(Duration.ZERO);
        ctx.tell(l -> l.onRecords(s.id, records.size(), lag));
    }

    private boolean openIterator(ShardState s) {
        GetShardIteratorRequest.Builder req = GetShardIteratorRequest.builder().streamArn(ctx.streamArn).shardId(s.id);
        String from;
        String after = s.resumeAfter();
        if (after != null) {
            req.shardIteratorType(ShardIteratorType.AFTER_SEQUENCE_NUMBER).sequenceNumber(after);
            from = "after " + after;
        } else if (s.latest) {
            req.shardIteratorType(ShardIteratorType.LATEST);
            from = "LATEST";
        } else {
            req.shardIteratorType(ShardIteratorType.TRIM_HORIZON);
            from = "TRIM_HORIZON";
        }
        try {
            s.iterator = streams.getShardIterator(req.build()).shardIterator();
        } catch (TrimmedDataAccessException e) {
            dataLoss(s, "GetShardIterator " + from + ": " + e.getMessage());
            return false;
        } catch (ResourceNotFoundException e) {
            dataLoss(s, "the shard is gone: " + e.getMessage());
            return false;
        } catch (SdkException e) {
            backoff(s, e);
            return false;
        }
        if (!s.started) {
            s.started = true;
            ctx.tell(l -> l.onShardStarted(s.id, from));
        }
        return s.iterator != null;
    }

    /**
     * Reports records that can no longer be read; under {@link DataLossPolicy#CONTINUE} the shard goes on
     * from the oldest record still there.
     *
     * @throws CdcException under {@link DataLossPolicy#FAIL}
     */
    void dataLoss(ShardState s, String reason) {
        if (s.atHorizon() && s.lossReported) {
            // Already reported and already at the oldest record: the shard holds nothing readable.
            if (s.shard.sequenceNumberRange().endingSequenceNumber() != null) {
                LOG.warn("Shard {} of {} is closed and entirely trimmed; moving on to its children", s.id,
                        ctx.streamArn);
                onEmptyEnd.accept(s);
            } else {
                pacer.idle(s, ctx.now());
            }
            return;
        }
        s.lossReported = true;
        DataLoss loss = new DataLoss(ctx.streamArn, s.id, s.checkpoint, reason);
        LOG.error("DATA LOSS on {} shard {}: records after sequence number {} can no longer be read ({}); policy {}",
                ctx.streamArn, s.id, s.checkpoint, reason, onDataLoss);
        ctx.tell(l -> l.onDataLoss(loss));
        if (onDataLoss == DataLossPolicy.FAIL) {
            throw new CdcException("data loss on " + ctx.streamArn + " shard " + s.id + " after sequence number "
                    + s.checkpoint + ": " + reason + " (DataLossPolicy.FAIL)", false);
        }
        // CONTINUE: go on from the oldest record still there.
        s.lastRead = null;
        s.checkpoint = null;
        s.latest = false;
        s.iterator = null;
    }

    /** Pauses a shard after a throttled or transient failure; a fatal one stops the poller. */
    private void backoff(ShardState s, SdkException e) {
        String why = AwsErrors.describe(e);
        if (!AwsErrors.retryable(e)) {
            throw new CdcException("reading shard " + s.id + " of " + ctx.streamArn + " failed: " + why, e, false);
        }
        long millis = pacer.pause(s, ctx.now());
        Duration d = Duration.ofMillis(millis);
        LOG.debug("Shard {} backs off {} ms after {}", s.id, millis, why);
        ctx.tell(l -> l.onBackoff(s.id, d, why));
    }
}
