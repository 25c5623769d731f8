package io.cdcfanout.examples;

import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * What the examples share: a pipeline listener that counts per route, prints progress now and then,
 * and lets a caller wait for deliveries without sleeping blindly.
 */
public final class Flows {
    private Flows() {
    }

    /** Counts deliveries, dead letters and sink counters per route; prints progress at most once a second. */
    public static final class Progress implements PipelineListener {
        private final PrintStream out;
        private final Map<String, AtomicLong> counts = new ConcurrentHashMap<>();
        private final AtomicLong maxLagMillis = new AtomicLong();
        private long lastPrint = System.nanoTime();

        private final Map<String, AtomicLong> totals;

        /** A listener that prints to {@code out}. */
        public Progress(PrintStream out) {
            this(out, new ConcurrentHashMap<>());
        }

        /** A listener that also adds every count to {@code totals} (shared by several flows). */
        public Progress(PrintStream out, Map<String, AtomicLong> totals) {
            this.out = out;
            this.totals = totals;
        }

        @Override
        public void onEventsIn(String route, int events) {
            add(route + ".in", events);
        }

        @Override
        public void onDelivered(String route, int events, Duration lag) {
            add(route + ".delivered", events);
            maxLagMillis.accumulateAndGet(lag.toMillis(), Math::max);
            report();
        }

        @Override
        public void onDeadLetter(DeadLetter letter) {
            add(letter.route() + ".deadLettered", 1);
            report();
        }

        @Override
        public void onSinkCounters(String route, Map<String, Long> counters) {
            counters.forEach((name, value) -> add(route + "." + name, value));
        }

        private void add(String name, long delta) {
            counts.computeIfAbsent(name, k -> new AtomicLong()).addAndGet(delta);
            totals.computeIfAbsent(name, k -> new AtomicLong()).addAndGet(delta);
            synchronized (this) {
                notifyAll();
            }
        }

        private synchronized void report() {
            if (System.nanoTime() - lastPrint > TimeUnit.SECONDS.toNanos(1)) {
                lastPrint = System.nanoTime();
                StringBuilder line = new StringBuilder("    ... ");
                counts.entrySet().stream().filter(e -> e.getKey().endsWith(".delivered")).sorted(Map.Entry.comparingByKey())
                        .forEach(e -> line.append(e.getKey().replace(".delivered", "")).append(' ')
                                .append(e.getValue()).append("  "));
                out.println(line.toString().stripTrailing());
            }
        }

        /** A counter such as {@code archive.delivered} or {@code archive.s3.objects}; 0 if never counted. */
        public long count(String name) {
            AtomicLong v = counts.get(name);
            return v == null ? 0 : v.get();
        }

        /** The largest lag (now minus creation time) of a delivered batch, in milliseconds. */
        public long maxLagMillis() {
            return maxLagMillis.get();
        }

        /**
         * Waits until {@code done} holds, waking on each delivery.
         *
         * @throws IllegalStateException if it does not hold within {@code timeout}
         */
        public void await(BooleanSupplier done, Duration timeout, String what) {
            await(done, null, timeout, what);
        }

        /**
         * Waits until {@code done} holds, waking on each delivery, and gives up early if {@code poller}
         * (when not null) stops with a failure.
         *
         * @throws IllegalStateException on a timeout or a failed poller
         */
        public void await(BooleanSupplier done, StreamPoller poller, Duration timeout, String what) {
            long deadline = System.nanoTime() + timeout.toNanos();
            synchronized (this) {
                while (!done.getAsBoolean()) {
                    if (poller != null && poller.failure().isPresent()) {
                        throw new IllegalStateException("the poller failed while waiting for " + what,
                                poller.failure().get());
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new IllegalStateException("timed out after " + timeout + " waiting for " + what
                                + "; counts: " + counts);
                    }
                    try {
                        TimeUnit.NANOSECONDS.timedWait(this, Math.min(left, TimeUnit.MILLISECONDS.toNanos(200)));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException("interrupted waiting for " + what, e);
                    }
                }
            }
        }
    }
}
