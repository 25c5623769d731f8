package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.sink.DeadLetterSink;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkLimits;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One route: its buffer, its lanes and its delivery.
 *
 * <p>Events wait in a FIFO queue. A <em>batch</em> (a job) takes events from the queue when a trigger
 * fires (count, bytes, age, flush, close), skipping events whose order key ({@link Sink#orderKey}) is
 * held by another batch in progress, and holding the keys it takes in the {@link KeyGate} until their
 * events settle. Up to {@link Route#concurrency()} batches are in progress at once (lanes), and up to
 * {@link Sink#maxConcurrentCalls()} of them call the sink at once. So events of one key reach the sink
 * one call at a time and in order, a later event never overtakes an earlier failed one, and a key in
 * backoff holds up only its own lane. A batch calls the sink, retries only the failed events with
 * backoff on the scheduler (never sleeping a thread), dead-letters what cannot be delivered through
 * the {@link DeadLetterWriter}, and settles every event exactly once. {@link FlushWaiters} completes
 * {@code flush()} when the events it covers settle, in whatever order.
 *
 * <p>The lock guards only bookkeeping; it is never held while calling a sink, a listener or an
 * executor, nor while completing a caller's future.
 */
final class RouteWorker<T, R> {
    private static final Logger LOG = LoggerFactory.getLogger(RouteWorker.class);
    /** How often a producer waiting for room looks at the clock again. */
    static final long CLOCK_RECHECK_MILLIS = 20;

    private final String name;
    private final Route<T, R> route;
    private final Sink<? super R> sink;
    private final SinkLimits limits;
    private final int lanes;
    private final int maxCalls;
    private final Retry retry;
    private final Clock clock;
    private final ScheduledExecutorService scheduler;
    private final Executor executor;
    private final SafeListener listener;
    private final KeyGate gate = new KeyGate();
    private final Admission<T, R> admission;
    private final BatchDelivery<T, R> delivery;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notFull = lock.newCondition();
    // Guarded by lock.
    private final RouteBuffer<T, R> buffer;
    private final FlushWaiters waiters = new FlushWaiters();
    private final Set<Batch<T, R>> running = new LinkedHashSet<>();
    private final ArrayDeque<Batch<T, R>> waitingForCall = new ArrayDeque<>();
    private int held;
    private long outstanding;
    private int calls;
    private boolean timerArmed;
    private boolean closing;
    private long nextSeq;
    private long flushWatermark = -1;

    RouteWorker(Route<T, R> route, Clock clock, ScheduledExecutorService scheduler, Executor executor,
            SafeListener listener, DeadLetterSink deadLetters) {
        this.name = route.name();
        this.route = route;
        this.sink = route.sink();
        this.limits = sink.limits();
        this.admission = new Admission<>(route, limits);
        // Ages are rounded up to whole milliseconds; zero stays zero: "as soon as a call can go".
        this.buffer = new RouteBuffer<>(Math.min(route.buffer().maxEvents(), limits.maxBatchEvents()),
                Math.min(route.buffer().maxBytes(), limits.maxBatchBytes()),
                route.buffer().maxAge().plusNanos(999_999).toMillis());
        this.lanes = route.concurrency();
        this.maxCalls = Math.max(1, Math.min(route.concurrency(), sink.maxConcurrentCalls()));
        this.retry = Retry.of("cdc-route-" + name, retryConfig(route.retry()));
        this.clock = clock;
        this.scheduler = scheduler;
        this.executor = executor;
        this.listener = listener;
        DeadLetterWriter letters = new DeadLetterWriter(name, deadLetters, retry, scheduler, executor, listener);
        this.delivery = new BatchDelivery<>(this, route, retry, clock, scheduler, executor, listener, gate, letters);
    }

    private static RetryConfig retryConfig(RetryPolicy p) {
        IntervalFunction backoff = p.jitter() > 0
                ? IntervalFunction.ofExponentialRandomBackoff(p.initialBackoff(), p.multiplier(), p.jitter(),
                        p.maxBackoff())
                : IntervalFunction.ofExponentialBackoff(p.initialBackoff(), p.multiplier(), p.maxBackoff());
        return RetryConfig.custom()
                .maxAttempts(p.maxAttempts())
                .intervalFunction(backoff)
                .retryOnException(RouteWorker::isRetryable)
                .build();
    }

    static boolean isRetryable(Throwable t) {
        return !(t instanceof CdcException ce) || ce.retryable();
    }

    /** The entry for {@code event} on this route, or null when the route does not take it. */
    RouteEntry<T, R> admit(ChangeEvent<T> event, BatchTracker<T> tracker, int index, boolean applyFilter) {
        return admission.admit(event, tracker, index, applyFilter);
    }

    /**
     * Adds entries in order, blocking while the route is at capacity; entries that find no room
     * before the offer timeout, or that arrive while the route is halted or closing, are failed.
     */
    void enqueue(List<RouteEntry<T, R>> entries) {
        String halted = gate.haltReason();
        if (halted != null) {
            failAll(entries, 0, "route '" + name + "' is halted: " + halted);
            return;
        }
        // The deadline reads the injected clock, so a test drives it; the wait is sliced so that a
        // clock moved by hand is noticed within CLOCK_RECHECK_MILLIS.
        long deadline = clock.millis() + route.buffer().offerTimeout().toMillis();
        int capacity = route.buffer().capacity();
        int i = 0;
        int n = entries.size();
        while (i < n) {
            List<Batch<T, R>> jobs = null;
            String refusal = null;
            int added = 0;
            lock.lock();
            try {
                boolean reported = false;
                while (held >= capacity && !closing && gate.haltReason() == null) {
                    if (!reported) {
                        reported = true;
                        int h = held;
                        lock.unlock();
                        try {
                            listener.onBackpressure(name, h);
                        } finally {
                            lock.lock();
                        }
                        continue;
                    }
                    long left = deadline - clock.millis();
                    if (left <= 0) {
                        refusal = "route '" + name + "' stayed full (capacity " + capacity + ") for "
                                + route.buffer().offerTimeout() + "; the event was not accepted";
                        break;
                    }
                    try {
                        notFull.await(Math.min(left, CLOCK_RECHECK_MILLIS), TimeUnit.MILLISECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        refusal = "interrupted while waiting for room on route '" + name + "'";
                        break;
                    }
                }
                if (refusal == null && closing) {
                    refusal = "the pipeline closed before route '" + name + "' accepted the event";
                } else if (refusal == null && gate.haltReason() != null) {
                    refusal = "route '" + name + "' is halted: " + gate.haltReason();
                }
                if (refusal == null) {
                    long now = clock.millis();
                    while (i < n && held < capacity) {
                        RouteEntry<T, R> e = entries.get(i++);
                        e.seq = nextSeq++;
                        e.enqueuedAt = now;
                        e.orderKey = orderKey(e);
                        buffer.add(e, gate);
                        held++;
                        outstanding++;
                        added++;
                        if (buffer.callReady()) {
                            break;
                        }
                    }
                    jobs = nextJobsLocked(now);
                }
            } finally {
                lock.unlock();
            }
            if (added > 0) {
                listener.onEventsIn(name, added);
            }
            delivery.dispatch(jobs);
            if (refusal != null) {
                failAll(entries, i, refusal);
                return;
            }
        }
    }

    private Object orderKey(RouteEntry<T, R> e) {
        if (e.routed == null) {
            return e.original.key();
        }
        try {
            Object key = sink.orderKey(e.routed);
            return key == null ? e.routed.key() : key;
        } catch (RuntimeException ex) {
            return e.routed.key();
        }
    }

    void failAll(List<RouteEntry<T, R>> entries, int from, String reason) {
        for (int j = from; j < entries.size(); j++) {
            entries.get(j).failed(reason);
        }
    }

    // ---------------------------------------------------------------- buffer, triggers and lanes

    /** Every batch that may start now: a trigger fired, a lane and a call are free, and keys are free. */
    private List<Batch<T, R>> nextJobsLocked(long now) {
        List<Batch<T, R>> jobs = null;
        Batch<T, R> job;
        while ((job = takeJobLocked(now)) != null) {
            jobs = jobs == null ? new ArrayList<>(2) : jobs;
            jobs.add(job);
        }
        armTimerLocked(now);
        return jobs;
    }

    /**
     * Takes the next batch if a trigger has fired, a lane is free and a call can go: events from the
     * head of the queue whose order keys no other batch holds, up to the call's limits.
     */
    private Batch<T, R> takeJobLocked(long now) {
        if (buffer.isEmpty() || running.size() >= lanes || calls + waitingForCall.size() >= maxCalls) {
            return null;
        }
        FlushCause cause = buffer.cause(now, closing, gate.haltReason() != null, flushWatermark);
        if (cause == null) {
            return null;
        }
        Batch<T, R> job = new Batch<>(cause);
        buffer.fill(job, gate);
        if (job.entries.isEmpty()) {
            return null; // every key at the head is held: a settling batch will look again
        }
        running.add(job);
        calls++; // the batch's first call
        return job;
    }

    private void armTimerLocked(long now) {
        if (timerArmed || buffer.isEmpty() || running.size() >= lanes || calls + waitingForCall.size() >= maxCalls) {
            return;
        }
        long delay = buffer.ageDeadline() - now;
        if (delay <= 0) {
            return; // due but blocked on held keys: a settling batch looks again
        }
        try {
            scheduler.schedule(this::onTimer, delay, TimeUnit.MILLISECONDS);
            timerArmed = true;
        } catch (RejectedExecutionException e) {
            LOG.debug("Route '{}': scheduler rejected the age timer", name);
        }
    }

    private void onTimer() {
        lock.lock();
        try {
            timerArmed = false;
        } finally {
            lock.unlock();
        }
        kick();
    }

    /** Starts what may start now. */
    private void kick() {
        List<Batch<T, R>> jobs;
        lock.lock();
        try {
            jobs = nextJobsLocked(clock.millis());
        } finally {
            lock.unlock();
        }
        delivery.dispatch(jobs);
    }

    /** Sends everything queued now; completes when it has all settled. */
    CompletableFuture<Void> flush(boolean close) {
        List<Batch<T, R>> jobs;
        CompletableFuture<Void> done;
        lock.lock();
        try {
            if (close) {
                closing = true;
                notFull.signalAll();
            }
            long watermark = nextSeq - 1;
            flushWatermark = Math.max(flushWatermark, watermark);
            done = waiters.add(watermark, outstanding);
            jobs = nextJobsLocked(clock.millis());
        } finally {
            lock.unlock();
        }
        delivery.dispatch(jobs);
        return done;
    }

    /** Fails every unsettled event and halts the route; used when close times out. */
    void abort(String reason) {
        halt(reason);
        List<RouteEntry<T, R>> pending;
        List<Batch<T, R>> jobs;
        List<CompletableFuture<Void>> ready = new ArrayList<>();
        lock.lock();
        try {
            pending = buffer.drain(gate);
            held -= pending.size();
            for (RouteEntry<T, R> e : pending) {
                accountLocked(e, ready);
            }
            jobs = new ArrayList<>(running);
            waiters.all(ready);
            notFull.signalAll();
        } finally {
            lock.unlock();
        }
        failAll(pending, 0, reason);
        for (Batch<T, R> job : jobs) {
            failAll(job.entries, 0, reason);
        }
        FlushWaiters.complete(ready);
    }

    void resume() {
        gate.resume();
        kick();
    }

    void unpark(EventKey key) {
        gate.unpark(key);
    }

    String haltReason() {
        return gate.haltReason();
    }

    /** The route's sink, for closing each sink once. */
    Object sink() {
        return sink;
    }

    void closeSink() {
        try {
            sink.close();
        } catch (RuntimeException e) {
            LOG.warn("Route '{}': closing the sink threw {}", name, e.getClass().getName());
            LOG.debug("Route '{}': closing the sink threw", name, e);
        }
    }

    void halt(String reason) {
        if (!gate.halt(reason)) {
            return;
        }
        // The reason may quote item data (a sink's or dead letter's message): DEBUG only, and in full
        // to the listener. The log line says what happened and where to look.
        LOG.error("Route '{}' halted; its events are no longer acknowledged (the reason goes to "
                + "PipelineListener.onRouteHalted and to DEBUG)", name);
        LOG.debug("Route '{}' halted because: {}", name, reason);
        listener.onRouteHalted(name, reason);
    }

    // ---------------------------------------------------------------- settling and bookkeeping

    /** Counts an entry out of its key's hold and the flush waiters, once. */
    private void accountLocked(RouteEntry<T, R> e, List<CompletableFuture<Void>> ready) {
        if (e.accounted) {
            return;
        }
        e.accounted = true;
        outstanding--;
        if (e.holding) {
            e.holding = false;
            gate.release(e.orderKey);
        }
        waiters.settled(e.seq, ready);
    }

    /** Entries of a batch settled: frees their keys (so blocked events may go) and wakes waiters. */
    void settled(List<RouteEntry<T, R>> entries) {
        if (entries.isEmpty()) {
            return;
        }
        List<CompletableFuture<Void>> ready = new ArrayList<>();
        List<Batch<T, R>> jobs;
        lock.lock();
        try {
            for (RouteEntry<T, R> e : entries) {
                accountLocked(e, ready);
            }
            jobs = nextJobsLocked(clock.millis());
        } finally {
            lock.unlock();
        }
        FlushWaiters.complete(ready);
        delivery.dispatch(jobs);
    }

    /** A batch is over: its lane is free, its events leave the route's capacity. */
    void complete(Batch<T, R> job) {
        List<CompletableFuture<Void>> ready = new ArrayList<>();
        List<Batch<T, R>> resumed;
        List<Batch<T, R>> jobs;
        lock.lock();
        try {
            if (!running.remove(job)) {
                return;
            }
            if (job.holdsCall) {
                job.holdsCall = false;
                calls--;
            }
            for (RouteEntry<T, R> e : job.entries) {
                accountLocked(e, ready);
            }
            held -= job.entries.size();
            notFull.signalAll();
            resumed = nextCallsLocked();
            jobs = nextJobsLocked(clock.millis());
        } finally {
            lock.unlock();
        }
        FlushWaiters.complete(ready);
        if (resumed != null) {
            for (Batch<T, R> r : resumed) {
                delivery.run(r, () -> delivery.attempt(r));
            }
        }
        delivery.dispatch(jobs);
    }

    // ---------------------------------------------------------------- call slots

    /** Runs the batch's next attempt as soon as a call slot is free. */
    void callWhenFree(Batch<T, R> job) {
        boolean now;
        lock.lock();
        try {
            now = calls < maxCalls;
            if (now) {
                calls++;
                job.holdsCall = true;
            } else {
                waitingForCall.addLast(job);
            }
        } finally {
            lock.unlock();
        }
        if (now) {
            delivery.run(job, () -> delivery.attempt(job));
        }
    }

    /** A call returned: gives its slot to a waiting retry, or lets a new batch start. */
    void callDone(Batch<T, R> job) {
        List<Batch<T, R>> resumed;
        List<Batch<T, R>> jobs;
        lock.lock();
        try {
            if (job.holdsCall) {
                job.holdsCall = false;
                calls--;
            }
            resumed = nextCallsLocked();
            jobs = nextJobsLocked(clock.millis());
        } finally {
            lock.unlock();
        }
        if (resumed != null) {
            for (Batch<T, R> r : resumed) {
                delivery.run(r, () -> delivery.attempt(r));
            }
        }
        delivery.dispatch(jobs);
    }

    /** Waiting retries that get a call slot now; marked as holding it. */
    private List<Batch<T, R>> nextCallsLocked() {
        List<Batch<T, R>> out = null;
        while (!waitingForCall.isEmpty() && calls < maxCalls) {
            Batch<T, R> j = waitingForCall.pollFirst();
            calls++;
            j.holdsCall = true;
            out = out == null ? new ArrayList<>(1) : out;
            out.add(j);
        }
        return out;
    }

    static String describe(Throwable e) {
        String message = e.getMessage();
        return e.getClass().getName() + (message == null ? "" : ": " + message);
    }

    // ---------------------------------------------------------------- state holders


    /** What the route holds now. */
    PipelineStats.RouteStats stats() {
        lock.lock();
        try {
            int inFlight = 0;
            for (Batch<T, R> b : running) {
                inFlight += b.entries.size();
            }
            for (Batch<T, R> b : waitingForCall) {
                inFlight += b.entries.size();
            }
            return new PipelineStats.RouteStats(buffer.size(), buffer.bytes(), inFlight, gate.parkedCount(),
                    gate.haltReason() != null);
        } finally {
            lock.unlock();
        }
    }
}
