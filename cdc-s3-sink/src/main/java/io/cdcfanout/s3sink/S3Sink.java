package io.cdcfanout.s3sink;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.sink.EventSerializer;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.api.sink.SinkUnavailableException;
import io.cdcfanout.aws.internal.AwsErrors;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.zip.GZIPOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.ServerSideEncryption;

/**
 * Archives events to Amazon S3 as JSON Lines (through an {@link EventSerializer}), gzip-compressed by
 * default, one object per partition and shard for each write the pipeline makes. Objects therefore
 * rotate on the route's buffer triggers: count, bytes or age.
 *
 * <p><b>Keys.</b> {@code <prefix>/<partition>/<shard>-<firstSeq>-<lastSeq>.jsonl.gz}, for example
 * {@code cdc/table=Invoices/dt=2026-11-24/hour=19/shardId-0001-4000-4711.jsonl.gz}. The partition comes
 * from a {@link Partitioner} (by default the table and the UTC hour of the event's creation time), the
 * rest from the events' positions: nothing depends on the wall clock or a random id.
 *
 * <p><b>Replays.</b> Flushes on an interval cut a shard's events at different places in different runs,
 * so names alone can't make a replay land on the same objects. The sink therefore learns, once per
 * partition and shard, which sequence ranges the bucket already holds (one LIST), keeps that index as it
 * writes, and acknowledges an event whose sequence number lies in an archived range without writing
 * it again. A replay after a crash thus adds no duplicates and leaves existing keys and bytes as they
 * were; a retried write of the same events goes to the same key with the same bytes. Events sent again
 * by {@code Pipeline.redrive} are never skipped: they go to their own {@code ...-<digest>-redrive} objects. Snapshot events go to a fixed
 * partition ({@link Builder#snapshotPartition}), so a restarted snapshot skips what an earlier run archived.
 * Determinism needs a deterministic serializer and partitioner (the provided ones are), and one
 * writer per shard, which the sources guarantee.
 *
 * <p><b>Failures.</b> Throttling (503 SlowDown), 5xx, timeouts and dropped connections are retried by
 * the SDK and then fail the object's events as retryable, for the pipeline's backoff. A missing
 * bucket, denied access, a wrong region or a KMS error halts the route ({@link SinkUnavailableException})
 * with a message naming the bucket. Other refusals fail the object's events for good, to the dead-letter
 * sink. A multipart upload that fails is aborted. An event the serializer or partitioner rejects is
 * dead-lettered alone.
 *
 * <p>Counters: {@code s3.objects}, {@code s3.bytes} (as stored), {@code s3.puts} (PUT-class requests:
 * PutObject, and CreateMultipartUpload, UploadPart and CompleteMultipartUpload), {@code s3.lists} and
 * {@code s3.skipped} (events acknowledged as already archived). Thread-safe; calls are serialized.
 */
public final class S3Sink implements Sink<Object> {
    /** Default for {@link Builder#multipartThreshold}: 16 MiB. */
    public static final int DEFAULT_MULTIPART_THRESHOLD = 16 * 1024 * 1024;
    /** Default for {@link Builder#partSize}: 8 MiB. */
    public static final int DEFAULT_PART_SIZE = 8 * 1024 * 1024;
    /** S3's smallest part but the last: 5 MiB. */
    public static final int MIN_PART_SIZE = 5 * 1024 * 1024;
    /** The largest part this sink sends: 512 MiB (S3 allows 5 GiB; parts are held in memory). */
    public static final int MAX_PART_SIZE = 512 * 1024 * 1024;

    private static final Logger LOG = LoggerFactory.getLogger(S3Sink.class);
    private static final Set<String> BUCKET_ERRORS = Set.of("NoSuchBucket", "AccessDenied", "AllAccessDisabled",
            "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "AccountProblem",
            "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException",
            "InvalidBucketName", "InvalidBucketState", "NotSignedUp", "InvalidEncryptionAlgorithmError",
            "InvalidArgument", "NotImplemented");

    private final S3Client client;
    private final boolean ownsClient;
    private final Settings settings;
    private final String prefix;
    private final Partitioner partitioner;
    private final String snapshotPartition;
    private final EventSerializer serializer;
    private volatile boolean closed;
    private final Compression compression;
    private final String extension;
    private final ShardRanges shardRanges;
    private final Memberships memberships;

    /** What every request of an object carries. */
    record Settings(String bucket, String contentType, String contentEncoding, Encryption encryption,
            String expectedBucketOwner, int multipartThreshold, int partSize) {
    }

    /** Server-side encryption headers; {@code NONE} leaves the bucket's default in force. */
    record Encryption(ServerSideEncryption mode, String kmsKeyId, Boolean bucketKey) {
        static final Encryption NONE = new Encryption(null, null, null);

        void apply(PutObjectRequest.Builder b) {
            b.serverSideEncryption(mode).ssekmsKeyId(kmsKeyId).bucketKeyEnabled(bucketKey);
        }

        void apply(CreateMultipartUploadRequest.Builder b) {
            b.serverSideEncryption(mode).ssekmsKeyId(kmsKeyId).bucketKeyEnabled(bucketKey);
        }
    }

    private S3Sink(Builder b) {
        this.ownsClient = b.client == null;
        this.client = ownsClient ? S3Client.create() : b.client;
        this.compression = b.compression;
        this.serializer = b.serializer;
        this.settings = new Settings(b.bucket, serializer.contentType(),
                compression == Compression.GZIP ? "gzip" : null, b.encryption, b.expectedBucketOwner,
                b.multipartThreshold, b.partSize);
        this.prefix = b.prefix;
        this.partitioner = b.partitioner;
        this.snapshotPartition = b.snapshotPartition;
        this.extension = serializer.fileExtension() + (compression == Compression.GZIP ? ".gz" : "");
        this.shardRanges = new ShardRanges(client, settings, extension);
        this.memberships = new Memberships(client, settings, extension);
    }

    /** A builder; the bucket is required. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * One writer per shard, in order: an object holds every event of its shard's range, which is what
     * makes the replay index exact. Calls are serialized (the default of one call at a time).
     */
    @Override
    public Object orderKey(ChangeEvent<?> event) {
        return event.position().shardId();
    }

    /**
     * Large objects: up to 10,000 events, 64 MiB or a minute a call (capacity 20,000). The poller bounds
     * what is in flight in records, so this long buffer does not pace the pipeline's other routes.
     */
    @Override
    public io.cdcfanout.api.pipeline.BufferPolicy defaultBuffer() {
        return io.cdcfanout.api.pipeline.BufferPolicy.builder().maxEvents(10_000).maxBytes(64L << 20)
                .maxAge(java.time.Duration.ofSeconds(60)).capacity(20_000).build();
    }

    /**
     * The event's serialized line, uncompressed: {@code maxBytes} and the sink's limits count what the
     * archive holds, not DynamoDB's {@code SizeBytes} (JSON Lines with both images is several times that).
     */
    @Override
    public long estimateSize(io.cdcfanout.api.ChangeEvent<?> event) {
        try {
            return serializer.sizeOf(event);
        } catch (RuntimeException e) {
            return event.sizeBytes(); // the write fails this event, with the serializer's reason
        }
    }

    /** Closes the client if the sink built it. */
    @Override
    public void close() {
        closed = true;
        if (ownsClient) {
            client.close();
        }
    }

    /** How a group learns what the bucket holds already. */
    private enum Kind {
        /** A named shard: the ranges of its objects ({@link ShardRanges}). */
        SHARD,
        /** No named shard (Lambda): the manifests of the objects whose ranges hold an event ({@link Memberships}). */
        MEMBERS,
        /** Sent again by {@code Pipeline.redrive}: never skipped, written to its own objects. */
        REDRIVE
    }

    /** The events of one object: one partition, one shard, one kind. */
    private static final class Group {
        final String groupPrefix;
        final Kind kind;
        final List<Integer> events = new ArrayList<>();

        Group(String groupPrefix, Kind kind) {
            this.groupPrefix = groupPrefix;
            this.kind = kind;
        }
    }

    /** Tallies of one write call. */
    private static final class Tally {
        long objects;
        long bytes;
        long puts;
        long lists;
        long gets;
        long skipped;
    }

    @Override
    public synchronized SinkResult write(SinkBatch<?> batch) {
        if (closed) {
            throw new io.cdcfanout.api.sink.SinkUnavailableException("the S3 sink of bucket '" + settings.bucket() + "'" + " is closed: a pipeline closes its sinks when "
                    + "it closes; build a new sink for a new pipeline", null);
        }
        List<? extends ChangeEvent<?>> events = batch.events();
        SinkResult.Builder result = SinkResult.builder(events.size());
        Tally tally = new Tally();
        Map<String, Group> groups = new LinkedHashMap<>();
        for (int i = 0; i < events.size(); i++) {
            ChangeEvent<?> e = events.get(i);
            String partition;
            try {
                partition = e.operation() == Operation.SNAPSHOT ? snapshotPartition : partitioner.partition(e);
            } catch (RuntimeException ex) {
                result.fail(i, "the partitioner failed for event " + e.eventId() + ": " + ex.getMessage(), false);
                continue;
            }
            String broken = ObjectNames.checkPartition(partition);
            if (broken != null) {
                result.fail(i, "the partition path for event " + e.eventId() + " " + broken + " (was '"
                        + partition + "')", false);
                continue;
            }
            String groupPrefix = ObjectNames.groupPrefix(prefix, partition, e.position().shardId());
            boolean redrive = batch.redriven(i);
            Kind kind = redrive ? Kind.REDRIVE : e.position().shardKnown() ? Kind.SHARD : Kind.MEMBERS;
            groups.computeIfAbsent(groupPrefix + "\0" + kind, k -> new Group(groupPrefix, kind)).events.add(i);
        }
        for (Group g : groups.values()) {
            write(g, events, result, tally);
        }
        return result.count("s3.objects", tally.objects).count("s3.bytes", tally.bytes).count("s3.puts", tally.puts)
                .count("s3.lists", tally.lists).count("s3.gets", tally.gets).count("s3.skipped", tally.skipped)
                .build();
    }

    private void write(Group g, List<? extends ChangeEvent<?>> events, SinkResult.Builder result, Tally tally) {
        // 1. Leave out what the bucket holds already.
        List<Integer> todo = g.events;
        ArchivedRanges ranges = null;
        try {
            if (g.kind == Kind.SHARD) {
                ranges = shardRanges.of(g.groupPrefix, () -> tally.lists++);
                todo = new ArrayList<>(g.events.size());
                for (int i : g.events) {
                    if (ranges.contains(events.get(i).position().sequenceNumber())) {
                        tally.skipped++;
                    } else {
                        todo.add(i);
                    }
                }
            } else if (g.kind == Kind.MEMBERS) {
                List<Memberships.Member> members = memberships.list(g.groupPrefix, () -> tally.lists++);
                todo = new ArrayList<>(g.events.size());
                for (int i : g.events) {
                    ChangeEvent<?> e = events.get(i);
                    if (memberships.archived(members, e, () -> tally.gets++)) {
                        tally.skipped++;
                    } else {
                        todo.add(i);
                    }
                }
            }
        } catch (SdkException e) {
            fail(g.events, e, "listing s3://" + settings.bucket() + "/" + g.groupPrefix + "*", result);
            return;
        }
        // 2. Serialize first: the object is named after the events it really holds.
        List<Integer> written = new ArrayList<>(todo.size());
        List<byte[]> lines = new ArrayList<>(todo.size());
        ByteArrayOutputStream one = new ByteArrayOutputStream(1024);
        for (int i : todo) {
            one.reset();
            try {
                serializer.write(events.get(i), one);
            } catch (IOException | RuntimeException ex) {
                result.fail(i, "the serializer failed for event " + events.get(i).eventId() + ": "
                        + ex.getClass().getName() + ": " + ex.getMessage(), false);
                continue;
            }
            written.add(i);
            lines.add(one.toByteArray());
        }
        if (written.isEmpty()) {
            return;
        }
        String first = events.get(written.get(0)).position().sequenceNumber();
        String last = first;
        for (int i : written) {
            String seq = events.get(i).position().sequenceNumber();
            if (Position.compareSequenceNumbers(seq, first) < 0) {
                first = seq;
            }
            if (Position.compareSequenceNumbers(seq, last) > 0) {
                last = seq;
            }
        }
        List<String> ids = null;
        String key;
        if (g.kind == Kind.SHARD) {
            key = ObjectNames.key(g.groupPrefix, first, last, false, extension);
        } else {
            List<String> members = new ArrayList<>(written.size());
            for (int i : written) {
                members.add(Memberships.identity(events.get(i)));
            }
            String digest = Memberships.digest(members);
            if (g.kind == Kind.MEMBERS) {
                ids = members;
                key = ObjectNames.memberKey(g.groupPrefix, first, last, digest, extension);
            } else {
                // Redriven events: named after their members too, so two redrives of one range (or of
                // snapshot events, whose range is always 0-0) never overwrite each other.
                key = ObjectNames.redriveKey(g.groupPrefix, first, last, digest, extension);
            }
        }
        // 3. Upload: for events without a named shard, the manifest goes first, so an object that is
        // listed always has one.
        ObjectUpload upload = new ObjectUpload(client, settings, key);
        try {
            if (ids != null) {
                tally.puts++;
                memberships.writeManifest(key, ids);
            }
            try (OutputStream out = compression == Compression.GZIP ? new GZIPOutputStream(upload, 64 * 1024)
                    : upload) {
                for (byte[] line : lines) {
                    out.write(line);
                }
            }
            upload.finish();
        } catch (SdkException e) {
            upload.abort();
            tally.puts += upload.requests();
            fail(written, e, "writing s3://" + settings.bucket() + "/" + key, result);
            return;
        } catch (IOException e) {
            upload.abort();
            tally.puts += upload.requests();
            throw new UncheckedIOException("compressing " + key + " failed", e);
        }
        tally.objects++;
        tally.bytes += upload.bytes();
        tally.puts += upload.requests();
        if (ranges != null) {
            ranges.add(first, last);
        }
        LOG.debug("Wrote s3://{}/{}: {} events, {} bytes{}", settings.bucket(), key, written.size(), upload.bytes(),
                upload.multipart() ? " in parts" : "");
    }

    /** Fails the events of one object after an S3 error, or halts the route when the bucket is unusable. */
    private void fail(List<Integer> indexes, SdkException e, String what, SinkResult.Builder result) {
        AwsServiceException service = e instanceof AwsServiceException ase ? ase : null;
        String code = service != null && service.awsErrorDetails() != null ? service.awsErrorDetails().errorCode()
                : null;
        int status = service != null ? service.statusCode() : 0;
        String detail = (code != null ? code + ": " + service.awsErrorDetails().errorMessage() : e.getMessage());
        if (code != null && (BUCKET_ERRORS.contains(code) || code.startsWith("KMS.")) || status == 301
                || status == 403 && code == null) {
            throw new SinkUnavailableException("S3 bucket '" + settings.bucket() + "' cannot take objects: "
                    + detail + " (while " + what + ")", e);
        }
        boolean retryable = AwsErrors.retryable(e);
        String reason = "S3 failed " + what + ": " + detail;
        for (int i : indexes) {
            result.fail(i, reason, retryable);
        }
    }

    /** Builds an {@link S3Sink}; reusable. */
    public static final class Builder {
        private S3Client client;
        private String bucket;
        private String prefix = "";
        private Partitioner partitioner = Partitioner.byTableAndHour();
        private String snapshotPartition = "snapshot";
        private EventSerializer serializer;
        private Compression compression = Compression.GZIP;
        private Encryption encryption = Encryption.NONE;
        private String expectedBucketOwner;
        private int multipartThreshold = DEFAULT_MULTIPART_THRESHOLD;
        private int partSize = DEFAULT_PART_SIZE;

        private Builder() {
        }

        /**
         * The S3 client, which the sink does not close. By default the sink builds one from the default
         * region and credentials chains, and closes it.
         */
        public Builder client(S3Client client) {
            this.client = Objects.requireNonNull(client, "client must not be null");
            return this;
        }

        /** The bucket's name: 3 to 63 lowercase letters, digits, '.' or '-'. */
        public Builder bucket(String bucket) {
            Objects.requireNonNull(bucket, "bucket must not be null");
            if (!bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
                throw new IllegalArgumentException("bucket must be 3 to 63 lowercase letters, digits, '.' or '-', "
                        + "starting and ending with a letter or digit (was '" + bucket + "')");
            }
            this.bucket = bucket;
            return this;
        }

        /**
         * The key prefix, such as {@code cdc/invoices}, without a leading or trailing '/'; none by default.
         */
        public Builder prefix(String prefix) {
            this.prefix = ObjectNames.checkPrefix("prefix", prefix);
            return this;
        }

        /** How events are partitioned; {@link Partitioner#byTableAndHour()} by default. */
        public Builder partitioner(Partitioner partitioner) {
            this.partitioner = Objects.requireNonNull(partitioner, "partitioner must not be null");
            return this;
        }

        /**
         * The partition of {@link Operation#SNAPSHOT} events, in place of the partitioner's: fixed, so that
         * a restarted snapshot finds what an earlier run archived, whatever the time; {@code snapshot} by
         * default. With Hive-style partitions, name it like them ({@code dt=snapshot}, say).
         */
        public Builder snapshotPartition(String snapshotPartition) {
            ObjectNames.checkPrefix("snapshotPartition", snapshotPartition);
            if (snapshotPartition.isEmpty()) {
                throw new IllegalArgumentException("snapshotPartition is empty (was '')");
            }
            this.snapshotPartition = snapshotPartition;
            return this;
        }

        /**
         * How events become lines; it sets the Content-Type and the file extension. By default
         * {@code JsonLinesSerializer.plain()}, JSON Lines of DynamoDB events.
         */
        public Builder serializer(EventSerializer serializer) {
            this.serializer = Objects.requireNonNull(serializer, "serializer must not be null");
            return this;
        }

        /** {@link Compression#GZIP} (the default) or {@link Compression#NONE}. */
        public Builder compression(Compression compression) {
            this.compression = Objects.requireNonNull(compression, "compression must not be null");
            return this;
        }

        /** Server-side encryption with S3-managed keys (SSE-S3, AES256). */
        public Builder sseS3() {
            this.encryption = new Encryption(ServerSideEncryption.AES256, null, null);
            return this;
        }

        /**
         * Server-side encryption with AWS KMS (SSE-KMS) under the given key id, key ARN or alias, with an
         * S3 Bucket Key, which cuts KMS requests (and their cost) by reusing a data key.
         */
        public Builder sseKms(String kmsKeyId) {
            Objects.requireNonNull(kmsKeyId, "kmsKeyId must not be null");
            if (kmsKeyId.isBlank()) {
                throw new IllegalArgumentException("kmsKeyId must not be blank");
            }
            this.encryption = new Encryption(ServerSideEncryption.AWS_KMS, kmsKeyId, Boolean.TRUE);
            return this;
        }

        /**
         * The account that must own the bucket (12 digits); S3 refuses the requests otherwise, so a
         * bucket that changed hands never receives the archive. Not checked by default.
         */
        public Builder expectedBucketOwner(String accountId) {
            Objects.requireNonNull(accountId, "expectedBucketOwner must not be null");
            if (!accountId.matches("[0-9]{12}")) {
                throw new IllegalArgumentException("expectedBucketOwner must be a 12-digit AWS account id (was '"
                        + accountId + "')");
            }
            this.expectedBucketOwner = accountId;
            return this;
        }

        /**
         * The stored size from which an object goes up as a multipart upload; at least the part size.
         * {@value S3Sink#DEFAULT_MULTIPART_THRESHOLD} bytes by default.
         */
        public Builder multipartThreshold(int bytes) {
            if (bytes < MIN_PART_SIZE) {
                throw new IllegalArgumentException("multipartThreshold must be at least " + MIN_PART_SIZE
                        + " bytes, S3's smallest part (was " + bytes + ")");
            }
            this.multipartThreshold = bytes;
            return this;
        }

        /**
         * The size of every part but the last: {@value S3Sink#MIN_PART_SIZE} to {@value S3Sink#MAX_PART_SIZE}
         * bytes; {@value S3Sink#DEFAULT_PART_SIZE} by default.
         */
        public Builder partSize(int bytes) {
            if (bytes < MIN_PART_SIZE || bytes > MAX_PART_SIZE) {
                throw new IllegalArgumentException("partSize must be between " + MIN_PART_SIZE + " and "
                        + MAX_PART_SIZE + " bytes (was " + bytes + ")");
            }
            this.partSize = bytes;
            return this;
        }

        /**
         * A sink.
         *
         * @throws IllegalStateException if bucket or serializer is missing, or the multipart threshold
         *     is below the part size
         */
        public S3Sink build() {
            if (bucket == null) {
                throw new IllegalStateException("bucket is required");
            }
            if (serializer == null) {
                serializer = io.cdcfanout.dynamodb.JsonLinesSerializer.plain();
            }
            if (multipartThreshold < partSize) {
                throw new IllegalStateException("multipartThreshold (" + multipartThreshold
                        + ") must be at least partSize (" + partSize + ")");
            }
            return new S3Sink(this);
        }
    }
}
