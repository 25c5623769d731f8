package io.cdcfanout.local;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/**
 * A DynamoDB stream that lives a week in a minute: a table's change stream on a virtual clock, served
 * on loopback over the real DynamoDB Streams protocol, so the SDK's unmodified {@code DynamoDbStreamsClient}
 * (and the poller, or anything else built on it) reads it. Everything follows from the seed and the clock.
 *
 * <p>Unlike DynamoDB Local, which keeps one shard per stream for ever, it behaves like the service over
 * time (docs/local.md lists each behaviour with its AWS page):
 * <ul>
 *   <li>shards close and children open on a schedule ({@link Builder#rolloverEvery}, with jitter), and
 *       every {@link Builder#splitEvery}-th rollover splits a partition into two children, each naming
 *       its parent: an item's later changes move to the child that holds its key;</li>
 *   <li>records older than {@link Builder#retention} (24 h) are trimmed, and a stale position gets
 *       {@code TrimmedDataAccessException}; a closed shard whose records are all gone leaves the stream;</li>
 *   <li>iterators expire after 15 minutes ({@code ExpiredIteratorException});</li>
 *   <li>{@code LimitExceededException} for a third concurrent reader of a shard, past a per-shard call
 *       rate, and by chance;</li>
 *   <li>GetRecords pages of at most 1,000 records and 1 MB, empty pages by chance, and a closed shard's
 *       {@code NextShardIterator} null at its end.</li>
 * </ul>
 *
 * <p>Write to the table with {@link #put} and {@link #delete}; move the clock (for example a
 * {@code ManualClock}) and the stream catches up on the next call. Thread-safe. Not for production.
 */
public final class StreamSimulator implements AutoCloseable {
    private final SimulatedStream stream;
    private final StreamsProtocol protocol;
    private final HttpServer server;
    private final ExecutorService threads;

    private StreamSimulator(Builder b) {
        this.stream = new SimulatedStream(b, b.clock);
        this.protocol = new StreamsProtocol(stream, b.clock, b);
        try {
            this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on loopback", e);
        }
        this.threads = Executors.newFixedThreadPool(8, r -> {
            Thread t = new Thread(r, "stream-simulator");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(threads);
        server.createContext("/", protocol);
        server.start();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Where the Streams API listens (127.0.0.1). */
    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    /** The stream's ARN. */
    public String streamArn() {
        return stream.streamArn;
    }

    /**
     * A new client for this stream, signing with {@code accessKey}: the simulator tells readers apart by
     * their key, so give each process (each poller worker) its own. The caller closes it.
     */
    public DynamoDbStreamsClient client(String accessKey) {
        return DynamoDbStreamsClient.builder().endpointOverride(endpoint()).region(Region.of(stream.region))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, "secret")))
                .build();
    }

    /** Puts an item into the simulated table: an INSERT record, or a MODIFY with its old image. */
    public void put(Map<String, AttributeValue> item) {
        stream.put(Objects.requireNonNull(item, "item must not be null"));
    }

    /** Deletes an item: a REMOVE record with its old image; nothing if there is no such item. */
    public void delete(Map<String, AttributeValue> key) {
        stream.delete(Objects.requireNonNull(key, "key must not be null"), false);
    }

    /** Deletes an item as the TTL service does (userIdentity {@code Service}/{@code dynamodb.amazonaws.com}). */
    public void expire(Map<String, AttributeValue> key) {
        stream.delete(Objects.requireNonNull(key, "key must not be null"), true);
    }

    /** The simulated table's items now; what a replica must hold. */
    public Map<Map<String, AttributeValue>, Map<String, AttributeValue>> items() {
        return stream.items();
    }

    /** What happened so far, for a test's checks and a run's report. */
    public Stats stats() {
        List<SimulatedStream.Shard> shards = stream.shards();
        long records = 0;
        for (SimulatedStream.Shard s : shards) {
            synchronized (stream) {
                records += s.size();
            }
        }
        return new Stats(shards.size(), stream.shardsClosed(), stream.partitionCount(), records, stream.recordsTrimmed(),
                protocol.getRecordsCalls.get(), protocol.throttled.get(), protocol.refusedThirdReader.get(),
                protocol.expiredIterators.get(), protocol.trimmedAccesses.get(), protocol.emptyPages.get(),
                protocol.serverErrors.get());
    }

    /**
     * What a run did: shards in the stream now, closed so far, open partitions, records in the shards
     * now (trimmed ones included while their shard lives), records trimmed, GetRecords calls, throttled
     * calls (third readers among them), expired iterators, trimmed positions asked for, empty pages
     * served, 500s injected.
     */
    public record Stats(int shards, long shardsClosed, int partitions, long records, long recordsTrimmed,
            long getRecordsCalls, long throttled, long refusedThirdReader, long expiredIterators, long trimmedAccesses,
            long emptyPages, long serverErrors) {
    }

    /**
     * Each shard's GetRecords calls in order, as runs of one reader (access key): {@code [a, b]} means
     * reader a, then b took over; {@code [a, b, a]} means two processes read the shard at once. Virtual
     * time cannot tell that when a test moves the clock in steps; the order of calls can.
     */
    public Map<String, List<String>> readerRuns() {
        Map<String, List<String>> runs = new java.util.TreeMap<>();
        for (StreamsProtocol.Read r : protocol.reads()) {
            List<String> run = runs.computeIfAbsent(r.shardId(), k -> new java.util.ArrayList<>());
            if (run.isEmpty() || !run.get(run.size() - 1).equals(r.reader())) {
                run.add(r.reader());
            }
        }
        return runs;
    }

    /** The model, for the event source mapping simulator in this package. */
    SimulatedStream stream() {
        return stream;
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }

    /** Builds a {@link StreamSimulator}; the clock is required. */
    public static final class Builder {
        Clock clock;
        long seed = 1;
        String table = "Simulated";
        String region = "us-east-1";
        List<String> keyNames = List.of("id");
        int partitions = 2;
        int maxPartitions = 8;
        Duration rolloverEvery = Duration.ofHours(4);
        int splitEvery = 6;
        Duration retention = Duration.ofHours(24);
        Duration iteratorLifetime = Duration.ofMinutes(15);
        Duration readerWindow = Duration.ofSeconds(10);
        int maxCallsPerShardPerSecond = 0;
        double throttleProbability;
        double serverErrorProbability;
        double emptyPageProbability;
        long maxPageBytes = 1L << 20;

        private Builder() {
        }

        /** The virtual clock; the stream catches up with it on every call. Required. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock must not be null");
            return this;
        }

        /** The seed of every chance: shard ids, jitter, throttles, empty pages. 1 by default. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** The table's name and key attributes (partition key first). {@code Simulated}, {@code id} by default. */
        public Builder table(String table, String... keyNames) {
            this.table = Objects.requireNonNull(table, "table must not be null");
            if (keyNames.length < 1 || keyNames.length > 2) {
                throw new IllegalArgumentException("keyNames must be a partition key and at most a sort key (was "
                        + keyNames.length + " names)");
            }
            this.keyNames = List.of(keyNames);
            return this;
        }

        public Builder region(String region) {
            this.region = Objects.requireNonNull(region, "region must not be null");
            return this;
        }

        /** Partitions (open shards) at the start, 1 to 64; 2 by default. */
        public Builder partitions(int partitions) {
            if (partitions < 1 || partitions > 64) {
                throw new IllegalArgumentException("partitions must be between 1 and 64 (was " + partitions + ")");
            }
            this.partitions = partitions;
            return this;
        }

        /** The most partitions splits may make, 1 to 64; 8 by default. */
        public Builder maxPartitions(int maxPartitions) {
            if (maxPartitions < 1 || maxPartitions > 64) {
                throw new IllegalArgumentException("maxPartitions must be between 1 and 64 (was " + maxPartitions
                        + ")");
            }
            this.maxPartitions = maxPartitions;
            return this;
        }

        /** How long a shard stays open, give or take an eighth; 4 hours by default. */
        public Builder rolloverEvery(Duration every) {
            Objects.requireNonNull(every, "rolloverEvery must not be null");
            if (every.compareTo(Duration.ofSeconds(1)) < 0) {
                throw new IllegalArgumentException("rolloverEvery must be at least 1 second (was " + every + ")");
            }
            this.rolloverEvery = every;
            return this;
        }

        /** Every n-th rollover of a partition splits it in two; 0 never splits; 6 by default. */
        public Builder splitEvery(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("splitEvery must not be negative (was " + n + ")");
            }
            this.splitEvery = n;
            return this;
        }

        /** How long records stay readable; 24 hours, as on AWS, by default. */
        public Builder retention(Duration retention) {
            this.retention = Objects.requireNonNull(retention, "retention must not be null");
            return this;
        }

        /** How long an iterator lives; 15 minutes, as on AWS, by default. */
        public Builder iteratorLifetime(Duration lifetime) {
            this.iteratorLifetime = Objects.requireNonNull(lifetime, "iteratorLifetime must not be null");
            return this;
        }

        /** How long a reader counts as reading a shard after its last call (for the two-reader rule); 10 s. */
        public Builder readerWindow(Duration window) {
            this.readerWindow = Objects.requireNonNull(window, "readerWindow must not be null");
            return this;
        }

        /** GetRecords calls a shard takes per second of the virtual clock before throttling; 0 (the default) for no limit. */
        public Builder maxCallsPerShardPerSecond(int calls) {
            if (calls < 0) {
                throw new IllegalArgumentException("maxCallsPerShardPerSecond must not be negative (was " + calls + ")");
            }
            this.maxCallsPerShardPerSecond = calls;
            return this;
        }

        /** The chance that a GetRecords call is throttled; 0 by default. */
        public Builder throttleProbability(double p) {
            this.throttleProbability = probability("throttleProbability", p);
            return this;
        }

        /** The chance that a call answers 500 InternalServerError; 0 by default. */
        public Builder serverErrorProbability(double p) {
            this.serverErrorProbability = probability("serverErrorProbability", p);
            return this;
        }

        /** The chance that GetRecords answers an empty page although records follow; 0 by default. */
        public Builder emptyPageProbability(double p) {
            this.emptyPageProbability = probability("emptyPageProbability", p);
            return this;
        }

        private static double probability(String name, double p) {
            if (!(p >= 0 && p < 1)) {
                throw new IllegalArgumentException(name + " must be at least 0 and below 1 (was " + p + ")");
            }
            return p;
        }

        /**
         * A simulator, listening.
         *
         * @throws IllegalStateException if the clock is missing, or partitions exceed maxPartitions
         */
        public StreamSimulator build() {
            if (clock == null) {
                throw new IllegalStateException("clock is required: the simulator runs on a virtual clock");
            }
            if (partitions > maxPartitions) {
                throw new IllegalStateException("partitions (" + partitions + ") must not exceed maxPartitions ("
                        + maxPartitions + ")");
            }
            return new StreamSimulator(this);
        }
    }
}
