package io.cdcfanout.dynamodb.snapshot;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.dynamodb.StreamRecords;
import io.cdcfanout.dynamodb.internal.SnapshotUnits;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.KeySchemaElement;
import software.amazon.awssdk.services.dynamodb.model.ReturnConsumedCapacity;
import software.amazon.awssdk.services.dynamodb.model.ScanResponse;
import software.amazon.awssdk.services.dynamodb.model.TableDescription;

/**
 * A snapshot of a table by Parallel Scan: each item goes through the pipeline as an
 * {@link io.cdcfanout.api.Operation#SNAPSHOT} event. Segments are read by a pool of threads, at most
 * {@link Builder#readCapacityPerSecond} read capacity units per second in all, and each segment's
 * progress is saved after every page the pipeline acknowledged, so a restarted snapshot resumes each
 * segment there (the pages in flight at a crash, {@link Builder#pagesInFlight} per segment, are sent again; the sinks
 * take them once).
 *
 * <p>A process may read a range of the segments ({@link Builder#segments}): several processes, each
 * with its own range of the same {@code totalSegments}, share a large table. Read the stream from at
 * or before the snapshot's start, and keep reading it while the snapshot runs: docs/backfill.md says
 * what each sink then guarantees. A table with no stream enabled is refused unless the builder says
 * {@link Builder#withoutStream()}.
 *
 * <p>An event's id is a digest of the table and the item's key, the same in every run, so a sink that
 * deduplicates by id (the S3 archive) keeps each item once.
 */
public final class TableSnapshot {
    private static final Logger LOG = LoggerFactory.getLogger(TableSnapshot.class);

    private final DynamoDbClient client;
    private final String table;
    private final int totalSegments;
    private final int firstSegment;
    private final int endSegment;
    private final int threads;
    private final int pageLimit;
    private final int pagesInFlight;
    private final double readCapacityPerSecond;
    private final SnapshotCheckpoints checkpoints;
    private final Consumer<SnapshotProgress> progress;
    private final Clock clock;
    private final Sleeper sleeper;
    private final boolean withoutStream;

    /** Waits, for the read rate limit; injected so that tests need not sleep. */
    @FunctionalInterface
    public interface Sleeper {
        /** Waits {@code duration}. */
        void sleep(Duration duration) throws InterruptedException;
    }

    private TableSnapshot(Builder b) {
        this.client = b.client;
        this.table = b.table;
        this.totalSegments = b.totalSegments;
        this.firstSegment = b.firstSegment;
        this.endSegment = b.endSegment < 0 ? b.totalSegments : b.endSegment;
        this.threads = b.threads;
        this.pageLimit = b.pageLimit;
        this.pagesInFlight = b.pagesInFlight;
        this.readCapacityPerSecond = b.readCapacityPerSecond;
        this.checkpoints = b.checkpoints;
        this.progress = b.progress;
        this.clock = b.clock;
        this.sleeper = b.sleeper;
        this.withoutStream = b.withoutStream;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The checkpoint unit of a segment: {@code <table>/segment-<i>-of-<n>}. */
    public String unit(int segment) {
        return table + "/segment-" + segment + "-of-" + totalSegments;
    }

    /**
     * Reads this process's segments into {@code pipeline} and returns when every page is acknowledged.
     *
     * @return the number of items sent in this run
     * @throws CdcException (retryable) if the pipeline did not acknowledge a page, or a read failed; the
     *     segments resume at their checkpoints on the next run; (fatal) if the table has no stream and the
     *     builder did not say {@code withoutStream()}, or DescribeTable fails for good (no such table, denied)
     */
    public long run(Pipeline<Map<String, AttributeValue>> pipeline) throws InterruptedException {
        Objects.requireNonNull(pipeline, "pipeline must not be null");
        TableDescription description;
        try {
            description = client.describeTable(r -> r.tableName(table)).table();
        } catch (software.amazon.awssdk.core.exception.SdkException e) {
            throw new CdcException("cannot describe table '" + table + "': "
                    + io.cdcfanout.aws.internal.AwsErrors.describe(e), e, io.cdcfanout.aws.internal.AwsErrors.retryable(e));
        }
        boolean streaming = description.streamSpecification() != null
                && Boolean.TRUE.equals(description.streamSpecification().streamEnabled());
        if (!streaming && !withoutStream) {
            throw CdcException.fatal("table '" + table + "' has no stream enabled, so the snapshot alone "
                    + "would miss every change made while it runs: enable the stream, start its consumer, then run "
                    + "the snapshot (docs/backfill.md); for a one-off copy of a table nobody writes, build with "
                    + "withoutStream()", null);
        }
        List<String> keyNames = description.keySchema().stream().map(KeySchemaElement::attributeName).toList();
        Source source = description.latestStreamArn() != null ? StreamRecords.sourceOf(description.latestStreamArn())
                : Source.ofTable(table);
        Run run = new Run(pipeline, keyNames, source, clock.instant());
        Map<Integer, Optional<String>> saved = new java.util.HashMap<>();
        for (int s = firstSegment; s < endSegment; s++) {
            saved.put(s, checkpoints.load(unit(s)));
            if (saved.get(s).filter(SnapshotCheckpoints.DONE::equals).isPresent()) {
                run.unitsDone.incrementAndGet();
            }
        }
        List<SnapshotUnits.Unit> segments = new ArrayList<>();
        for (int s = firstSegment; s < endSegment; s++) {
            int segment = s;
            segments.add(() -> readSegment(run, segment, saved.get(segment)));
        }
        SnapshotUnits.runAll(segments, threads, "cdc-snapshot-" + table, failure -> failure instanceof CdcException c ? c
                : CdcException.retryable("snapshot of table '" + table + "' failed: " + failure.getClass().getName(),
                        failure));
        LOG.info("snapshot of table '{}' segments {}..{} of {}: {} items sent in this run", table, firstSegment,
                endSegment - 1, totalSegments, run.items.get());
        return run.items.get();
    }

    /** What one run shares across its segment threads. */
    private final class Run {
        final Pipeline<Map<String, AttributeValue>> pipeline;
        final List<String> keyNames;
        final Source source;
        final Instant started;
        final AtomicLong items = new AtomicLong();
        final AtomicInteger unitsDone = new AtomicInteger();
        final ReadRate rate;

        Run(Pipeline<Map<String, AttributeValue>> pipeline, List<String> keyNames, Source source, Instant started) {
            this.pipeline = pipeline;
            this.keyNames = keyNames;
            this.source = source;
            this.started = started;
            this.rate = new ReadRate(readCapacityPerSecond, clock);
        }
    }

    private void readSegment(Run run, int segment, Optional<String> saved) throws InterruptedException {
        if (saved.filter(SnapshotCheckpoints.DONE::equals).isPresent()) {
            return;
        }
        Map<String, AttributeValue> start = saved.map(ScanKeys::decode).orElse(null);
        // Pages in flight, oldest first: the next page is read while earlier ones are written, and each
        // page's resume key is saved only once it and every page before it are acknowledged.
        java.util.ArrayDeque<Page> inFlight = new java.util.ArrayDeque<>();
        do {
            Duration wait = run.rate.waitBeforeNext();
            if (!wait.isZero()) {
                sleeper.sleep(wait);
            }
            Map<String, AttributeValue> from = start;
            ScanResponse page;
            try {
                page = client.scan(r -> r.tableName(table).segment(segment).totalSegments(totalSegments)
                        .limit(pageLimit).exclusiveStartKey(from).returnConsumedCapacity(ReturnConsumedCapacity.TOTAL));
            } catch (RuntimeException e) {
                throw CdcException.retryable("snapshot of table '" + table + "' segment " + segment + " of "
                        + totalSegments + ": Scan failed (" + e.getClass().getSimpleName() + "); it resumes at its "
                        + "checkpoint", e);
            }
            if (page.consumedCapacity() != null && page.consumedCapacity().capacityUnits() != null) {
                run.rate.consumed(page.consumedCapacity().capacityUnits());
            }
            Instant readAt = clock.instant();
            List<ChangeEvent<Map<String, AttributeValue>>> events = new ArrayList<>(page.items().size());
            for (Map<String, AttributeValue> item : page.items()) {
                events.add(event(run, item, readAt));
            }
            start = page.hasLastEvaluatedKey() && !page.lastEvaluatedKey().isEmpty() ? page.lastEvaluatedKey() : null;
            inFlight.add(new Page(events.isEmpty() ? null : run.pipeline.submit(events), events.size(), start));
            while (inFlight.size() > pagesInFlight || start == null && !inFlight.isEmpty()) {
                settle(run, segment, inFlight.removeFirst());
            }
        } while (start != null);
    }

    /** A page sent to the pipeline: its result, its size, and the resume key after it (null: the end). */
    private record Page(java.util.concurrent.CompletableFuture<BatchResult<Map<String, AttributeValue>>> result,
            int size, Map<String, AttributeValue> next) {
    }

    /** Waits for a page's acknowledgement, then saves the segment's resume key and reports progress. */
    private void settle(Run run, int segment, Page page) {
        if (page.result() != null) {
            BatchResult<Map<String, AttributeValue>> result = page.result().join();
            if (!result.succeeded()) {
                throw new CdcException("snapshot of table '" + table + "' segment " + segment + " of "
                        + totalSegments + ": " + result.failures().size() + " of " + page.size()
                        + " items were not acknowledged; it resumes at its checkpoint", true);
            }
        }
        checkpoints.save(unit(segment), page.next() == null ? SnapshotCheckpoints.DONE : ScanKeys.encode(page.next()));
        long items = run.items.addAndGet(page.size());
        int done = page.next() == null ? run.unitsDone.incrementAndGet() : run.unitsDone.get();
        report(run, items, done);
    }

    private void report(Run run, long items, int done) {
        if (progress != null) {
            SnapshotUnits.report(progress, SnapshotProgress.of(items, done, endSegment - firstSegment, run.started,
                    clock.instant()), LOG);
        }
    }

    private ChangeEvent<Map<String, AttributeValue>> event(Run run, Map<String, AttributeValue> item, Instant readAt) {
        // DynamoDB returned the item: its values hold DynamoDB's rules already, so they are not checked again.
        return SnapshotEvents.of(table, run.keyNames, run.source, item, readAt, "a Scan of " + table, false);
    }

    /** Builds a {@link TableSnapshot}; {@code client} and {@code table} are required. */
    public static final class Builder {
        private DynamoDbClient client;
        private String table;
        private int totalSegments = 1;
        private int firstSegment;
        private int endSegment = -1;
        private int threads = 1;
        private int pageLimit = 1000;
        private int pagesInFlight = 2;
        private double readCapacityPerSecond;
        private SnapshotCheckpoints checkpoints = SnapshotCheckpoints.inMemory();
        private Consumer<SnapshotProgress> progress;
        private Clock clock = Clock.systemUTC();
        private Sleeper sleeper = d -> Thread.sleep(d.toMillis(), d.toNanosPart() % 1_000_000);
        private boolean withoutStream;

        private Builder() {
        }

        public Builder client(DynamoDbClient client) {
            this.client = Objects.requireNonNull(client, "client must not be null");
            return this;
        }

        public Builder table(String table) {
            this.table = Objects.requireNonNull(table, "table must not be null");
            return this;
        }

        /** Scan's TotalSegments, 1 to 1,000,000; default 1. Keep it the same across runs and processes. */
        public Builder totalSegments(int totalSegments) {
            if (totalSegments < 1 || totalSegments > 1_000_000) {
                throw new IllegalArgumentException("totalSegments must be 1 to 1,000,000 (was " + totalSegments + ")");
            }
            this.totalSegments = totalSegments;
            return this;
        }

        /** Reads only segments {@code from} (inclusive) to {@code to} (exclusive); default all of them. */
        public Builder segments(int from, int to) {
            if (from < 0 || to <= from) {
                throw new IllegalArgumentException("segments must be a range from >= 0 to > from (was " + from
                        + " to " + to + ")");
            }
            this.firstSegment = from;
            this.endSegment = to;
            return this;
        }

        /** Threads reading segments at once; default 1. */
        public Builder threads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1 (was " + threads + ")");
            }
            this.threads = threads;
            return this;
        }

        /** Scan's Limit: items per page and per pipeline batch; default 1,000. */
        public Builder pageLimit(int pageLimit) {
            if (pageLimit < 1) {
                throw new IllegalArgumentException("pageLimit must be at least 1 (was " + pageLimit + ")");
            }
            this.pageLimit = pageLimit;
            return this;
        }

        /**
         * Pages of a segment sent to the pipeline and not yet acknowledged while the next is read;
         * default 2. A restart sends up to this many pages again.
         */
        public Builder pagesInFlight(int pagesInFlight) {
            if (pagesInFlight < 1) {
                throw new IllegalArgumentException("pagesInFlight must be at least 1 (was " + pagesInFlight + ")");
            }
            this.pagesInFlight = pagesInFlight;
            return this;
        }

        /** The read capacity units per second all threads consume at most, averaged; 0 (default) for no limit. */
        public Builder readCapacityPerSecond(double readCapacityPerSecond) {
            if (!(readCapacityPerSecond >= 0) || Double.isInfinite(readCapacityPerSecond)) {
                throw new IllegalArgumentException("readCapacityPerSecond must be a finite number >= 0 (was "
                        + readCapacityPerSecond + ")");
            }
            this.readCapacityPerSecond = readCapacityPerSecond;
            return this;
        }

        /** Where each segment's progress is kept; default in memory (a restart starts over). */
        public Builder checkpoints(SnapshotCheckpoints checkpoints) {
            this.checkpoints = Objects.requireNonNull(checkpoints, "checkpoints must not be null");
            return this;
        }

        /** Called after each acknowledged page, on a reading thread. */
        public Builder progress(Consumer<SnapshotProgress> progress) {
            this.progress = Objects.requireNonNull(progress, "progress must not be null");
            return this;
        }

        /**
         * Lets {@link #run} read a table that has no stream: a one-off copy, exact only if nobody writes the
         * table meanwhile. Without it, a table with no stream is refused, since its changes during the
         * snapshot would be lost.
         */
        public Builder withoutStream() {
            this.withoutStream = true;
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock must not be null");
            return this;
        }

        public Builder sleeper(Sleeper sleeper) {
            this.sleeper = Objects.requireNonNull(sleeper, "sleeper must not be null");
            return this;
        }

        /** @throws IllegalStateException if client or table is missing, or the segment range exceeds totalSegments */
        public TableSnapshot build() {
            if (client == null) {
                throw new IllegalStateException("client is required");
            }
            if (table == null) {
                throw new IllegalStateException("table is required");
            }
            if (endSegment > totalSegments) {
                throw new IllegalStateException("segments end (" + endSegment + ") must not exceed totalSegments ("
                        + totalSegments + ")");
            }
            return new TableSnapshot(this);
        }
    }
}
