package io.cdcfanout.testkit;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkLimits;
import io.cdcfanout.api.sink.SinkResult;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A sink that fails on a script, and records what it delivers in a {@link RecordingSink}: fail
 * matching events k times, fail some fatally, throttle whole calls, or hold calls until released.
 * It keeps the sink contract: once an event of a key fails in a call, the later events of that key
 * in the same call fail too. Thread-safe.
 *
 * <pre>{@code
 * ScriptedSink<Item> sink = ScriptedSink.<Item>builder()
 *     .failTimes(e -> e.eventId().equals("evt-3"), 2)   // retryable, twice
 *     .fatalWhen(e -> e.eventId().equals("evt-7"), "too large")
 *     .throttleCalls(1)                                  // the first call throws a retryable error
 *     .build();
 * }</pre>
 *
 * @param <T> the image type it accepts
 */
public final class ScriptedSink<T> implements Sink<T> {
    private final RecordingSink<T> delivered;
    private final List<Rule> rules;
    private final AtomicInteger throttlesLeft;
    private final CountDownLatch gate;
    private final AtomicInteger calls = new AtomicInteger();
    private final AtomicInteger attemptsSeen = new AtomicInteger();
    private final ConcurrentHashMap<Object, AtomicInteger> failures = new ConcurrentHashMap<>();

    private record Rule(Predicate<ChangeEvent<?>> when, int times, boolean fatal, String reason) {
    }

    private ScriptedSink(Builder<T> b) {
        this.delivered = new RecordingSink<>(b.limits, ChangeEvent::sizeBytes);
        this.rules = List.copyOf(b.rules);
        this.throttlesLeft = new AtomicInteger(b.throttles);
        this.gate = b.gate;
    }

    public static <T> Builder<T> builder() {
        return new Builder<>();
    }

    @Override
    public SinkResult write(SinkBatch<? extends T> batch) {
        calls.incrementAndGet();
        attemptsSeen.addAndGet(batch.size());
        if (gate != null) {
            try {
                if (!gate.await(1, TimeUnit.MINUTES)) {
                    throw CdcException.retryable("scripted gate stayed closed for a minute", null);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw CdcException.retryable("interrupted at the scripted gate", e);
            }
        }
        if (throttlesLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw CdcException.retryable("scripted throttling", null);
        }
        List<? extends ChangeEvent<? extends T>> events = batch.events();
        SinkResult.Builder result = SinkResult.builder(events.size()).count("requests", 1);
        List<ChangeEvent<? extends T>> ok = new ArrayList<>();
        Set<EventKey> failedKeys = new HashSet<>();
        for (int i = 0; i < events.size(); i++) {
            ChangeEvent<? extends T> e = events.get(i);
            if (failedKeys.contains(e.key())) {
                result.fail(i, "held behind an earlier failed event of its key", true);
                continue;
            }
            Rule rule = firing(e);
            if (rule == null) {
                ok.add(e);
            } else {
                result.fail(i, rule.reason, !rule.fatal);
                failedKeys.add(e.key());
            }
        }
        delivered.record(batch, ok);
        return result.build();
    }

    private Rule firing(ChangeEvent<?> e) {
        for (int r = 0; r < rules.size(); r++) {
            Rule rule = rules.get(r);
            if (!rule.when.test(e)) {
                continue;
            }
            if (rule.fatal) {
                return rule;
            }
            AtomicInteger count = failures.computeIfAbsent(List.of(r, e.eventId()), k -> new AtomicInteger());
            if (count.getAndIncrement() < rule.times) {
                return rule;
            }
        }
        return null;
    }

    @Override
    public SinkLimits limits() {
        return delivered.limits();
    }

    /** What the sink delivered, in order. */
    public RecordingSink<T> delivered() {
        return delivered;
    }

    /** How many times {@link #write} was called. */
    public int calls() {
        return calls.get();
    }

    /** How many events were offered in all, counting every resend. */
    public int eventsOffered() {
        return attemptsSeen.get();
    }

    @Override
    public void close() {
        delivered.close();
    }

    /** Builds a {@link ScriptedSink}; rules are checked in the order they were added. */
    public static final class Builder<T> {
        private final List<Rule> rules = new ArrayList<>();
        private int throttles;
        private CountDownLatch gate;
        private SinkLimits limits = SinkLimits.NONE;

        private Builder() {
        }

        /** Matching events fail retryably the first {@code times} times each is offered. */
        public Builder<T> failTimes(Predicate<ChangeEvent<?>> when, int times) {
            Objects.requireNonNull(when, "when must not be null");
            if (times < 1) {
                throw new IllegalArgumentException("times must be at least 1 (was " + times + ")");
            }
            rules.add(new Rule(when, times, false, "scripted retryable failure"));
            return this;
        }

        /** The event with this id fails retryably the first {@code times} times. */
        public Builder<T> failEvent(String eventId, int times) {
            Objects.requireNonNull(eventId, "eventId must not be null");
            return failTimes(e -> e.eventId().equals(eventId), times);
        }

        /** Matching events always fail fatally with {@code reason}. */
        public Builder<T> fatalWhen(Predicate<ChangeEvent<?>> when, String reason) {
            Objects.requireNonNull(when, "when must not be null");
            Objects.requireNonNull(reason, "reason must not be null");
            rules.add(new Rule(when, Integer.MAX_VALUE, true, reason));
            return this;
        }

        /** The first {@code calls} calls throw a retryable {@link CdcException}, as a throttled service would. */
        public Builder<T> throttleCalls(int calls) {
            if (calls < 0) {
                throw new IllegalArgumentException("calls must be at least 0 (was " + calls + ")");
            }
            this.throttles = calls;
            return this;
        }

        /** Every call waits until {@code gate} opens (at most a minute), to play a slow sink. */
        public Builder<T> gate(CountDownLatch gate) {
            this.gate = Objects.requireNonNull(gate, "gate must not be null");
            return this;
        }

        /** The limits the sink declares. */
        public Builder<T> limits(SinkLimits limits) {
            this.limits = Objects.requireNonNull(limits, "limits must not be null");
            return this;
        }

        public ScriptedSink<T> build() {
            return new ScriptedSink<>(this);
        }
    }
}
