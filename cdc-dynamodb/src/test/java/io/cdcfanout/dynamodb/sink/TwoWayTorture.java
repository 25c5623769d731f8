package io.cdcfanout.dynamodb.sink;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;

import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.poller.Checkpoint;
import io.cdcfanout.dynamodb.poller.CheckpointStore;
import io.cdcfanout.dynamodb.poller.PollerAccess;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.local.WireFaults;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * The multi-master torture: sides in separate "regions" of DynamoDB Local, each replicated into every
 * other by a poller and a pipeline, while writer threads on every side put, update and delete the same
 * keys through {@link TwoWayTable}, with deliberate ties (equal order values across sides and within
 * one). Every successful write is logged, so the winner of each key is computed independently by the
 * documented rule; at the end every side must hold exactly it. Modes add replays from the start, wire
 * faults on one side's replicator, or crashes of one side's poller. {@code main} runs the long version.
 */
final class TwoWayTorture {
    static final String ORDER = "updatedAt";
    private static final String[] NAMES = {"east", "west", "north"};

    enum Mode { NO_FAULTS, REPLAYS, WIRE_FAULTS, CRASHES }

    record Config(Mode mode, int sides, int threadsPerSide, int keys, Duration duration, long seed) {
    }

    /** What a run found; all the counts of differences must be zero. */
    record Figures(Mode mode, int sides, int writes, int deletes, int ties, int refused, int differing,
            int resurrections, int lostUpdates, int wrongWinners, long replicatorWrites, long replayWrites,
            int deadLetters, int faultsServed, int crashes, long millis) {
        boolean converged() {
            return differing == 0 && resurrections == 0 && lostUpdates == 0 && wrongWinners == 0 && deadLetters == 0;
        }

        @Override
        public String toString() {
            return String.format("| %s | %d | %,d (%,d deletes, %,d ties) | %,d | %d | %d | %d | %d | %,d | %,d | %d | %d "
                    + "| %d | %.1f s |", mode, sides, writes, deletes, ties, refused, differing, resurrections,
                    lostUpdates, wrongWinners, replicatorWrites, replayWrites, deadLetters, faultsServed, crashes,
                    millis / 1000.0);
        }
    }

    /** One successful application write. */
    record Write(int key, long order, boolean deleted, String side, long index, long score) {
    }

    /** The documented rule: greatest order; a delete beats a put; the greater side; the later of one side. */
    static final Comparator<Write> RULE = Comparator.comparingLong(Write::order)
            .thenComparing(Write::deleted)
            .thenComparing(Write::side)
            .thenComparingLong(Write::index);

    private final Config config;
    private final LocalDynamoDb local = LocalDynamoDb.get();
    private final String table = LocalDynamoDb.uniqueName("Torture");
    private final String[] sides;
    private final String[] regions;
    private final DynamoDbClient[] clients;
    private final String[] arns;
    private final CheckpointStore[] stores;
    private final StreamPoller[] pollers;
    private final List<Pipeline<Map<String, AttributeValue>>> pipelines = new CopyOnWriteArrayList<>();
    private final RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
    private final AtomicLong replicatorWrites = new AtomicLong();
    private final List<Write> log = new CopyOnWriteArrayList<>();
    private final AtomicInteger refused = new AtomicInteger();
    private final AtomicInteger ties = new AtomicInteger();
    private final AtomicLong clock = new AtomicLong(1_000_000);
    private final AtomicLong scores = new AtomicLong();
    private final Map<Integer, Write> lastByKey = new ConcurrentHashMap<>();
    private WireFaults wire;
    private int crashes;

    TwoWayTorture(Config config) {
        this.config = config;
        int n = config.sides();
        this.sides = java.util.Arrays.copyOf(NAMES, n);
        this.regions = new String[n];
        this.clients = new DynamoDbClient[n];
        this.arns = new String[n];
        this.stores = new CheckpointStore[n];
        this.pollers = new StreamPoller[n];
        String[] all = {"eu-north-1", "me-south-1", "ap-east-1"};
        for (int i = 0; i < n; i++) {
            regions[i] = all[i];
            clients[i] = local.client(regions[i]);
            arns[i] = LocalDynamoDb.createTable(clients[i], table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
            stores[i] = CheckpointStore.inMemory();
        }
    }

    static Figures run(Config config) throws Exception {
        return new TwoWayTorture(config).run();
    }

    private Figures run() throws Exception {
        started = System.currentTimeMillis();
        try {
            if (config.mode() == Mode.WIRE_FAULTS) {
                wire = new WireFaults(local.endpoint());
                Random faults = new Random(config.seed());
                // About one PutItem in five of side 0's replicator meets a fault on the wire.
                wire.inject(r -> r.operation().equals("PutItem") && faults.nextInt(100) < 7,
                        WireFaults.Fault.awsJson(503, "ServiceUnavailable"), Integer.MAX_VALUE);
                wire.inject(r -> r.operation().equals("PutItem") && faults.nextInt(100) < 7,
                        new WireFaults.Fault.DropAfterApply(), Integer.MAX_VALUE);
                wire.inject(r -> r.operation().equals("PutItem") && faults.nextInt(100) < 6,
                        new WireFaults.Fault.Stall(Duration.ofMillis(300)), Integer.MAX_VALUE);
            }
            for (int i = 0; i < sides.length; i++) {
                start(i, stores[i]);
            }
            write();
            awaitQuiet(stores);
            Figures first = check(0);
            if (config.mode() != Mode.REPLAYS || !first.converged()) {
                return first;
            }
            // Replays: every side read again from its stream's start, with fresh checkpoints.
            for (int i = 0; i < sides.length; i++) {
                pollers[i].close();
            }
            long before = replicatorWrites.get();
            CheckpointStore[] fresh = new CheckpointStore[sides.length];
            for (int i = 0; i < sides.length; i++) {
                fresh[i] = CheckpointStore.inMemory();
                start(i, fresh[i]);
            }
            awaitQuiet(fresh);
            return check(replicatorWrites.get() - before);
        } finally {
            for (StreamPoller p : pollers) {
                if (p != null) {
                    p.close();
                }
            }
            for (Pipeline<Map<String, AttributeValue>> p : pipelines) {
                p.close();
            }
            if (wire != null) {
                wire.close();
            }
        }
    }

    private long started;

    private DynamoDbClient target(int from, int to) {
        if (wire == null || from != 0) {
            return clients[to];
        }
        return DynamoDbClient.builder().endpointOverride(URI.create(wire.endpoint().toString()))
                .region(Region.of(regions[to]))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("local", "local")))
                .build();
    }

    /** Starts side i's replicator: a poller over its stream, a route into every other side. */
    private void start(int i, CheckpointStore store) {
        PipelineListener counting = new PipelineListener() {
            @Override
            public void onSinkCounters(String route, Map<String, Long> counters) {
                replicatorWrites.addAndGet(counters.getOrDefault("dynamodb.writes", 0L));
            }
        };
        Pipeline.Builder<Map<String, AttributeValue>> b = Pipeline.<Map<String, AttributeValue>>builder();
        for (int j = 0; j < sides.length; j++) {
            if (j == i) {
                continue;
            }
            b.route(Route.<Map<String, AttributeValue>>builder("to-" + sides[j])
                    .filter(ReplicationSink.localChanges(ORDER))
                    .sink(ReplicationSink.builder().client(target(i, j)).table(table).origin(sides[i])
                            .twoWay(ORDER).targetSide(sides[j]).sourceTable(clients[i], table).build())
                    .buffer(BufferPolicy.builder().maxEvents(100).maxAge(Duration.ofMillis(10)).build())
                    .retry(RetryPolicy.builder().maxAttempts(40).initialBackoff(Duration.ofMillis(10))
                            .maxBackoff(Duration.ofMillis(500)).build())
                    .build());
        }
        Pipeline<Map<String, AttributeValue>> pipeline = b.listener(counting).deadLetterSink(deadLetters).build();
        pipelines.add(pipeline);
        pollers[i] = StreamPoller.builder().streamsClient(local.streams(regions[i])).streamArn(arns[i])
                .pipeline(pipeline).checkpointStore(store).workerId("replicator-" + sides[i]) // a restart reclaims it
                .pollInterval(Duration.ofMillis(10))
                .maxBackoff(Duration.ofMillis(500)).build().start();
    }

    /** The writers, for the configured time; with CRASHES, side 0's poller dies and restarts meanwhile. */
    private void write() throws Exception {
        long end = System.currentTimeMillis() + config.duration().toMillis();
        Object[][] locks = new Object[sides.length][config.keys()];
        long[][] indexes = new long[sides.length][config.keys()];
        for (Object[] row : locks) {
            for (int k = 0; k < row.length; k++) {
                row[k] = new Object();
            }
        }
        List<Thread> threads = new ArrayList<>();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        for (int i = 0; i < sides.length; i++) {
            TwoWayTable side = TwoWayTable.builder().client(clients[i]).table(table).side(sides[i])
                    .orderAttribute(ORDER).build();
            for (int t = 0; t < config.threadsPerSide(); t++) {
                int s = i;
                Random random = new Random(config.seed() * 31 + i * 7 + t);
                threads.add(new Thread(() -> {
                    try {
                        while (System.currentTimeMillis() < end) {
                            writeOne(side, s, random, locks, indexes);
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                }, "writer-" + sides[i] + "-" + t));
            }
        }
        threads.forEach(Thread::start);
        if (config.mode() == Mode.CRASHES) {
            for (int c = 0; c < 3; c++) {
                Thread.sleep(config.duration().toMillis() / 4); // the writers run meanwhile
                PollerAccess.crash(pollers[0]);
                crashes++;
                start(0, stores[0]); // restarts from what the crashed poller had stored
            }
        }
        for (Thread t : threads) {
            t.join();
        }
        if (!errors.isEmpty()) {
            throw new IllegalStateException("a writer failed", errors.get(0));
        }
    }

    private void writeOne(TwoWayTable side, int s, Random random, Object[][] locks, long[][] indexes) {
        int key = random.nextInt(config.keys());
        synchronized (locks[s][key]) { // one side's writes to one key in a known order
            Write last = lastByKey.get(key);
            long order;
            int r = random.nextInt(100);
            boolean tie = last != null && r < 12;
            if (tie) {
                order = last.order(); // equal order: from another side (8 %) or this one (4 %)
                ties.incrementAndGet();
            } else {
                order = clock.incrementAndGet();
            }
            int op = random.nextInt(100);
            boolean delete = op >= 75 && op < 95;
            long score = scores.incrementAndGet();
            Map<String, AttributeValue> key1 = Map.of("id", s("k" + key));
            try {
                if (delete) {
                    side.delete(key1, order);
                } else if (op < 40 || op >= 95) {
                    side.put(Map.of("id", s("k" + key), ORDER, n(Long.toString(order)), "score",
                            n(Long.toString(score)), "by", s(sides[s])));
                } else {
                    side.update(key1, order, "SET score = :s, #by = :b", Map.of("#by", "by"),
                            Map.of(":s", n(Long.toString(score)), ":b", s(sides[s])));
                }
            } catch (TwoWayTable.LosingWriteException lost) {
                refused.incrementAndGet();
                return;
            }
            Write w = new Write(key, order, delete, sides[s], indexes[s][key]++, score);
            log.add(w);
            lastByKey.merge(key, w, (a, b) -> RULE.compare(a, b) >= 0 ? a : b);
        }
    }

    /**
     * Waits until every side's checkpoint is at the end of its stream (nothing after it), twice in a row:
     * every change, including the replicators' own writes, is then read and acknowledged, and no
     * replicator write is in flight. No quiet-window guess.
     */
    private void awaitQuiet(CheckpointStore[] stores) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 600_000;
        int caughtUpRounds = 0;
        while (System.currentTimeMillis() < deadline) {
            boolean caughtUp = true;
            for (int i = 0; i < sides.length && caughtUp; i++) {
                caughtUp = atEnd(i, stores[i].load(arns[i]));
            }
            caughtUpRounds = caughtUp ? caughtUpRounds + 1 : 0;
            if (caughtUpRounds == 2) {
                return;
            }
            Thread.sleep(100); // polling real servers and threads, not the code under test's clock
        }
        throw new IllegalStateException("the replicators did not catch up within 10 minutes");
    }

    /** Whether no record of side i's stream lies after its checkpoints. */
    private boolean atEnd(int i, Map<String, Checkpoint> checkpoints) {
        var streams = local.streams(regions[i]);
        for (var shard : streams.describeStream(r -> r.streamArn(arns[i])).streamDescription().shards()) {
            Checkpoint cp = checkpoints.get(shard.shardId());
            var request = software.amazon.awssdk.services.dynamodb.model.GetShardIteratorRequest.builder()
                    .streamArn(arns[i]).shardId(shard.shardId());
            if (cp != null && cp.finished()) {
                continue;
            }
            if (cp == null || cp.sequenceNumber() == null) {
                request.shardIteratorType(software.amazon.awssdk.services.dynamodb.model.ShardIteratorType.TRIM_HORIZON);
            } else {
                request.shardIteratorType(software.amazon.awssdk.services.dynamodb.model.ShardIteratorType
                        .AFTER_SEQUENCE_NUMBER).sequenceNumber(cp.sequenceNumber());
            }
            String it = streams.getShardIterator(request.build()).shardIterator();
            if (it != null && !streams.getRecords(r -> r.shardIterator(it).limit(1)).records().isEmpty()) {
                return false;
            }
        }
        return true;
    }

    private Figures check(long replayWrites) {
        Map<Integer, Write> winners = new HashMap<>();
        int deletes = 0;
        for (Write w : log) {
            winners.merge(w.key(), w, (a, b) -> RULE.compare(a, b) >= 0 ? a : b);
            if (w.deleted()) {
                deletes++;
            }
        }
        List<Map<String, Map<String, AttributeValue>>> states = new ArrayList<>();
        for (DynamoDbClient c : clients) {
            states.add(Replicas.items(c, table, ORDER));
        }
        Set<String> differing = new HashSet<>();
        int resurrections = 0;
        int lost = 0;
        int wrong = 0;
        for (int key = 0; key < config.keys(); key++) {
            String id = "k" + key;
            Write win = winners.get(key);
            Map<String, AttributeValue> expected = win == null || win.deleted() ? null
                    : Map.of("id", s(id), ORDER, n(Long.toString(win.order())), "score", n(Long.toString(win.score())),
                            "by", s(win.side()));
            for (Map<String, Map<String, AttributeValue>> state : states) {
                Map<String, AttributeValue> actual = state.get(id);
                if (!Objects.equals(states.get(0).get(id), actual)) {
                    differing.add(id);
                }
                if (expected == null && actual != null) {
                    resurrections++;
                } else if (expected != null && actual == null) {
                    lost++;
                } else if (expected != null && !normalized(expected).equals(normalized(actual))) {
                    wrong++;
                }
            }
        }
        return new Figures(config.mode(), sides.length, log.size(), deletes, ties.get(), refused.get(),
                differing.size(), resurrections, lost, wrong, replicatorWrites.get(), replayWrites,
                deadLetters.letters().size(), wire == null ? 0 : wire.faulted().size(), crashes,
                System.currentTimeMillis() - started);
    }

    private static Map<String, String> normalized(Map<String, AttributeValue> item) {
        Map<String, String> out = new HashMap<>();
        item.forEach((k, v) -> out.put(k, v.n() != null ? new java.math.BigDecimal(v.n()).toPlainString() : v.s()));
        return out;
    }

    /** The long version: every mode for 20 s of writing, two sides, then two modes with three sides. */
    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        System.out.println("| mode | sides | application writes | refused | keys differing | resurrections | lost "
                + "updates | wrong winners | replicator writes | replay writes | dead letters | wire faults | crashes "
                + "| time |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        int failures = 0;
        for (int sides : new int[] {2, 3}) {
            for (Mode mode : Mode.values()) {
                if (sides == 3 && (mode == Mode.WIRE_FAULTS || mode == Mode.CRASHES)) {
                    continue;
                }
                Figures f = run(new Config(mode, sides, 2, 50, Duration.ofSeconds(seconds), 42 + sides));
                System.out.println(f);
                failures += f.converged() ? 0 : 1;
            }
        }
        System.exit(failures == 0 ? 0 : 1);
    }
}
