package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.aws.internal.AwsErrors;
import io.cdcfanout.dynamodb.StreamRecords;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Set;
import java.util.function.Supplier;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
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
import software.amazon.awssdk.services.dynamodb.model.Shard;
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
    private final Pipeline<Map<String, AttributeValue>> pipeline;
    private final CheckpointStore store;
    private final StartPosition startPosition;
    private final int maxRecordsInFlight;
    private final Duration shardDiscoveryInterval;
    private final Duration closeTimeout;
    private final String workerId;
    private final Clock clock;
    private final PollerContext ctx;
    private final Pacer pacer;
    private final LeaseKeeper leases;
    private final LeaseRenewer renewer;
    private final java.util.concurrent.ScheduledExecutorService leaseTimer;
    private final boolean ownsLeaseTimer;
    private final long leaseRenewMillis;
    private final Checkpointer checkpointer;
    private final ShardReader reader;

    private final LinkedBlockingQueue<Object> wakeups = new LinkedBlockingQueue<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Thread thread;
    private volatile boolean running;
    private volatile boolean abandoned;
    private ShardCatalog catalog;
    /** The shards' state as of the reading thread's last pass, for {@link #stats()}. */
    private volatile List<ShardSnapshot> published = List.of();

    /** One shard's state at a pass: times in clock millis, MIN_VALUE for never. */
    private record ShardSnapshot(String shardId, boolean owned, boolean finished, int recordsInFlight,
            long checkpointSavedAt, long lastRecordCreatedAt) {
    }

    private StreamPoller(Builder b, String streamArn) {
        this.streams = b.streams;
        this.streamArn = streamArn;
        Source source = StreamRecords.sourceOf(streamArn);
        this.pipeline = b.pipeline;
        this.store = b.store;
        this.startPosition = b.startPosition;
        this.maxRecordsInFlight = b.maxRecordsInFlight;
        this.shardDiscoveryInterval = b.shardDiscoveryInterval;
        this.closeTimeout = b.closeTimeout;
        this.workerId = b.workerId;
        this.clock = b.clock;
        this.ctx = new PollerContext(streamArn, source, b.workerId, b.clock, b.listener);
        this.pacer = new Pacer(b.pollInterval, b.activePollInterval, b.activeWindow, b.maxBackoff);
        this.leaseRenewMillis = b.leaseRenewInterval == null ? 0 : b.leaseRenewInterval.toMillis();
        this.renewer = leaseRenewMillis == 0 ? null
                : new LeaseRenewer(streamArn, b.workerId, store, () -> wakeups.offer(Boolean.TRUE));
        this.ownsLeaseTimer = renewer != null && b.leaseTimer == null;
        this.leaseTimer = renewer == null ? null : ownsLeaseTimer
                ? java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "cdc-poller-" + source.table() + "-leases");
                    t.setDaemon(true);
                    return t;
                })
                : b.leaseTimer;
        this.leases = new LeaseKeeper(ctx, store, renewer);
        this.checkpointer = new Checkpointer(ctx, store, leases, pacer);
        this.reader = new ShardReader(ctx, streams, pipeline, b.recordsPerCall, b.onDataLoss, pacer, wakeups::offer,
                checkpointer::finish);
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
        if (renewer != null) {
            renewer.start(leaseTimer, leaseRenewMillis);
        }
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

    /**
     * What the poller holds now, per shard: lease, records in flight, checkpoint age and iterator age,
     * as of the reading thread's last pass; ages are measured on the poller's clock now. For gauges.
     */
    public PollerStats stats() {
        long now = clock.millis();
        java.util.List<PollerStats.ShardStats> shards = new java.util.ArrayList<>();
        for (ShardSnapshot s : published) {
            shards.add(new PollerStats.ShardStats(s.shardId(), s.owned(), s.finished(), s.recordsInFlight(),
                    s.checkpointSavedAt() == Long.MIN_VALUE ? Optional.empty()
                            : Optional.of(Duration.ofMillis(Math.max(0, now - s.checkpointSavedAt()))),
                    s.lastRecordCreatedAt() == Long.MIN_VALUE ? Optional.empty()
                            : Optional.of(Duration.ofMillis(Math.max(0, now - s.lastRecordCreatedAt())))));
        }
        return new PollerStats(shards);
    }

    private void publish() {
        java.util.List<ShardSnapshot> shards = new java.util.ArrayList<>();
        for (ShardState s : catalog.all()) {
            shards.add(new ShardSnapshot(s.id, s.owned, s.finished, s.inFlightRecords, s.checkpointSavedAt,
                    s.lastRecordCreatedAt));
        }
        published = List.copyOf(shards);
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
            Map<String, Checkpoint> stored = loadCheckpoints();
            if (stored == null) {
                return; // stopped while the store was unreachable
            }
            catalog = new ShardCatalog(stored, startPosition);
            while (running) {
                leases.collectLost(catalog);
                long now = clock.millis();
                if (now >= ctx.nextDiscovery()) {
                    // Set first: discovery brings it forward when it must try again sooner.
                    ctx.discoverAt(now + shardDiscoveryInterval.toMillis());
                    discover();
                }
                checkpointer.settle(catalog);
                long wake = now + shardDiscoveryInterval.toMillis();
                for (ShardState s : catalog.all()) {
                    if (!running) {
                        break;
                    }
                    if (catalog.readable(s) && s.inFlightRecords < maxRecordsInFlight) {
                        if (clock.millis() >= s.nextPollAt) {
                            reader.poll(s);
                        }
                        if (!s.endReached && s.inFlightRecords < maxRecordsInFlight) {
                            wake = Math.min(wake, s.nextPollAt);
                        }
                    }
                }
                publish();
                wake = Math.min(wake, ctx.nextDiscovery()); // a finished shard asks for discovery at once
                if (checkpointer.pending(catalog)) {
                    wake = Math.min(wake, checkpointer.storeRetryAt());
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
            if (renewer != null) {
                renewer.stop();
            }
            if (ownsLeaseTimer) {
                leaseTimer.shutdownNow();
            }
            stopped.countDown();
        }
    }

    /**
     * The stored checkpoints; a transient store failure is retried with backoff (up to
     * {@link Builder#maxBackoff}) for as long as the poller runs. Null if stopped first.
     *
     * @throws CdcException if the store fails for good
     */
    private Map<String, Checkpoint> loadCheckpoints() throws InterruptedException {
        long pause = LeaseKeeper.RETRY_MILLIS;
        while (running) {
            try {
                return store.load(streamArn);
            } catch (CdcException e) {
                if (!e.retryable()) {
                    throw e;
                }
                LOG.warn("Reading the checkpoints of {} failed; trying again in {} ms: {}", streamArn, pause,
                        e.getMessage());
                wakeups.poll(pause, TimeUnit.MILLISECONDS);
                pause = Math.min(pause * 2, pacer.maxBackoffMillis());
            }
        }
        return null;
    }

    private void fail(Throwable t) {
        if (failure.compareAndSet(null, t)) {
            LOG.error("The poller of {} stopped: {}", streamArn, t.getMessage(), t);
        }
    }

    /** Lets in-flight batches settle (flushing the pipeline), saves checkpoints and releases shards. */
    private void drain() {
        if (catalog == null) {
            return;
        }
        try {
            pipeline.flush();
        } catch (RuntimeException e) {
            LOG.warn("Flushing the pipeline on stop failed: {}", e.getClass().getName());
            LOG.debug("Flushing the pipeline on stop failed", e);
        }
        long deadline = clock.millis() + closeTimeout.toMillis();
        for (ShardState s : catalog.view()) {
            for (ShardState.InFlight f : s.inFlight) {
                long left = deadline - clock.millis();
                try {
                    f.future().get(Math.max(0, left), TimeUnit.MILLISECONDS);
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
            checkpointer.settle(catalog);
        } catch (RuntimeException e) {
            LOG.warn("Saving checkpoints on stop failed: {}", e.getClass().getName());
        }
        leases.releaseAll(catalog);
    }

    /** Lists the stream's shards into the catalog, reports vanished ones, and keeps the leases. */
    private void discover() {
        List<Shard> found = new ArrayList<>();
        String start = null;
        do {
            String from = start;
            DescribeStreamResponse page = describe(() -> streams.describeStream(r -> r.streamArn(streamArn)
                    .exclusiveStartShardId(from)));
            if (page == null) {
                leases.keep(catalog); // a throttled DescribeStream must not let the leases lapse
                return;
            }
            found.addAll(page.streamDescription().shards());
            start = page.streamDescription().lastEvaluatedShardId();
        } while (start != null);
        for (ShardState gone : catalog.merge(found)) {
            reader.dataLoss(gone, "shard " + gone.id + " expired from the stream before it was read to its end");
        }
        leases.keep(catalog);
        forgetDeparted(found);
    }

    /**
     * Drops the checkpoints of finished shards that left the stream, so the store and the catalog stay
     * bounded however many shards roll over; a failure leaves them for the next discovery.
     */
    private void forgetDeparted(List<Shard> found) {
        for (ShardState s : catalog.departed(found)) {
            try {
                store.forget(streamArn, s.id);
                catalog.remove(s.id);
                ctx.tell(l -> l.onShardForgotten(s.id));
            } catch (CdcException e) {
                LOG.warn("Deleting the checkpoint of departed shard {} failed; trying at the next discovery: {}",
                        s.id, e.getMessage());
                return;
            }
        }
    }

    /** A DescribeStream call; null (and a retry a second later) when throttled or transiently failed. */
    private <R> R describe(Supplier<R> call) {
        try {
            return call.get();
        } catch (SdkException e) {
            if (AwsErrors.retryable(e)) {
                LOG.warn("DescribeStream failed ({}); trying again in a second", AwsErrors.describe(e));
                ctx.discoverBy(clock.millis() + 1_000);
                return null;
            }
            throw new CdcException("DescribeStream of " + streamArn + " failed: " + AwsErrors.describe(e), e, false);
        }
    }

    /** Builds a {@link StreamPoller}; reusable. */
    public static final class Builder {
        /** Default for {@link #pollInterval}, in milliseconds. */
        public static final long DEFAULT_POLL_INTERVAL_MILLIS = 250;
        /** Default for {@link #recordsPerCall}; also the most GetRecords allows. */
        public static final int DEFAULT_RECORDS_PER_CALL = 1000;
        /** Default for {@link #maxRecordsInFlight}. */
        public static final int DEFAULT_MAX_RECORDS_IN_FLIGHT = 10_000;
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
        private int maxRecordsInFlight = DEFAULT_MAX_RECORDS_IN_FLIGHT;
        private Duration shardDiscoveryInterval = Duration.ofMillis(DEFAULT_SHARD_DISCOVERY_MILLIS);
        private Duration maxBackoff = Duration.ofMillis(DEFAULT_MAX_BACKOFF_MILLIS);
        private Duration closeTimeout = Duration.ofMillis(DEFAULT_CLOSE_TIMEOUT_MILLIS);
        private DataLossPolicy onDataLoss = DataLossPolicy.FAIL;
        private final java.util.List<PollerListener> listeners = new java.util.ArrayList<>();
        private PollerListener listener;
        private String workerId;
        private Clock clock = Clock.systemUTC();
        private Duration leaseRenewInterval;
        private java.util.concurrent.ScheduledExecutorService leaseTimer;

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
         * How many records of one shard may be submitted and not yet acknowledged before the poller stops
         * reading it (it may go over by one GetRecords page): a bound in records, not batches, so a route
         * that buffers for long (an archive) does not pace the others while the checkpoint waits for it.
         * 1 to 1,000,000; default {@value #DEFAULT_MAX_RECORDS_IN_FLIGHT}.
         */
        public Builder maxRecordsInFlight(int maxRecordsInFlight) {
            if (maxRecordsInFlight < 1 || maxRecordsInFlight > 1_000_000) {
                throw new IllegalArgumentException("maxRecordsInFlight must be between 1 and 1000000 (was "
                        + maxRecordsInFlight + ")");
            }
            this.maxRecordsInFlight = maxRecordsInFlight;
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

        /** Adds a receiver of progress, checkpoints and data loss; each call adds one. */
        public Builder listener(PollerListener listener) {
            listeners.add(Objects.requireNonNull(listener, "listener must not be null"));
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

        /**
         * How often the leases held are renewed, on their own timer (never on the reading thread, which
         * backpressure can block). At most a third of the checkpoint store's {@link CheckpointStore#lease()};
         * a third of it by default. Ignored for a store without leases.
         */
        public Builder leaseRenewInterval(Duration interval) {
            this.leaseRenewInterval = positive("leaseRenewInterval", interval);
            return this;
        }

        /**
         * The timer that renews leases; it must agree with the store's clock. By default one daemon
         * thread that the poller owns and stops with its reading thread. An injected one is not shut down.
         */
        public Builder leaseTimer(java.util.concurrent.ScheduledExecutorService timer) {
            this.leaseTimer = Objects.requireNonNull(timer, "leaseTimer must not be null");
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
                    throw new CdcException("cannot describe table '" + table + "': " + AwsErrors.describe(e), e,
                            AwsErrors.retryable(e));
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
            b.maxRecordsInFlight = maxRecordsInFlight;
            b.shardDiscoveryInterval = shardDiscoveryInterval;
            b.maxBackoff = maxBackoff;
            b.closeTimeout = closeTimeout;
            b.onDataLoss = onDataLoss;
            b.listener = PollerListener.composite(listeners);
            b.workerId = workerId == null ? "poller-" + UUID.randomUUID() : workerId;
            b.clock = clock;
            b.leaseTimer = leaseTimer;
            b.leaseRenewInterval = null;
            Optional<Duration> lease = b.store.lease();
            if (lease.isPresent()) {
                Duration third = lease.get().dividedBy(3);
                if (leaseRenewInterval != null && leaseRenewInterval.compareTo(third) > 0) {
                    throw new IllegalStateException("leaseRenewInterval must be at most a third of the checkpoint "
                            + "store's lease (lease " + lease.get() + ", so at most " + third + "; was "
                            + leaseRenewInterval + ")");
                }
                b.leaseRenewInterval = leaseRenewInterval != null ? leaseRenewInterval
                        : third.isZero() ? Duration.ofMillis(1) : third;
            }
            return b;
        }
    }
}
