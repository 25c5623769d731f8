package io.cdcfanout.export;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.aws.internal.AwsErrors;
import io.cdcfanout.dynamodb.internal.SnapshotUnits;
import io.cdcfanout.dynamodb.snapshot.SnapshotCheckpoints;
import io.cdcfanout.dynamodb.snapshot.SnapshotEvents;
import io.cdcfanout.dynamodb.snapshot.SnapshotProgress;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.zip.GZIPInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A snapshot from a DynamoDB export to S3 (ExportTableToPointInTime, format DYNAMODB_JSON), which reads
 * no table capacity: each item of the export goes through the pipeline as an
 * {@link io.cdcfanout.api.Operation#SNAPSHOT} event, with the same event id a {@code TableSnapshot} of the
 * table would give it, and the export time as its creation time.
 *
 * <p>Each data file is a unit of its own: {@link #run} reads all of them on {@link Builder#threads}
 * threads, {@link #runFile} reads one (a Lambda invocation, or one item of a Step Functions distributed
 * map over {@link #files()}). A file's progress is saved after every acknowledged batch of lines, so a
 * restarted file resumes there; the batches in flight at a crash are sent again and the sinks take them
 * once. A line that breaks the format is dead-lettered with the file, line and rule, never a value.
 *
 * <p>The handoff: the stream consumer must have read the stream since before the export's time, or the
 * changes between are lost. The builder asks for that time ({@link Builder#streamReadSince}) and the
 * snapshot refuses an export older than it; {@link Builder#withoutStream()} says there is no stream.
 */
public final class ExportSnapshot {
    private static final Logger LOG = LoggerFactory.getLogger(ExportSnapshot.class);
    /** The longest line read: a DynamoDB item is at most 400 KB, about 1.4 MB as DynamoDB JSON at worst. */
    static final int MAX_LINE_CHARS = 4 * 1024 * 1024;

    private final S3Client s3;
    private final String bucket;
    private final String manifestKey;
    private final List<String> keyNames;
    private final Source sourceOverride;
    private final int threads;
    private final int batchSize;
    private final int batchesInFlight;
    private final Instant streamReadSince;
    private final SnapshotCheckpoints checkpoints;
    private final Consumer<SnapshotProgress> progress;
    private final Clock clock;
    private volatile Manifests manifests;

    private ExportSnapshot(Builder b) {
        this.s3 = b.s3;
        this.bucket = b.bucket;
        this.manifestKey = b.manifestKey.endsWith("/") ? b.manifestKey + "manifest-summary.json" : b.manifestKey;
        this.keyNames = b.keyNames;
        this.sourceOverride = b.source;
        this.threads = b.threads;
        this.batchSize = b.batchSize;
        this.batchesInFlight = b.batchesInFlight;
        this.streamReadSince = b.streamReadSince;
        this.checkpoints = b.checkpoints;
        this.progress = b.progress;
        this.clock = b.clock;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Both manifests, read once. */
    private record Manifests(ExportManifest summary, List<ExportManifest.DataFile> files) {
    }

    private Manifests manifests() {
        Manifests m = manifests;
        if (m == null) {
            ExportManifest summary = ExportManifest.summary(read(manifestKey), "s3://" + bucket + "/" + manifestKey);
            if (streamReadSince != null && summary.exportTime().isBefore(streamReadSince)) {
                throw CdcException.fatal("the export holds the table at " + summary.exportTime()
                        + ", before the stream consumer started reading (" + streamReadSince + "): the changes "
                        + "between would be lost; export again with an ExportTime at or after " + streamReadSince
                        + " (docs/backfill.md)", null);
            }
            List<ExportManifest.DataFile> files = ExportManifest.files(read(summary.manifestFilesKey()),
                    "s3://" + bucket + "/" + summary.manifestFilesKey());
            long listed = files.stream().mapToLong(ExportManifest.DataFile::itemCount).sum();
            if (summary.itemCount() >= 0 && listed != summary.itemCount()) {
                throw CdcException.fatal("the export's manifests disagree: manifest-summary.json counts "
                        + summary.itemCount() + " items, manifest-files.json " + listed, null);
            }
            manifests = m = new Manifests(summary, List.copyOf(files));
        }
        return m;
    }

    private String read(String key) {
        try {
            return s3.getObjectAsBytes(r -> r.bucket(bucket).key(key)).asUtf8String();
        } catch (SdkException e) {
            throw new CdcException("cannot read s3://" + bucket + "/" + key + ": " + AwsErrors.describe(e), e,
                    AwsErrors.retryable(e));
        }
    }

    /** The keys of the export's data files, in the order of {@code manifest-files.json}. */
    public List<String> files() {
        return manifests().files().stream().map(ExportManifest.DataFile::key).toList();
    }

    /** The items the export holds, as its summary counts them. */
    public long itemCount() {
        return manifests().summary().itemCount();
    }

    /** The checkpoint unit of a data file: {@code <table>/export-<export id>/<file name>}. */
    public String unit(String dataFileKey) {
        ExportManifest summary = manifests().summary();
        String arn = summary.exportArn();
        return summary.table() + "/export-" + arn.substring(arn.lastIndexOf('/') + 1) + "/"
                + dataFileKey.substring(dataFileKey.lastIndexOf('/') + 1);
    }

    /**
     * Reads every data file not yet done into {@code pipeline} and returns when every batch is acknowledged.
     *
     * @return the number of items sent in this run
     * Every file is read, whatever another one does; then the files that failed are reported in one
     * exception naming each file and its rule. Whatever a bad file holds is sent first.
     *
     * @throws CdcException (retryable) if a batch was not acknowledged or a read failed: the files resume at
     *     their checkpoints on the next run; (fatal) if a file is bad (another number of lines than its
     *     manifest says, truncated or corrupt, missing, not UTF-8), or the export does not fit the stream
     *     consumer's start: it fails the same way on every run
     */
    public long run(Pipeline<Map<String, AttributeValue>> pipeline) throws InterruptedException {
        return read(pipeline, manifests().files());
    }

    /** Reads one data file, one of {@link #files()}, from its checkpoint; see {@link #run}. */
    public long runFile(Pipeline<Map<String, AttributeValue>> pipeline, String dataFileKey) throws InterruptedException {
        Objects.requireNonNull(dataFileKey, "dataFileKey must not be null");
        ExportManifest.DataFile file = manifests().files().stream().filter(f -> f.key().equals(dataFileKey)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("dataFileKey '" + dataFileKey
                        + "' is not a data file of the export's manifest-files.json"));
        return read(pipeline, List.of(file));
    }

    private long read(Pipeline<Map<String, AttributeValue>> pipeline, List<ExportManifest.DataFile> files)
            throws InterruptedException {
        Objects.requireNonNull(pipeline, "pipeline must not be null");
        Manifests m = manifests();
        Source source = sourceOverride != null ? sourceOverride
                : new Source(m.summary().table(), m.summary().region(), "");
        Run run = new Run(pipeline, source, m.summary(), files.size(), clock.instant());
        List<SnapshotUnits.Unit> units = new ArrayList<>(files.size());
        for (ExportManifest.DataFile f : files) {
            Optional<String> saved = checkpoints.load(unit(f.key())); // once per file and run
            if (saved.filter(SnapshotCheckpoints.DONE::equals).isPresent()) {
                run.filesDone.incrementAndGet();
            } else {
                units.add(() -> readFile(run, f, saved));
            }
        }
        // A bad file must not cost its neighbours: every file is read, then the failures are reported.
        List<Throwable> failures = SnapshotUnits.runEach(units, threads, "cdc-export-" + m.summary().table());
        LOG.info("export snapshot of table '{}': {} of {} data files done, {} items sent in this run",
                m.summary().table(), run.filesDone.get(), run.files, run.items.get());
        if (!failures.isEmpty()) {
            throw combined(failures, files.size());
        }
        return run.items.get();
    }

    /**
     * One exception for the files that failed: fatal if any file is bad (it fails the same way on every
     * run), retryable if every failure may pass. Its message names each file and its rule.
     */
    private static RuntimeException combined(List<Throwable> failures, int files) {
        if (failures.size() == 1 && failures.get(0) instanceof RuntimeException only) {
            return only;
        }
        boolean fatal = false;
        StringBuilder message = new StringBuilder().append(failures.size()).append(" of ").append(files)
                .append(" data files failed (the others were read whole): ");
        for (int i = 0; i < failures.size(); i++) {
            Throwable t = failures.get(i);
            fatal |= !(t instanceof CdcException c) || !c.retryable();
            message.append(i == 0 ? "" : "; ").append(t instanceof CdcException ? t.getMessage()
                    : t.getClass().getName());
        }
        CdcException e = new CdcException(message.toString(), failures.get(0), !fatal);
        failures.subList(1, failures.size()).forEach(e::addSuppressed);
        return e;
    }

    /** What one run shares across its threads. */
    private static final class Run {
        final Pipeline<Map<String, AttributeValue>> pipeline;
        final Source source;
        final ExportManifest summary;
        final int files;
        final Instant started;
        final AtomicLong items = new AtomicLong();
        final AtomicInteger filesDone = new AtomicInteger();

        Run(Pipeline<Map<String, AttributeValue>> pipeline, Source source, ExportManifest summary, int files,
                Instant started) {
            this.pipeline = pipeline;
            this.source = source;
            this.summary = summary;
            this.files = files;
            this.started = started;
        }
    }

    /** A batch of lines sent to the pipeline: its result, its size, and the line count after it. */
    private record Batch(CompletableFuture<BatchResult<Map<String, AttributeValue>>> result, int size, long linesAfter,
            boolean last) {
    }

    private void readFile(Run run, ExportManifest.DataFile file, Optional<String> saved) throws InterruptedException {
        String unit = unit(file.key());
        long resumeAt = saved.map(t -> lines(t, unit)).orElse(0L);
        String name = file.key().substring(file.key().lastIndexOf('/') + 1);
        ArrayDeque<Batch> inFlight = new ArrayDeque<>();
        List<ChangeEvent<Map<String, AttributeValue>>> events = new ArrayList<>(batchSize);
        long line = 0;
        long items = 0;
        CdcException failure = null; // raised once what the file holds is sent
        Body body = open(file.key(), name);
        try (InputStream in = body.lines(); InputStreamReader chars = new InputStreamReader(in,
                StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT))) {
            LineReader reader = new LineReader(chars, MAX_LINE_CHARS);
            String text;
            while ((text = reader.next()) != null) {
                line++;
                if (text != LineReader.TOO_LONG && text.isBlank()) {
                    continue;
                }
                items++;
                if (line <= resumeAt) {
                    continue;
                }
                events.add(text == LineReader.TOO_LONG
                        ? SnapshotEvents.defective(run.summary.table(), run.source, run.summary.exportTime(),
                                name + ":" + line, "data file " + name + " line " + line + " is longer than "
                                        + MAX_LINE_CHARS + " characters, more than any DynamoDB item can take")
                        : event(run, text, name, line));
                if (events.size() == batchSize) {
                    inFlight.add(new Batch(run.pipeline.submit(events), events.size(), line, false));
                    events = new ArrayList<>(batchSize);
                    while (inFlight.size() > batchesInFlight) {
                        settle(run, unit, inFlight.removeFirst());
                    }
                }
            }
        } catch (CharacterCodingException e) {
            failure = CdcException.fatal("data file " + name + " is not valid UTF-8 after line " + line, e);
        } catch (IOException | SdkException e) {
            failure = body.complete()
                    // Every byte of the object arrived: the file itself is broken, and stays so on every retry.
                    ? CdcException.fatal("data file " + name + " is truncated or corrupt after line " + line + " ("
                            + e.getClass().getSimpleName() + "): a gzip data file must end with its trailer; "
                            + "export the table again", e)
                    : CdcException.retryable("data file " + name + ": reading failed after line " + line + " ("
                            + e.getClass().getSimpleName() + "); it resumes at its checkpoint", e);
        }
        if (failure == null && items != file.itemCount()) {
            failure = CdcException.fatal("data file " + name + " holds " + items + " items, but manifest-files.json "
                    + "says " + file.itemCount() + "; the file is incomplete or not this export's", null);
        }
        // What the file holds is sent whatever its fault; only a file read whole and counted right is DONE.
        inFlight.add(new Batch(events.isEmpty() ? null : run.pipeline.submit(events), events.size(), line,
                failure == null));
        while (!inFlight.isEmpty()) {
            settle(run, unit, inFlight.removeFirst());
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** A data file's body as it arrives, counting its bytes against the object's length. */
    private static final class Body extends java.io.FilterInputStream {
        private final long length;
        private long read;

        Body(InputStream in, long length) {
            super(in);
            this.length = length;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                read++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                read += n;
            }
            return n;
        }

        /** Whether every byte of the object arrived. */
        boolean complete() {
            return length >= 0 && read >= length;
        }

        /** The file's lines, gunzipped when it starts with gzip's magic bytes. */
        InputStream lines() throws IOException {
            InputStream raw = new BufferedInputStream(this, 1 << 16);
            raw.mark(2);
            int b1 = raw.read();
            int b2 = raw.read();
            raw.reset();
            return b1 == 0x1f && b2 == 0x8b ? new GZIPInputStream(raw, 1 << 16) : raw;
        }
    }

    /**
     * Opens a data file.
     *
     * @throws CdcException (fatal) if it is missing; (retryable or fatal, as AWS classifies it) otherwise
     */
    private Body open(String key, String name) {
        software.amazon.awssdk.core.ResponseInputStream<software.amazon.awssdk.services.s3.model.GetObjectResponse> obj;
        try {
            obj = s3.getObject(r -> r.bucket(bucket).key(key));
        } catch (software.amazon.awssdk.services.s3.model.NoSuchKeyException e) {
            throw CdcException.fatal("data file " + name + " is missing from s3://" + bucket + "/" + key
                    + " (NoSuchKey): the export is incomplete, or manifest-files.json is not this export's", e);
        } catch (SdkException e) {
            throw new CdcException("cannot read data file " + name + ": " + AwsErrors.describe(e), e,
                    AwsErrors.retryable(e));
        }
        Long length = obj.response().contentLength();
        return new Body(obj, length == null ? -1 : length);
    }

    private static long lines(String token, String unit) {
        try {
            if (token.startsWith("line:")) {
                return Long.parseLong(token.substring(5));
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw CdcException.fatal("the checkpoint of '" + unit + "' must be DONE or line:<n> (was a token "
                + "of " + token.length() + " characters); delete it to read the file again", null);
    }

    private ChangeEvent<Map<String, AttributeValue>> event(Run run, String text, String file, long line) {
        String where = file + ":" + line;
        Map<String, AttributeValue> item;
        try {
            item = ExportLines.item(text);
        } catch (ExportLines.BadLine bad) {
            return SnapshotEvents.defective(run.summary.table(), run.source, run.summary.exportTime(), where,
                    "data file " + file + " line " + line + ": " + bad.getMessage());
        }
        ChangeEvent<Map<String, AttributeValue>> e = SnapshotEvents.of(run.summary.table(), keyNames, run.source, item,
                run.summary.exportTime(), where);
        return e;
    }

    private void settle(Run run, String unit, Batch batch) {
        if (batch.result() != null) {
            BatchResult<Map<String, AttributeValue>> result = batch.result().join();
            if (!result.succeeded()) {
                throw new CdcException(unit + ": " + result.failures().size() + " of " + batch.size()
                        + " items were not acknowledged; the file resumes at its checkpoint", true);
            }
        }
        checkpoints.save(unit, batch.last() ? SnapshotCheckpoints.DONE : "line:" + batch.linesAfter());
        long items = run.items.addAndGet(batch.size());
        int done = batch.last() ? run.filesDone.incrementAndGet() : run.filesDone.get();
        if (progress != null) {
            SnapshotUnits.report(progress, SnapshotProgress.of(items, done, run.files, run.started, clock.instant()), LOG);
        }
    }

    /**
     * Builds an {@link ExportSnapshot}. Required: {@code s3}, {@code bucket}, {@code manifest},
     * {@code keyAttributes}, and one of {@code streamReadSince} or {@code withoutStream}.
     */
    public static final class Builder {
        private S3Client s3;
        private String bucket;
        private String manifestKey;
        private List<String> keyNames;
        private Source source;
        private int threads = 1;
        private int batchSize = 1000;
        private int batchesInFlight = 2;
        private Instant streamReadSince;
        private boolean withoutStream;
        private SnapshotCheckpoints checkpoints = SnapshotCheckpoints.inMemory();
        private Consumer<SnapshotProgress> progress;
        private Clock clock = Clock.systemUTC();

        private Builder() {
        }

        /** The client of the export's bucket; the snapshot does not close it. */
        public Builder s3(S3Client s3) {
            this.s3 = Objects.requireNonNull(s3, "s3 must not be null");
            return this;
        }

        public Builder bucket(String bucket) {
            this.bucket = Objects.requireNonNull(bucket, "bucket must not be null");
            return this;
        }

        /**
         * The key of the export's {@code manifest-summary.json} (DescribeExport's {@code ExportManifest}),
         * or of the export's folder ending in '/': {@code <prefix>/AWSDynamoDB/<export id>/}.
         */
        public Builder manifest(String key) {
            Objects.requireNonNull(key, "manifest must not be null");
            if (!key.endsWith("/") && !key.endsWith("manifest-summary.json")) {
                throw new IllegalArgumentException("manifest must be the key of manifest-summary.json or of the "
                        + "export's folder ending in '/' (was '" + key + "')");
            }
            this.manifestKey = key;
            return this;
        }

        /** The table's key attribute names, partition key first: the export does not name them. */
        public Builder keyAttributes(String... names) {
            Objects.requireNonNull(names, "keyAttributes must not be null");
            if (names.length < 1 || names.length > 2) {
                throw new IllegalArgumentException("keyAttributes must name the partition key and, if the table has "
                        + "one, the sort key (was " + names.length + " names)");
            }
            for (String n : names) {
                if (n == null || n.isEmpty()) {
                    throw new IllegalArgumentException("keyAttributes must not hold an empty name");
                }
            }
            this.keyNames = List.of(names);
            return this;
        }

        /** The events' source; by default the table and region of the manifest's {@code tableArn}. */
        public Builder source(Source source) {
            this.source = Objects.requireNonNull(source, "source must not be null");
            return this;
        }

        /** Data files read at once by {@link ExportSnapshot#run}; default 1. */
        public Builder threads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1 (was " + threads + ")");
            }
            this.threads = threads;
            return this;
        }

        /** Lines per pipeline batch and per checkpoint; default 1,000. */
        public Builder batchSize(int batchSize) {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batchSize must be at least 1 (was " + batchSize + ")");
            }
            this.batchSize = batchSize;
            return this;
        }

        /** Batches of a file sent and not yet acknowledged while the next is read; default 2. */
        public Builder batchesInFlight(int batchesInFlight) {
            if (batchesInFlight < 1) {
                throw new IllegalArgumentException("batchesInFlight must be at least 1 (was " + batchesInFlight + ")");
            }
            this.batchesInFlight = batchesInFlight;
            return this;
        }

        /**
         * When the stream consumer started reading the table's stream (the poller's, KCL's or the event source
         * mapping's start). An export of an earlier time is refused: the changes between would be lost.
         */
        public Builder streamReadSince(Instant since) {
            this.streamReadSince = Objects.requireNonNull(since, "streamReadSince must not be null");
            return this;
        }

        /** Says that no stream consumer follows the export: a one-off copy as of the export time. */
        public Builder withoutStream() {
            this.withoutStream = true;
            return this;
        }

        /** Where each data file's progress is kept; default in memory (a restart reads files again). */
        public Builder checkpoints(SnapshotCheckpoints checkpoints) {
            this.checkpoints = Objects.requireNonNull(checkpoints, "checkpoints must not be null");
            return this;
        }

        /** Called after each acknowledged batch, on a reading thread. */
        public Builder progress(Consumer<SnapshotProgress> progress) {
            this.progress = Objects.requireNonNull(progress, "progress must not be null");
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock must not be null");
            return this;
        }

        /** @throws IllegalStateException naming the first missing setting */
        public ExportSnapshot build() {
            if (s3 == null) {
                throw new IllegalStateException("s3 is required");
            }
            if (bucket == null) {
                throw new IllegalStateException("bucket is required");
            }
            if (manifestKey == null) {
                throw new IllegalStateException("manifest is required");
            }
            if (keyNames == null) {
                throw new IllegalStateException("keyAttributes is required (the export does not name the table's key)");
            }
            if (streamReadSince == null && !withoutStream) {
                throw new IllegalStateException("say how the stream covers the export: streamReadSince(<when the "
                        + "stream consumer started>), or withoutStream() for a one-off copy (docs/backfill.md)");
            }
            if (streamReadSince != null && withoutStream) {
                throw new IllegalStateException("streamReadSince and withoutStream exclude each other");
            }
            return new ExportSnapshot(this);
        }
    }
}
