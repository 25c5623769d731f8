package io.cdcfanout.local;

import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import java.math.BigInteger;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Lambda's event source mapping for a DynamoDB stream, driving any
 * {@code RequestHandler<DynamodbEvent, StreamsEventResponse>} the way the service does, over a
 * {@link StreamSimulator}'s stream on its virtual clock:
 * <ul>
 *   <li>each shard is read in order, a parent to its end before its children;</li>
 *   <li>batches of up to {@link Builder#batchSize} records, waiting up to
 *       {@link Builder#maximumBatchingWindow} (virtual) for a batch to fill;</li>
 *   <li>{@link Builder#parallelizationFactor} batches of one shard at once, a record's sub-batch chosen
 *       by its partition key, so each item's changes stay in order;</li>
 *   <li>with {@link Builder#reportBatchItemFailures}, a partial response restarts at the lowest failed
 *       sequence number (an identifier that names no record of the batch fails it whole); without it the
 *       response is ignored;</li>
 *   <li>a function error (thrown, timed out, container killed) retries the batch, halved first with
 *       {@link Builder#bisectBatchOnFunctionError}; after {@link Builder#maximumRetryAttempts} or past
 *       {@link Builder#maximumRecordAge} the batch is skipped and its metadata goes to the on-failure
 *       destination ({@link #failures()});</li>
 *   <li>containers: each holds its own handler (its static state with {@link Builder#isolatedHandler}),
 *       is reused warm, started cold on scale-out, killed mid-invocation by chance
 *       ({@link Builder#killProbability}) or on the function timeout; a retry lands in another one. A
 *       handler that is {@link AutoCloseable} is closed when its container ends (killed, timed out, or the
 *       simulator closed), so the threads it started end as they would with the process.</li>
 * </ul>
 * Handlers run on real threads and in real time (the function timeout too); the stream's time moves
 * only with its clock. {@link #step()} runs one round: every batch that is due, at once. Not thread-safe.
 */
public final class EventSourceMappingSimulator implements AutoCloseable {

    /** What the on-failure destination gets for a skipped batch (its {@code DDBStreamBatchInfo}). */
    public record FailureRecord(String condition, String shardId, String startSequenceNumber,
            String endSequenceNumber, int batchSize, Instant approximateArrivalOfFirstRecord,
            Instant approximateArrivalOfLastRecord, int approximateInvokeCount, String functionError) {
    }

    /**
     * What the mapping did: invocations, cold starts, containers killed, timeouts, the most invocations
     * at once, records acknowledged, records skipped to the destination, records trimmed before the
     * mapping read them, bisections, partial batch responses.
     */
    public record Stats(int invocations, int coldStarts, int kills, int timeouts, int maxConcurrent,
            long recordsAcknowledged, long recordsSkipped, long recordsLost, long bisections, long partialFailures) {
    }

    private final class Sub {
        final ArrayDeque<SimulatedStream.Rec> pending = new ArrayDeque<>();
        Instant waitingSince;
        int limit;
        int attempts;
        int lastContainer = -1;
    }

    private final class Lane {
        final SimulatedStream.Shard shard;
        int taken;
        final Sub[] subs;
        boolean done;

        Lane(SimulatedStream.Shard shard) {
            this.shard = shard;
            this.subs = new Sub[parallelization];
            for (int i = 0; i < subs.length; i++) {
                subs[i] = new Sub();
                subs[i].limit = batchSize;
            }
        }

        boolean drained() {
            for (Sub s : subs) {
                if (!s.pending.isEmpty()) {
                    return false;
                }
            }
            return true;
        }
    }

    private record Call(Lane lane, Sub sub, List<SimulatedStream.Rec> batch,
            CompletableFuture<SimulatedContainers.Outcome> outcome) {
    }

    private final SimulatedStream stream;
    private final Clock clock;
    private final int batchSize;
    private final Duration window;
    private final int parallelization;
    private final boolean reportFailures;
    private final boolean bisect;
    private final int maxRetries;
    private final Duration maxAge;
    private final SimulatedContainers containers;
    private final Map<String, Lane> lanes = new LinkedHashMap<>();
    private final Set<String> finished = new HashSet<>();
    private final List<FailureRecord> failures = new ArrayList<>();
    private long acknowledged;
    private long skipped;
    private long lost;
    private long bisections;
    private long partials;

    private EventSourceMappingSimulator(Builder b) {
        this.stream = b.source.stream();
        this.clock = b.clock;
        this.batchSize = b.batchSize;
        this.window = b.window;
        this.parallelization = b.parallelization;
        this.reportFailures = b.reportFailures;
        this.bisect = b.bisect;
        this.maxRetries = b.maxRetries;
        this.maxAge = b.maxAge;
        this.containers = new SimulatedContainers(b.handlers, b.timeout, b.killProbability, b.seed, b.functionName);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * One round at the clock's time now: takes the stream's new records, then invokes every batch that
     * is due (full, past its window, or the end of a closed shard) at once, and waits for them.
     *
     * @return how many invocations the round made
     */
    public int step() {
        stream.catchUp();
        List<SimulatedStream.Shard> shards = stream.shards();
        Set<String> present = new HashSet<>();
        for (SimulatedStream.Shard s : shards) {
            present.add(s.id);
            if (!finished.contains(s.id)) {
                lanes.computeIfAbsent(s.id, k -> new Lane(s));
            }
        }
        lanes.values().removeIf(l -> !present.contains(l.shard.id) && l.drained()); // left the stream
        Instant now = clock.instant();
        List<Call> calls = new ArrayList<>();
        for (Lane lane : lanes.values()) {
            String parent = lane.shard.parentId;
            if (parent != null && !finished.contains(parent) && lanes.containsKey(parent)) {
                continue; // a parent to its end before its children
            }
            take(lane);
            boolean ended = stream.closed(lane.shard) && lane.taken >= lane.shard.size();
            for (Sub sub : lane.subs) {
                expire(lane, sub, now);
                if (sub.pending.isEmpty()) {
                    continue;
                }
                boolean full = sub.pending.size() >= sub.limit;
                boolean waited = !sub.waitingSince.plus(window).isAfter(now);
                if (full || waited || ended || sub.attempts > 0) {
                    List<SimulatedStream.Rec> batch = new ArrayList<>();
                    for (SimulatedStream.Rec r : sub.pending) {
                        if (batch.size() == sub.limit) {
                            break;
                        }
                        batch.add(r);
                    }
                    calls.add(new Call(lane, sub, batch, containers.invoke(LambdaPayloads.eventJson(stream, batch),
                            sub.lastContainer)));
                }
            }
        }
        for (Call c : calls) {
            settle(c, c.outcome().join());
        }
        for (Lane lane : List.copyOf(lanes.values())) {
            if (stream.closed(lane.shard) && lane.taken >= lane.shard.size() && lane.drained()) {
                finished.add(lane.shard.id);
                lanes.remove(lane.shard.id);
            }
        }
        return calls.size();
    }

    /** Steps until every record written so far is acknowledged or skipped, at most {@code maxRounds}. */
    public void drain(int maxRounds) {
        for (int i = 0; i < maxRounds; i++) {
            step();
            boolean idle = true;
            for (Lane lane : lanes.values()) {
                if (!lane.drained() || lane.taken < lane.shard.size()) {
                    idle = false;
                }
            }
            if (idle) {
                return;
            }
        }
    }

    private void take(Lane lane) {
        synchronized (stream) {
            if (lane.taken < lane.shard.trimmed) {
                lost += lane.shard.trimmed - lane.taken; // trimmed before the mapping read them
                lane.taken = lane.shard.trimmed;
            }
            Instant now = clock.instant();
            while (lane.taken < lane.shard.size()) {
                SimulatedStream.Rec r = lane.shard.at(lane.taken++);
                Sub sub = lane.subs[Math.floorMod(partitionKey(r).hashCode(), parallelization)];
                if (sub.pending.isEmpty()) {
                    sub.waitingSince = now;
                }
                sub.pending.add(r);
            }
        }
    }

    private String partitionKey(SimulatedStream.Rec r) {
        return r.keys().get(stream.keyNames.get(0)).toString();
    }

    /** Skips, from the head of the sub-batch, records past the maximum record age. */
    private void expire(Lane lane, Sub sub, Instant now) {
        if (maxAge == null) {
            return;
        }
        List<SimulatedStream.Rec> old = new ArrayList<>();
        while (!sub.pending.isEmpty() && sub.pending.peekFirst().created().plus(maxAge).isBefore(now)) {
            old.add(sub.pending.pollFirst());
        }
        if (!old.isEmpty()) {
            skip(lane, sub, old, "RecordAgeExceeded", null);
        }
    }

    private void settle(Call c, SimulatedContainers.Outcome o) {
        Sub sub = c.sub();
        sub.lastContainer = o.container();
        List<SimulatedStream.Rec> batch = c.batch();
        int acked;
        if (o.error()) {
            acked = 0;
        } else if (!reportFailures || o.failures().isEmpty()) {
            acked = batch.size();
        } else {
            partials++;
            acked = lowestFailed(batch, o.failures());
        }
        for (int i = 0; i < acked; i++) {
            sub.pending.pollFirst();
        }
        acknowledged += acked;
        if (acked == batch.size()) {
            sub.attempts = 0;
            sub.limit = Math.min(batchSize, sub.limit * 2);
            if (!sub.pending.isEmpty()) {
                sub.waitingSince = clock.instant();
            }
            return;
        }
        if (o.error() && bisect && batch.size() > 1) {
            bisections++;
            sub.limit = Math.max(1, batch.size() / 2); // a split does not count as a retry
            return;
        }
        sub.attempts++;
        if (maxRetries >= 0 && sub.attempts > maxRetries) {
            List<SimulatedStream.Rec> rest = new ArrayList<>();
            for (int i = acked; i < batch.size(); i++) {
                rest.add(sub.pending.pollFirst());
            }
            skip(c.lane(), sub, rest, "RetryAttemptsExhausted", o.functionError());
        }
    }

    /** How many records of the batch come before the lowest failed one; 0 if an identifier names none. */
    private static int lowestFailed(List<SimulatedStream.Rec> batch, List<String> ids) {
        Map<String, Integer> index = new HashMap<>();
        for (int i = 0; i < batch.size(); i++) {
            index.put(batch.get(i).seq(), i);
        }
        int lowest = batch.size();
        for (String id : ids) {
            Integer at = id == null ? null : index.get(id);
            if (at == null) {
                return 0; // an invalid identifier fails the whole batch
            }
            lowest = Math.min(lowest, at);
        }
        return lowest;
    }

    private void skip(Lane lane, Sub sub, List<SimulatedStream.Rec> records, String condition, String error) {
        skipped += records.size();
        failures.add(new FailureRecord(condition, lane.shard.id, records.get(0).seq(),
                records.get(records.size() - 1).seq(), records.size(), records.get(0).created(),
                records.get(records.size() - 1).created(), sub.attempts + 1, error));
        sub.attempts = 0;
        sub.limit = batchSize;
    }

    /** The on-failure destination's records, in order. */
    public List<FailureRecord> failures() {
        return List.copyOf(failures);
    }

    public Stats stats() {
        return new Stats(containers.invocations.get(), containers.coldStarts.get(), containers.kills.get(),
                containers.timeouts.get(), containers.maxConcurrent.get(), acknowledged, skipped, lost, bisections,
                partials);
    }

    /** Sequence numbers compare as numbers. */
    static int compare(String a, String b) {
        return new BigInteger(a).compareTo(new BigInteger(b));
    }

    @Override
    public void close() {
        containers.close();
    }

    /** Builds an {@link EventSourceMappingSimulator}; the stream, the clock and the handler are required. */
    public static final class Builder {
        private StreamSimulator source;
        private Clock clock;
        private Supplier<? extends RequestHandler<DynamodbEvent, StreamsEventResponse>> handlers;
        private int batchSize = 100;
        private Duration window = Duration.ZERO;
        private int parallelization = 1;
        private boolean reportFailures;
        private boolean bisect;
        private int maxRetries = -1;
        private Duration maxAge;
        private Duration timeout = Duration.ofSeconds(30);
        private double killProbability;
        private long seed = 1;
        private String functionName = "simulated-function";

        private Builder() {
        }

        /** The stream to read, and its clock. */
        public Builder stream(StreamSimulator source, Clock clock) {
            this.source = Objects.requireNonNull(source, "stream must not be null");
            this.clock = Objects.requireNonNull(clock, "clock must not be null");
            return this;
        }

        /** A new handler for each cold start; the instance is the container's (its fields, not its statics). */
        public Builder handler(Supplier<? extends RequestHandler<DynamodbEvent, StreamsEventResponse>> handlers) {
            this.handlers = Objects.requireNonNull(handlers, "handler must not be null");
            return this;
        }

        /**
         * Each container loads {@code handlerClass}'s package afresh and builds the handler with its public
         * no-argument constructor, so static fields (the README's processor in a static field) are per
         * container, as on Lambda.
         */
        public Builder isolatedHandler(Class<? extends RequestHandler<DynamodbEvent, StreamsEventResponse>> handlerClass) {
            Objects.requireNonNull(handlerClass, "handlerClass must not be null");
            this.handlers = SimulatedContainers.isolated(handlerClass);
            return this;
        }

        /** BatchSize: 1 to 10,000 records; 100 by default. */
        public Builder batchSize(int n) {
            if (n < 1 || n > 10_000) {
                throw new IllegalArgumentException("batchSize must be between 1 and 10000 (was " + n + ")");
            }
            this.batchSize = n;
            return this;
        }

        /** MaximumBatchingWindowInSeconds: 0 to 300 s; 0 by default. */
        public Builder maximumBatchingWindow(Duration window) {
            Objects.requireNonNull(window, "maximumBatchingWindow must not be null");
            if (window.isNegative() || window.compareTo(Duration.ofSeconds(300)) > 0) {
                throw new IllegalArgumentException("maximumBatchingWindow must be between 0 and 300 seconds (was "
                        + window + ")");
            }
            this.window = window;
            return this;
        }

        /** ParallelizationFactor: 1 to 10; 1 by default. */
        public Builder parallelizationFactor(int n) {
            if (n < 1 || n > 10) {
                throw new IllegalArgumentException("parallelizationFactor must be between 1 and 10 (was " + n + ")");
            }
            this.parallelization = n;
            return this;
        }

        /** FunctionResponseTypes: [ReportBatchItemFailures]; off by default, as on AWS. */
        public Builder reportBatchItemFailures(boolean on) {
            this.reportFailures = on;
            return this;
        }

        /** BisectBatchOnFunctionError; off by default. */
        public Builder bisectBatchOnFunctionError(boolean on) {
            this.bisect = on;
            return this;
        }

        /** MaximumRetryAttempts: -1 (for ever, the default) or 0 to 10,000. */
        public Builder maximumRetryAttempts(int n) {
            if (n < -1 || n > 10_000) {
                throw new IllegalArgumentException("maximumRetryAttempts must be -1 or between 0 and 10000 (was " + n
                        + ")");
            }
            this.maxRetries = n;
            return this;
        }

        /** MaximumRecordAgeInSeconds: 60 s to 7 days; none (for ever) by default. */
        public Builder maximumRecordAge(Duration age) {
            Objects.requireNonNull(age, "maximumRecordAge must not be null");
            if (age.compareTo(Duration.ofSeconds(60)) < 0 || age.compareTo(Duration.ofDays(7)) > 0) {
                throw new IllegalArgumentException("maximumRecordAge must be between 60 seconds and 7 days (was " + age
                        + ")");
            }
            this.maxAge = age;
            return this;
        }

        /** The function timeout, in real time (handlers run in real time); 30 s by default. */
        public Builder functionTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "functionTimeout must not be null");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("functionTimeout must be positive (was " + timeout + ")");
            }
            this.timeout = timeout;
            return this;
        }

        /** The chance that an invocation's container is killed mid-invocation; 0 by default. */
        public Builder killProbability(double p) {
            if (!(p >= 0 && p < 1)) {
                throw new IllegalArgumentException("killProbability must be at least 0 and below 1 (was " + p + ")");
            }
            this.killProbability = p;
            return this;
        }

        /** The seed of the kills and of container choice. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** The function's name, for its context. */
        public Builder functionName(String name) {
            this.functionName = Objects.requireNonNull(name, "functionName must not be null");
            return this;
        }

        /**
         * A mapping, not yet stepped.
         *
         * @throws IllegalStateException if the stream or the handler is missing
         */
        public EventSourceMappingSimulator build() {
            if (source == null) {
                throw new IllegalStateException("stream is required: stream(simulator, clock)");
            }
            if (handlers == null) {
                throw new IllegalStateException("a handler is required: handler(...) or isolatedHandler(...)");
            }
            return new EventSourceMappingSimulator(this);
        }
    }
}
