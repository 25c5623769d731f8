package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.aws.internal.AwsErrors;
import io.cdcfanout.dynamodb.StreamRecords;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Supplier;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.DescribeStreamResponse;
import software.amazon.awssdk.services.dynamodb.model.ExpiredIteratorException;
import software.amazon.awssdk.services.dynamodb.model.GetRecordsResponse;
import software.amazon.awssdk.services.dynamodb.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.awssdk.services.dynamodb.model.ResourceNotFoundException;
import software.amazon.awssdk.services.dynamodb.model.Shard;
import software.amazon.awssdk.services.dynamodb.model.ShardIteratorType;
import software.amazon.awssdk.services.dynamodb.model.TrimmedDataAccessException;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/**
 * Reads a DynamoDB stream in this process and feeds a pipeline, for long-running containers
 * (Fargate, ECS, Kubernetes) and local runs. One thread reads every shard it owns; a parent shard is
 * read to its end, and all of it acknowledged, before its children start. New shards are found by
 * DescribeStream every {@link Builder#shardDiscoveryInterval}, and at once when a shard ends.
 *
 * <p><b>Delivery.</b> At least once. A shard's checkpoint moves only to a position below which the
 * pipeline acknowledged every record; after a crash the poller resumes after the checkpoint, so the
 * records in flight at the crash are delivered again. A batch the pipeline does not acknowledge
 * (a halted route, say) sends the shard back to its checkpoint after a pause.
 *
 * <p><b>Data loss.</b> Records the stream dropped before they were read (retention is 24 hours) are
 * reported to the listener and logged as an error, never skipped in silence; the
 * {@link DataLossPolicy} says whether the poller then stops or goes on.
 *
 * <p>{@link #close()} stops reading, flushes the pipeline, waits for what is in flight, saves the
 * checkpoints and gives up the shards. The pipeline itself stays open: its owner closes it.
 */
public final class StreamPoller implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StreamPoller.class);

    private final DynamoDbStreamsClient streams;
    private final String streamArn;
    private final Source source;
    private final Pipeline<Map<String, AttributeValue>> pipeline;
    private final CheckpointStore store;
    private final StartPosition startPosition;
    private final Duration pollInterval;
    private final Duration activePollInterval;
    private final Duration activeWindow;
    private final int recordsPerCall;
    private final int maxBatchesInFlight;
    private final Duration shardDiscoveryInterval;
    private final Duration maxBackoff;
    private final Duration closeTimeout;
    private final DataLossPolicy onDataLoss;
    private final PollerListener listener;
    private final String workerId;
    private final Clock clock;

    private final Map<String, ShardState> shards = new LinkedHashMap<>();
    private final LinkedBlockingQueue<Object> wakeups = new LinkedBlockingQueue<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Thread thread;
    private volatile boolean running;
    private volatile boolean abandoned;
    private Map<String, Checkpoint> stored = Map.of();
    private boolean firstDiscovery = true;
    private long nextDiscovery;
    private long storeRetryAt;

    private StreamPoller(Builder b, String streamArn) {
        this.streams = b.streams;
        this.streamArn = streamArn;
        this.source = StreamRecords.sourceOf(streamArn);
        this.pipeline = b.pipeline;
        this.store = b.store;
        this.startPosition = b.startPosition;
        this.pollInterval = b.pollInterval;
        this.activePollInterval = b.activePollInterval;
        this.activeWindow = b.activeWindow;
        this.recordsPerCall = b.recordsPerCall;
        this.maxBatchesInFlight = b.maxBatchesInFlight;
        this.shardDiscoveryInterval = b.shardDiscoveryInterval;
        this.maxBackoff = b.maxBackoff;
        this.closeTimeout = b.closeTimeout;
        this.onDataLoss = b.onDataLoss;
        this.listener = b.listener;
        this.workerId = b.workerId;
        this.clock = b.clock;
        this.thread = new Thread(this::run, "cdc-poller-" + source.table());
        this.thread.setDaemon(true);
    }

    /** A builder; the streams client, the pipeline and a stream ARN or table are required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts the reading thread; returns this.
     *
     * @throws IllegalStateException if started before
     */
    public StreamPoller start() {
        if (running || stopped.getCount() == 0) {
            throw new IllegalStateException("the poller was started before");
        }
        running = true;
        thread.start();
        return this;
    }

    /** The stream this poller reads. */
    public String streamArn() {
        return streamArn;
    }

    /** This poller's owner id in the checkpoint store. */
    public String workerId() {
        return workerId;
    }

    /** Why the poller stopped on its own (data loss under {@link DataLossPolicy#FAIL}, a lost shard), if it did. */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure.get());
    }

    /** Whether the reading thread has ended. */
    public boolean isStopped() {
        return stopped.getCount() == 0;
    }

    /** Waits up to {@code timeout} for the reading thread to end; true if it has. */
    public boolean awaitStop(Duration timeout) throws InterruptedException {
        return stopped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Stops, drains and checkpoints within the close timeout; idempotent. */
    @Override
    public void close() {
        running = false;
        wakeups.offer(Boolean.TRUE);
        if (thread.isAlive() && Thread.currentThread() != thread) {
            try {
                thread.join(closeTimeout.toMillis() + 5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Stops at once, like a crash: no drain, no checkpoint, no release. For tests of recovery. */
    void abandon() {
        abandoned = true;
        running = false;
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------ the loop

    private void run() {
        try {
            stored = new LinkedHashMap<>(store.load(streamArn));
            while (running) {
                long now = clock.millis();
                if (now >= nextDiscovery) {
                    // Set first: discover() brings it forward when it must try again sooner.
                    nextDiscovery = now + shardDiscoveryInterval.toMillis();
                    discover();
                }
                settle();
                long wake = now + shardDiscoveryInterval.toMillis();
                for (ShardState s : new ArrayList<>(shards.values())) {
                    if (!running) {
                        break;
                    }
                    if (readable(s) && s.inFlight.size() < maxBatchesInFlight) {
                        if (clock.millis() >= s.nextPollAt) {
                            poll(s);
                        }
                        if (!s.endReached && s.inFlight.size() < maxBatchesInFlight) {
                            wake = Math.min(wake, s.nextPollAt);
                        }
                    }
                }
                wake = Math.min(wake, nextDiscovery); // a finished shard asks for discovery at once
                for (ShardState s : shards.values()) {
                    if (s.pendingSave != null) {
                        wake = Math.min(wake, storeRetryAt);
                    }
                }
                long wait = wake - clock.millis();
                if (wait > 0 && running) {
                    wakeups.poll(wait, TimeUnit.MILLISECONDS);
                    wakeups.clear();
                }
            }
            if (!abandoned) {
                drain();
            }
        } catch (InterruptedException e) {
            if (!abandoned) {
                Thread.currentThread().interrupt();
                fail(new CdcException("the poller thread of " + streamArn + " was interrupted", e, true));
            }
        } catch (RuntimeException e) {
            if (!abandoned) {
                fail(e);
                drain();
            }
        } finally {
            running = false;
            stopped.countDown();
        }
    }

    private void fail(Throwable t) {
        if (failure.compareAndSet(null, t)) {
            LOG.error("The poller of {} stopped: {}", streamArn, t.getMessage(), t);
        }
    }

    /** Lets in-flight batches settle (flushing the pipeline), saves checkpoints and releases shards. */
    private void drain() {
        try {
            pipeline.flush();
        } catch (RuntimeException e) {
            LOG.warn("Flushing the pipeline on stop failed: {}", e.getClass().getName());
            LOG.debug("Flushing the pipeline on stop failed", e);
        }
        long deadline = clock.millis() + closeTimeout.toMillis();
        for (ShardState s : shards.values()) {
            for (InFlight f : s.inFlight) {
                long left = deadline - clock.millis();
                try {
                    f.future.get(Math.max(0, left), TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    LOG.warn("Stopping with batches of shard {} still unsettled; they will be read again", s.id);
                    break;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                } catch (ExecutionException e) {
                    break;
                }
            }
        }
        try {
            settle();
        } catch (RuntimeException e) {
            LOG.warn("Saving checkpoints on stop failed: {}", e.toString());
        }
        for (ShardState s : shards.values()) {
            if (s.owned) {
                try {
                    store.release(streamArn, s.id, workerId);
                } catch (RuntimeException e) {
                    LOG.warn("Releasing shard {} failed: {}", s.id, e.toString());
                }
            }
        }
    }

    // ------------------------------------------------------------------ shards

    private void discover() {
        List<Shard> found = new ArrayList<>();
        String start = null;
        do {
            String from = start;
            DescribeStreamResponse page = describe(() -> streams.describeStream(r -> r.streamArn(streamArn)
                    .exclusiveStartShardId(from)));
            if (page == null) {
                keepLeases(); // a throttled DescribeStream must not let the leases lapse
                return;
            }
            found.addAll(page.streamDescription().shards());
            start = page.streamDescription().lastEvaluatedShardId();
        } while (start != null);
        Set<String> present = new HashSet<>();
        for (Shard shard : found) {
            present.add(shard.shardId());
            if (!shards.containsKey(shard.shardId())) {
                ShardState s = new ShardState(shard);
                Checkpoint cp = stored.get(shard.shardId());
                if (cp != null) {
                    s.checkpoint = cp.sequenceNumber();
                    s.finished = cp.finished();
                } else if (firstDiscovery && startPosition == StartPosition.LATEST) {
                    if (shard.sequenceNumberRange().endingSequenceNumber() != null) {
                        s.finished = true; // closed before we started: nothing new in it
                    } else {
                        s.latest = true;
                    }
                }
                shards.put(shard.shardId(), s);
            }
        }
        // A checkpointed shard that vanished unfinished expired with unread records.
        for (Map.Entry<String, Checkpoint> e : stored.entrySet()) {
            if (!e.getValue().finished() && !present.contains(e.getKey()) && !shards.containsKey(e.getKey())) {
                ShardState gone = new ShardState(null, e.getKey());
                gone.finished = true;
                shards.put(e.getKey(), gone);
                dataLoss(gone, "shard " + e.getKey() + " expired from the stream before it was read to its end");
            }
        }
        firstDiscovery = false;
        keepLeases();
    }

    /**
     * Claims the eligible shards nobody holds and renews the ones this poller holds. A store that
     * fails transiently is tried again a second later; a lease lost to another poller gives up that
     * shard alone.
     */
    private void keepLeases() {
        for (ShardState s : shards.values()) {
            boolean renewing = s.owned && !s.finished;
            if (!renewing && (s.owned || !eligible(s))) {
                continue;
            }
            boolean held;
            try {
                held = store.claim(streamArn, s.id, workerId);
            } catch (CdcException e) {
                if (!e.retryable()) {
                    throw e;
                }
                LOG.warn("{} shard {} failed; trying again in a second: {}", renewing ? "Renewing the lease of"
                        : "Claiming", s.id, e.getMessage());
                nextDiscovery = Math.min(nextDiscovery, clock.millis() + 1_000);
                continue;
            }
            if (renewing && !held) {
                lose(s, "its lease was taken over by another poller");
            } else if (!renewing) {
                s.owned = held;
                if (held && s.lost) {
                    // Taken back after another poller held it: start from what that poller stored.
                    s.lost = false;
                    Checkpoint cp = store.load(streamArn).get(s.id);
                    s.checkpoint = cp == null ? null : cp.sequenceNumber();
                    s.finished = cp != null && cp.finished();
                    s.owned = !s.finished;
                }
                if (!held) {
                    LOG.info("Shard {} of {} is owned by another poller; leaving it", s.id, streamArn);
                }
            }
        }
    }

    /**
     * Gives up one shard whose lease another poller took: stops reading it and forgets its unsettled
     * batches (the new owner reads them again from the stored checkpoint), and keeps the others going.
     */
    private void lose(ShardState s, String why) {
        LOG.warn("Giving up shard {} of {}: {}", s.id, streamArn, why);
        s.owned = false;
        s.lost = true;
        s.generation++;
        s.inFlight.clear();
        s.iterator = null;
        s.lastRead = null;
        s.endReached = false;
        s.pendingSave = null;
        Checkpoint cp = stored.get(s.id);
        s.checkpoint = cp == null ? null : cp.sequenceNumber();
        safe(() -> listener.onShardLost(s.id, why));
    }

    /** Whether the shard may be read now: eligible and owned by this poller. */
    private boolean readable(ShardState s) {
        return s.owned && eligible(s);
    }

    /** Whether the shard is unfinished and its parent finished or gone. */
    private boolean eligible(ShardState s) {
        if (s.finished || s.shard == null) {
            return false;
        }
        String parent = s.shard.parentShardId();
        if (parent != null) {
            ShardState p = shards.get(parent);
            if (p != null && !p.finished) {
                return false;
            }
        }
        return true;
    }

    private void poll(ShardState s) throws InterruptedException {
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
            safe(() -> listener.onIteratorExpired(s.id, after));
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
                        + "opening a new one at the new horizon", s.id, streamArn);
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
        s.failures = 0;
        List<Record> records = resp.records();
        s.iterator = resp.nextShardIterator();
        boolean end = s.iterator == null;
        if (!records.isEmpty()) {
            List<ChangeEvent<Map<String, AttributeValue>>> events = StreamRecords.toEvents(records, source, s.id);
            String last = records.get(records.size() - 1).dynamodb().sequenceNumber();
            CompletableFuture<BatchResult<Map<String, AttributeValue>>> done = pipeline.submit(events);
            // Checkpoints keep the stream's own spelling of sequence numbers; Position drops leading zeros.
            List<String> sequences = new ArrayList<>(records.size());
            for (Record r : records) {
                String seq = r.dynamodb() == null ? null : r.dynamodb().sequenceNumber();
                sequences.add(seq == null ? last : seq);
            }
            InFlight f = new InFlight(s.generation, done, last, end, events, sequences);
            s.inFlight.add(f);
            done.whenComplete((r, t) -> wakeups.offer(f));
            s.lastRead = last;
            Duration lag = events.get(events.size() - 1).creationTime()
                    .map(t -> Duration.between(t, clock.instant())).orElse(Duration.ZERO);
            safe(() -> listener.onRecords(s.id, records.size(), lag));
            s.nextPollAt = clock.millis();
            s.lastRecordsAt = s.nextPollAt;
        } else {
            if (end) {
                s.inFlight.add(new InFlight(s.generation, CompletableFuture.completedFuture(null), null, true,
                        List.of(), List.of()));
            }
            // Adaptive: a shard that had records a moment ago is likely to have more soon.
            long now = clock.millis();
            boolean active = now - s.lastRecordsAt < activeWindow.toMillis();
            s.nextPollAt = now + (active ? activePollInterval : pollInterval).toMillis();
        }
        if (end) {
            s.endReached = true;
            nextDiscovery = 0; // children may be waiting
        }
    }

    private boolean openIterator(ShardState s) {
        GetShardIteratorRequest.Builder req = GetShardIteratorRequest.builder().streamArn(streamArn).shardId(s.id);
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
            safe(() -> listener.onShardStarted(s.id, from));
        }
        return s.iterator != null;
    }

    private void dataLoss(ShardState s, String reason) {
        if (s.atHorizon() && s.lossReported) {
            // Already reported and already at the oldest record: the shard holds nothing readable.
            if (s.shard.sequenceNumberRange().endingSequenceNumber() != null) {
                LOG.warn("Shard {} of {} is closed and entirely trimmed; moving on to its children", s.id, streamArn);
                finish(s);
            } else {
                s.nextPollAt = clock.millis() + pollInterval.toMillis();
            }
            return;
        }
        s.lossReported = true;
        DataLoss loss = new DataLoss(streamArn, s.id, s.checkpoint, reason);
        LOG.error("DATA LOSS on {} shard {}: records after sequence number {} can no longer be read ({}); policy {}",
                streamArn, s.id, s.checkpoint, reason, onDataLoss);
        safe(() -> listener.onDataLoss(loss));
        if (onDataLoss == DataLossPolicy.FAIL) {
            throw new CdcException("data loss on " + streamArn + " shard " + s.id + " after sequence number "
                    + s.checkpoint + ": " + reason + " (DataLossPolicy.FAIL)", false);
        }
        // CONTINUE: go on from the oldest record still there.
        s.lastRead = null;
        s.checkpoint = null;
        s.latest = false;
        s.iterator = null;
    }

    private void finish(ShardState s) {
        s.finished = true;
        save(s, Checkpoint.finished(s.checkpoint)); // releases the shard once stored
        nextDiscovery = 0;
        safe(() -> listener.onShardFinished(s.id));
    }

    /** Gives up a finished shard's lease; a failure only delays it to the lease's expiry. */
    private void release(ShardState s) {
        s.owned = false;
        try {
            store.release(streamArn, s.id, workerId);
        } catch (CdcException e) {
            LOG.warn("Releasing finished shard {} failed; its lease will lapse instead: {}", s.id, e.getMessage());
        }
    }

    /** Pauses a shard after a throttled or transient failure; a fatal one stops the poller. */
    private void backoff(ShardState s, SdkException e) {
        if (!AwsErrors.retryable(e)) {
            throw new CdcException("reading shard " + s.id + " of " + streamArn + " failed: " + AwsErrors.describe(e),
                    e, false);
        }
        long millis = pause(s);
        Duration d = Duration.ofMillis(millis);
        String why = AwsErrors.describe(e);
        LOG.debug("Shard {} backs off {} ms after {}", s.id, millis, why);
        safe(() -> listener.onBackoff(s.id, d, why));
    }

    /** Counts one more failure of the shard and schedules its next poll after an exponential pause. */
    private long pause(ShardState s) {
        s.failures++;
        long millis = Math.min(maxBackoff.toMillis(), 100L << Math.min(16, s.failures - 1));
        s.nextPollAt = clock.millis() + millis;
        return millis;
    }

    /** Checkpoints each shard past the batches that settled, in order. */
    private void settle() {
        for (ShardState s : shards.values()) {
            if (s.pendingSave != null && clock.millis() >= storeRetryAt && !storePending(s)) {
                continue;
            }
            while (!s.inFlight.isEmpty() && s.inFlight.peekFirst().future.isDone()) {
                InFlight f = s.inFlight.pollFirst();
                if (f.generation != s.generation) {
                    continue; // read before a rewind: the rewind reads it again
                }
                BatchResult<Map<String, AttributeValue>> result = f.future.join();
                if (result != null && !result.succeeded()) {
                    Position partial = result.checkpoints().get(s.id);
                    if (partial != null) {
                        // Save the stream's own spelling (with its leading zeros) of the acknowledged position.
                        for (int i = 0; i < f.events.size(); i++) {
                            if (f.events.get(i).position().equals(partial)) {
                                save(s, Checkpoint.after(f.sequences.get(i)));
                            }
                        }
                    }
                    rewind(s, result.failures().get(0).reason());
                    break;
                }
                if (f.lastSequence != null) {
                    s.checkpoint = f.lastSequence;
                }
                if (f.end) {
                    finish(s);
                } else if (s.inFlight.isEmpty() || !s.inFlight.peekFirst().future.isDone()) {
                    save(s, Checkpoint.after(s.checkpoint));
                }
            }
        }
    }

    /** Records the checkpoint and stores it now, or later if the store fails transiently. */
    private void save(ShardState s, Checkpoint cp) {
        s.checkpoint = cp.sequenceNumber();
        s.pendingSave = cp;
        storePending(s);
    }

    /**
     * Stores the shard's pending checkpoint; false if the store failed transiently (it is tried
     * again a second later, and reading goes on meanwhile).
     *
     * @throws CdcException if the store fails for good (another owner took the shard)
     */
    private boolean storePending(ShardState s) {
        Checkpoint cp = s.pendingSave;
        if (cp == null) {
            return true;
        }
        try {
            store.save(streamArn, s.id, workerId, cp);
        } catch (CdcException e) {
            if (!e.retryable()) {
                lose(s, "saving its checkpoint failed for good (" + e.getMessage() + ")");
                return false;
            }
            LOG.warn("Saving the checkpoint of shard {} failed; trying again in a second: {}", s.id, e.getMessage());
            storeRetryAt = clock.millis() + 1_000;
            return false;
        }
        s.pendingSave = null;
        safe(() -> listener.onCheckpoint(s.id, cp));
        if (s.finished && s.owned) {
            release(s); // its final save had been deferred
        }
        return true;
    }

    private void rewind(ShardState s, String reason) {
        s.generation++;
        s.inFlight.clear();
        s.iterator = null;
        s.lastRead = null;
        s.endReached = false;
        long millis = pause(s);
        // The reason may quote item data (a sink's message): DEBUG only.
        LOG.warn("A batch of shard {} was not acknowledged; reading again after checkpoint {} in {} ms", s.id,
                s.checkpoint, millis);
        LOG.debug("Shard {} rewinds because: {}", s.id, reason);
        safe(() -> listener.onRewind(s.id, s.checkpoint, reason));
    }

    /** A DescribeStream call; null (and a retry a second later) when throttled or transiently failed. */
    private <R> R describe(Supplier<R> call) {
        try {
            return call.get();
        } catch (SdkException e) {
            if (AwsErrors.retryable(e)) {
                LOG.warn("DescribeStream failed ({}); trying again in a second", AwsErrors.describe(e));
                nextDiscovery = clock.millis() + 1_000;
                return null;
            }
            throw new CdcException("DescribeStream of " + streamArn + " failed: " + AwsErrors.describe(e), e, false);
        }
    }

    private void safe(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            LOG.warn("A poller listener threw {}; ignored", e.getClass().getName());
            LOG.debug("A poller listener threw", e);
        }
    }

    /** What the poller knows of one shard; touched only by the poller thread. */
    private static final class ShardState {
        final Shard shard;
        final String id;
        final ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
        String checkpoint;
        String lastRead;
        String iterator;
        boolean finished;
        boolean latest;
        boolean endReached;
        boolean owned;
        boolean started;
        boolean lost;
        boolean lossReported;
        boolean horizonReopened;
        Checkpoint pendingSave;
        int generation;
        int failures;
        long nextPollAt;
        long lastRecordsAt = Long.MIN_VALUE / 2;

        ShardState(Shard shard) {
            this(shard, shard.shardId());
        }

        ShardState(Shard shard, String id) {
            this.shard = shard;
            this.id = id;
        }

        /** Whether reading starts at TRIM_HORIZON: nothing read, no checkpoint, not LATEST. */
        boolean atHorizon() {
            return shard != null && resumeAfter() == null && !latest;
        }

        /** Where to read from after a new iterator: the last record read, else the checkpoint. */
        String resumeAfter() {
            return lastRead != null ? lastRead : checkpoint;
        }
    }

    private record InFlight(int generation, CompletableFuture<BatchResult<Map<String, AttributeValue>>> future,
            String lastSequence, boolean end, List<ChangeEvent<Map<String, AttributeValue>>> events,
            List<String> sequences) {
    }

    /** Builds a {@link StreamPoller}; reusable. */
    public static final class Builder {
        /** Default for {@link #pollInterval}, in milliseconds. */
        public static final long DEFAULT_POLL_INTERVAL_MILLIS = 250;
        /** Default for {@link #recordsPerCall}; also the most GetRecords allows. */
        public static final int DEFAULT_RECORDS_PER_CALL = 1000;
        /** Default for {@link #maxBatchesInFlight}. */
        public static final int DEFAULT_MAX_BATCHES_IN_FLIGHT = 8;
        /** Default for {@link #shardDiscoveryInterval}, in milliseconds. */
        public static final long DEFAULT_SHARD_DISCOVERY_MILLIS = 10_000;
        /** Default for {@link #closeTimeout}, in milliseconds. */
        public static final long DEFAULT_CLOSE_TIMEOUT_MILLIS = 30_000;
        /** Default for {@link #maxBackoff}, in milliseconds. */
        public static final long DEFAULT_MAX_BACKOFF_MILLIS = 10_000;
        /** Default for {@link #activePollInterval}, in milliseconds. */
        public static final long DEFAULT_ACTIVE_POLL_INTERVAL_MILLIS = 50;
        /** Default for {@link #activeWindow}, in milliseconds. */
        public static final long DEFAULT_ACTIVE_WINDOW_MILLIS = 2_000;

        private DynamoDbStreamsClient streams;
        private DynamoDbClient dynamoDb;
        private String streamArn;
        private String table;
        private Pipeline<Map<String, AttributeValue>> pipeline;
        private CheckpointStore store;
        private StartPosition startPosition = StartPosition.TRIM_HORIZON;
        private Duration pollInterval = Duration.ofMillis(DEFAULT_POLL_INTERVAL_MILLIS);
        private Duration activePollInterval = Duration.ofMillis(DEFAULT_ACTIVE_POLL_INTERVAL_MILLIS);
        private Duration activeWindow = Duration.ofMillis(DEFAULT_ACTIVE_WINDOW_MILLIS);
        private int recordsPerCall = DEFAULT_RECORDS_PER_CALL;
        private int maxBatchesInFlight = DEFAULT_MAX_BATCHES_IN_FLIGHT;
        private Duration shardDiscoveryInterval = Duration.ofMillis(DEFAULT_SHARD_DISCOVERY_MILLIS);
        private Duration maxBackoff = Duration.ofMillis(DEFAULT_MAX_BACKOFF_MILLIS);
        private Duration closeTimeout = Duration.ofMillis(DEFAULT_CLOSE_TIMEOUT_MILLIS);
        private DataLossPolicy onDataLoss = DataLossPolicy.FAIL;
        private PollerListener listener = new PollerListener() {
        };
        private String workerId;
        private Clock clock = Clock.systemUTC();

        private Builder() {
        }

        /** The DynamoDB Streams client; the poller does not close it. Required. */
        public Builder streamsClient(DynamoDbStreamsClient streams) {
            this.streams = Objects.requireNonNull(streams, "streamsClient must not be null");
            return this;
        }

        /** The stream to read. Give this or {@link #table}. */
        public Builder streamArn(String streamArn) {
            StreamRecords.sourceOf(streamArn);
            this.streamArn = streamArn;
            return this;
        }

        /** The table whose latest stream to read, looked up with {@code client} at build time. */
        public Builder table(String table, DynamoDbClient client) {
            this.table = Objects.requireNonNull(table, "table must not be null");
            this.dynamoDb = Objects.requireNonNull(client, "client must not be null");
            return this;
        }

        /** The pipeline to feed; the poller does not close it. Required. */
        public Builder pipeline(Pipeline<Map<String, AttributeValue>> pipeline) {
            this.pipeline = Objects.requireNonNull(pipeline, "pipeline must not be null");
            return this;
        }

        /** Where checkpoints live; {@link CheckpointStore#inMemory()} by default. */
        public Builder checkpointStore(CheckpointStore store) {
            this.store = Objects.requireNonNull(store, "checkpointStore must not be null");
            return this;
        }

        /** Where to start a shard without a checkpoint; TRIM_HORIZON by default. */
        public Builder startPosition(StartPosition startPosition) {
            this.startPosition = Objects.requireNonNull(startPosition, "startPosition must not be null");
            return this;
        }

        /**
         * The pause after a GetRecords call that returned nothing, on a shard that has been quiet for
         * {@link #activeWindow}; default {@value #DEFAULT_POLL_INTERVAL_MILLIS} ms. While records keep
         * coming the poller calls again at once.
         */
        public Builder pollInterval(Duration pollInterval) {
            this.pollInterval = positive("pollInterval", pollInterval);
            return this;
        }

        /**
         * The pause after an empty GetRecords call on a shard that returned records within
         * {@link #activeWindow}: a busy shard is polled more often, which cuts latency. Zero calls again
         * at once. Default {@value #DEFAULT_ACTIVE_POLL_INTERVAL_MILLIS} ms, never longer than
         * {@link #pollInterval}.
         * Against DynamoDB, every call counts toward the shard's read rate (shared by at most two
         * readers); throttling is met with backoff.
         */
        public Builder activePollInterval(Duration activePollInterval) {
            Objects.requireNonNull(activePollInterval, "activePollInterval must not be null");
            if (activePollInterval.isNegative()) {
                throw new IllegalArgumentException("activePollInterval must not be negative (was " + activePollInterval
                        + ")");
            }
            this.activePollInterval = activePollInterval;
            return this;
        }

        /**
         * How long after its last records a shard counts as active; default
         * {@value #DEFAULT_ACTIVE_WINDOW_MILLIS} ms.
         */
        public Builder activeWindow(Duration activeWindow) {
            this.activeWindow = positive("activeWindow", activeWindow);
            return this;
        }

        /** The GetRecords limit: 1 to 1000; default {@value #DEFAULT_RECORDS_PER_CALL}. */
        public Builder recordsPerCall(int recordsPerCall) {
            if (recordsPerCall < 1 || recordsPerCall > 1000) {
                throw new IllegalArgumentException("recordsPerCall must be between 1 and 1000 (was " + recordsPerCall
                        + ")");
            }
            this.recordsPerCall = recordsPerCall;
            return this;
        }

        /**
         * How many submitted batches of one shard may wait for acknowledgement: 1 to 1000; default
         * {@value #DEFAULT_MAX_BATCHES_IN_FLIGHT}.
         */
        public Builder maxBatchesInFlight(int maxBatchesInFlight) {
            if (maxBatchesInFlight < 1 || maxBatchesInFlight > 1000) {
                throw new IllegalArgumentException("maxBatchesInFlight must be between 1 and 1000 (was "
                        + maxBatchesInFlight + ")");
            }
            this.maxBatchesInFlight = maxBatchesInFlight;
            return this;
        }

        /** How often to look for new shards; default {@value #DEFAULT_SHARD_DISCOVERY_MILLIS} ms. */
        public Builder shardDiscoveryInterval(Duration interval) {
            this.shardDiscoveryInterval = positive("shardDiscoveryInterval", interval);
            return this;
        }

        /** The longest pause after throttling or a rewind; 10 s by default. */
        public Builder maxBackoff(Duration maxBackoff) {
            this.maxBackoff = positive("maxBackoff", maxBackoff);
            return this;
        }

        /** How long {@link StreamPoller#close()} waits for in-flight batches; default {@value #DEFAULT_CLOSE_TIMEOUT_MILLIS} ms. */
        public Builder closeTimeout(Duration closeTimeout) {
            this.closeTimeout = positive("closeTimeout", closeTimeout);
            return this;
        }

        /** What to do after data loss; {@link DataLossPolicy#FAIL} by default. */
        public Builder onDataLoss(DataLossPolicy policy) {
            this.onDataLoss = Objects.requireNonNull(policy, "onDataLoss must not be null");
            return this;
        }

        /** Progress, checkpoints and data loss. */
        public Builder listener(PollerListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener must not be null");
            return this;
        }

        /**
         * This poller's owner id in the checkpoint store; keep it stable across restarts so a restarted
         * poller takes its shards back at once. A random id by default.
         */
        public Builder workerId(String workerId) {
            Objects.requireNonNull(workerId, "workerId must not be null");
            if (workerId.isBlank()) {
                throw new IllegalArgumentException("workerId must not be blank");
            }
            this.workerId = workerId;
            return this;
        }

        /** The clock for lag and poll timing; the system UTC clock by default. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock must not be null");
            return this;
        }

        private static Duration positive(String name, Duration d) {
            Objects.requireNonNull(d, name + " must not be null");
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + " must be positive (was " + d + ")");
            }
            return d;
        }

        /**
         * A poller, not yet started.
         *
         * @throws IllegalStateException if a required setting is missing, or both or neither of a stream
         *     ARN and a table are given
         * @throws CdcException if the table has no stream
         */
        public StreamPoller build() {
            if (streams == null) {
                throw new IllegalStateException("streamsClient is required");
            }
            if (pipeline == null) {
                throw new IllegalStateException("pipeline is required");
            }
            if ((streamArn == null) == (table == null)) {
                throw new IllegalStateException("give exactly one of streamArn and table");
            }
            String arn = streamArn;
            if (arn == null) {
                try {
                    arn = dynamoDb.describeTable(r -> r.tableName(table)).table().latestStreamArn();
                } catch (SdkException e) {
                    throw new CdcException("cannot describe table '" + table + "': " + e.getMessage(), e,
                            e.retryable());
                }
                if (arn == null) {
                    throw new CdcException("table '" + table + "' has no stream; enable one (NEW_AND_OLD_IMAGES "
                            + "keeps the most)", false);
                }
            }
            Builder copy = copy();
            return new StreamPoller(copy, arn);
        }

        private Builder copy() {
            Builder b = new Builder();
            b.streams = streams;
            b.pipeline = pipeline;
            b.store = store == null ? CheckpointStore.inMemory() : store;
            b.startPosition = startPosition;
            b.pollInterval = pollInterval;
            b.activePollInterval = activePollInterval.compareTo(pollInterval) < 0 ? activePollInterval : pollInterval;
            b.activeWindow = activeWindow;
            b.recordsPerCall = recordsPerCall;
            b.maxBatchesInFlight = maxBatchesInFlight;
            b.shardDiscoveryInterval = shardDiscoveryInterval;
            b.maxBackoff = maxBackoff;
            b.closeTimeout = closeTimeout;
            b.onDataLoss = onDataLoss;
            b.listener = listener;
            b.workerId = workerId == null ? "poller-" + UUID.randomUUID() : workerId;
            b.clock = clock;
            return b;
        }
    }
}
