package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.api.sink.DeadLetterSink;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkLimits;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.api.sink.SinkUnavailableException;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
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
    private final int callEvents;
    private final long callBytes;
    private final long maxAgeMillis;
    private final int lanes;
    private final int maxCalls;
    private final Retry retry;
    private final Clock clock;
    private final ScheduledExecutorService scheduler;
    private final Executor executor;
    private final SafeListener listener;
    private final DeadLetterWriter deadLetters;
    private final KeyGate gate = new KeyGate();

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notFull = lock.newCondition();
    // Guarded by lock.
    private final ArrayDeque<Entry<T, R>> queue = new ArrayDeque<>();
    private final FlushWaiters waiters = new FlushWaiters();
    private final Set<Job> running = new LinkedHashSet<>();
    private final ArrayDeque<Job> waitingForCall = new ArrayDeque<>();
    private long queuedBytes;
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
        this.callEvents = Math.min(route.buffer().maxEvents(), limits.maxBatchEvents());
        this.callBytes = Math.min(route.buffer().maxBytes(), limits.maxBatchBytes());
        // Rounded up to whole milliseconds; zero stays zero: "as soon as a call can go".
        Duration age = route.buffer().maxAge();
        this.maxAgeMillis = age.plusNanos(999_999).toMillis();
        this.lanes = route.concurrency();
        this.maxCalls = Math.max(1, Math.min(route.concurrency(), sink.maxConcurrentCalls()));
        this.retry = Retry.of("cdc-route-" + name, retryConfig(route.retry()));
        this.clock = clock;
        this.scheduler = scheduler;
        this.executor = executor;
        this.listener = listener;
        this.deadLetters = new DeadLetterWriter(name, deadLetters, retry, scheduler, executor, listener);
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

    // ---------------------------------------------------------------- intake (submitting thread)

    /**
     * The entry for {@code event} on this route, or null when the route does not take it. User code
     * that throws (filter, transform, size estimate) yields a poison entry, never an exception.
     */
    Entry<T, R> admit(ChangeEvent<T> event, BatchTracker<T> tracker, int index, boolean applyFilter) {
        if (event.defect().isPresent()) {
            // The filter and transform can't be trusted on a record the source could not map.
            return poison(tracker, index, event, "the source could not map the record: " + event.defect().get());
        }
        if (applyFilter) {
            try {
                if (!route.filter().test(event)) {
                    return null;
                }
            } catch (RuntimeException e) {
                return poison(tracker, index, event, "the route's filter threw " + describe(e));
            }
        }
        ChangeEvent<R> routed;
        try {
            routed = route.transform().apply(event);
        } catch (RuntimeException e) {
            return poison(tracker, index, event, "the route's transform threw " + describe(e));
        }
        if (routed == null) {
            return null;
        }
        long size;
        try {
            size = Math.max(0, sink.estimateSize(routed));
        } catch (RuntimeException e) {
            return poison(tracker, index, event, "the sink could not size the event: " + describe(e));
        }
        if (size > limits.maxEventBytes()) {
            return poison(tracker, index, event, "event is " + size + " bytes, over the sink's limit of "
                    + limits.maxEventBytes() + " bytes per event (maxEventBytes)");
        }
        Entry<T, R> entry = new Entry<>(tracker, index, event, routed, null, size);
        entry.redriven = !applyFilter;
        return entry;
    }

    private Entry<T, R> poison(BatchTracker<T> tracker, int index, ChangeEvent<T> event, String reason) {
        return new Entry<>(tracker, index, event, null, reason, 0);
    }

    /**
     * Adds entries in order, blocking while the route is at capacity; entries that find no room
     * before the offer timeout, or that arrive while the route is halted or closing, are failed.
     */
    void enqueue(List<Entry<T, R>> entries) {
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
            List<Job> jobs = null;
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
                        Entry<T, R> e = entries.get(i++);
                        e.seq = nextSeq++;
                        e.enqueuedAt = now;
                        e.orderKey = orderKey(e);
                        queue.addLast(e);
                        queuedBytes += e.size;
                        held++;
                        outstanding++;
                        added++;
                        if (queue.size() >= callEvents || queuedBytes >= callBytes) {
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
            dispatch(jobs);
            if (refusal != null) {
                failAll(entries, i, refusal);
                return;
            }
        }
    }

    private Object orderKey(Entry<T, R> e) {
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

    private void failAll(List<Entry<T, R>> entries, int from, String reason) {
        for (int j = from; j < entries.size(); j++) {
            entries.get(j).failed(reason);
        }
    }

    // ---------------------------------------------------------------- buffer, triggers and lanes

    /** Every batch that may start now: a trigger fired, a lane and a call are free, and keys are free. */
    private List<Job> nextJobsLocked(long now) {
        List<Job> jobs = null;
        Job job;
        while ((job = takeJobLocked(now)) != null) {
            jobs = jobs == null ? new ArrayList<>(2) : jobs;
            jobs.add(job);
        }
        armTimerLocked(now);
        return jobs;
    }

    /** Why the queue should be sent now, or null. */
    private FlushCause causeLocked(long now) {
        Entry<T, R> head = queue.peekFirst();
        if (closing) {
            return FlushCause.CLOSE;
        } else if (gate.haltReason() != null || head.seq <= flushWatermark) {
            return FlushCause.FLUSH;
        } else if (queue.size() >= callEvents) {
            // A full call is ready: maxEvents, or the sink's own limit when that is lower.
            return FlushCause.COUNT;
        } else if (queuedBytes >= callBytes) {
            return FlushCause.BYTES;
        } else if (now - head.enqueuedAt >= maxAgeMillis) {
            return FlushCause.AGE;
        }
        return null;
    }

    /**
     * Takes the next batch if a trigger has fired, a lane is free and a call can go: events from the
     * head of the queue whose order keys no other batch holds, up to the call's limits.
     */
    private Job takeJobLocked(long now) {
        if (queue.isEmpty() || running.size() >= lanes || calls + waitingForCall.size() >= maxCalls) {
            return null;
        }
        FlushCause cause = causeLocked(now);
        if (cause == null) {
            return null;
        }
        Job job = new Job(cause);
        List<Entry<T, R>> skipped = null;
        long bytes = 0;
        while (!queue.isEmpty() && job.entries.size() < callEvents) {
            Entry<T, R> e = queue.peekFirst();
            if (!job.entries.isEmpty() && bytes + e.size > callBytes) {
                break;
            }
            queue.pollFirst();
            if (!gate.hold(e.orderKey, job)) {
                // Another batch holds this key: the event waits, and so do its key's later ones.
                skipped = skipped == null ? new ArrayList<>() : skipped;
                skipped.add(e);
                continue;
            }
            e.holding = true;
            queuedBytes -= e.size;
            bytes += e.size;
            job.entries.add(e);
        }
        if (skipped != null) {
            for (int k = skipped.size() - 1; k >= 0; k--) {
                queue.addFirst(skipped.get(k));
            }
        }
        if (job.entries.isEmpty()) {
            return null; // every key at the head is held: a settling batch will look again
        }
        job.bytes = bytes;
        running.add(job);
        calls++; // the batch's first call
        return job;
    }

    private void armTimerLocked(long now) {
        if (timerArmed || queue.isEmpty() || running.size() >= lanes || calls + waitingForCall.size() >= maxCalls) {
            return;
        }
        long delay = queue.peekFirst().enqueuedAt + maxAgeMillis - now;
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
        List<Job> jobs;
        lock.lock();
        try {
            jobs = nextJobsLocked(clock.millis());
        } finally {
            lock.unlock();
        }
        dispatch(jobs);
    }

    /** Sends everything queued now; completes when it has all settled. */
    CompletableFuture<Void> flush(boolean close) {
        List<Job> jobs;
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
        dispatch(jobs);
        return done;
    }

    /** Fails every unsettled event and halts the route; used when close times out. */
    void abort(String reason) {
        halt(reason);
        List<Entry<T, R>> pending;
        List<Job> jobs;
        List<CompletableFuture<Void>> ready = new ArrayList<>();
        lock.lock();
        try {
            pending = new ArrayList<>(queue);
            queue.clear();
            queuedBytes = 0;
            held -= pending.size();
            for (Entry<T, R> e : pending) {
                accountLocked(e, ready);
            }
            jobs = new ArrayList<>(running);
            waiters.all(ready);
            notFull.signalAll();
        } finally {
            lock.unlock();
        }
        failAll(pending, 0, reason);
        for (Job job : jobs) {
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

    void closeSink() {
        try {
            sink.close();
        } catch (RuntimeException e) {
            LOG.warn("Route '{}': closing the sink threw {}", name, e.getClass().getName());
            LOG.debug("Route '{}': closing the sink threw", name, e);
        }
    }

    private void halt(String reason) {
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
    private void accountLocked(Entry<T, R> e, List<CompletableFuture<Void>> ready) {
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
    private void settled(List<Entry<T, R>> entries) {
        if (entries.isEmpty()) {
            return;
        }
        List<CompletableFuture<Void>> ready = new ArrayList<>();
        List<Job> jobs;
        lock.lock();
        try {
            for (Entry<T, R> e : entries) {
                accountLocked(e, ready);
            }
            jobs = nextJobsLocked(clock.millis());
        } finally {
            lock.unlock();
        }
        FlushWaiters.complete(ready);
        dispatch(jobs);
    }

    /** A batch is over: its lane is free, its events leave the route's capacity. */
    private void complete(Job job) {
        List<CompletableFuture<Void>> ready = new ArrayList<>();
        List<Job> resumed;
        List<Job> jobs;
        lock.lock();
        try {
            if (!running.remove(job)) {
                return;
            }
            if (job.holdsCall) {
                job.holdsCall = false;
                calls--;
            }
            for (Entry<T, R> e : job.entries) {
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
            for (Job r : resumed) {
                execute(r, () -> attempt(r));
            }
        }
        dispatch(jobs);
    }

    // ---------------------------------------------------------------- call slots

    /** Runs the batch's next attempt as soon as a call slot is free. */
    private void callWhenFree(Job job) {
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
            execute(job, () -> attempt(job));
        }
    }

    /** A call returned: gives its slot to a waiting retry, or lets a new batch start. */
    private void callDone(Job job) {
        List<Job> resumed;
        List<Job> jobs;
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
            for (Job r : resumed) {
                execute(r, () -> attempt(r));
            }
        }
        dispatch(jobs);
    }

    /** Waiting retries that get a call slot now; marked as holding it. */
    private List<Job> nextCallsLocked() {
        List<Job> out = null;
        while (!waitingForCall.isEmpty() && calls < maxCalls) {
            Job j = waitingForCall.pollFirst();
            calls++;
            j.holdsCall = true;
            out = out == null ? new ArrayList<>(1) : out;
            out.add(j);
        }
        return out;
    }

    // ---------------------------------------------------------------- delivery (executor threads)

    private void dispatch(List<Job> jobs) {
        if (jobs == null) {
            return;
        }
        for (Job job : jobs) {
            listener.onFlush(name, job.cause, job.entries.size(), job.bytes);
            execute(job, () -> start(job));
        }
    }

    private void execute(Job job, Runnable step) {
        try {
            executor.execute(() -> guarded(job, step));
        } catch (RejectedExecutionException e) {
            failJob(job, "the pipeline's executor rejected route '" + name + "' (" + describe(e) + ")");
        }
    }

    private void later(Job job, long delayMillis, Runnable step) {
        try {
            scheduler.schedule(() -> execute(job, step), delayMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            failJob(job, "the pipeline's scheduler rejected a retry on route '" + name + "' (" + describe(e) + ")");
        }
    }

    private void guarded(Job job, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException | Error e) {
            LOG.error("Route '{}': unexpected {} while delivering; the batch's events are failed", name,
                    e.getClass().getName());
            LOG.debug("Route '{}': unexpected failure while delivering", name, e);
            failJob(job, "internal error on route '" + name + "': " + describe(e));
        }
    }

    private void failJob(Job job, String reason) {
        failAll(job.entries, 0, reason);
        complete(job);
    }

    /** Sorts the batch: halted, poison and parked events go their way, the rest to the sink. */
    private void start(Job job) {
        Set<EventKey> parkedNow = null;
        String haltedBy = gate.haltReason();
        List<Entry<T, R>> failedNow = null;
        for (Entry<T, R> e : job.entries) {
            EventKey key = e.key();
            if (haltedBy != null) {
                e.failed("route '" + name + "' is halted: " + haltedBy);
                failedNow = failedNow == null ? new ArrayList<>() : failedNow;
                failedNow.add(e);
            } else if (e.poison != null) {
                job.dead.add(new Doomed<>(e, e.poison, 0));
                if (route.onPoison() == PoisonPolicy.HALT_ROUTE) {
                    haltedBy = "event " + e.original.eventId() + " could not be delivered: " + e.poison;
                } else {
                    parkedNow = parkedNow == null ? new HashSet<>() : parkedNow;
                    parkedNow.add(key);
                }
            } else if (gate.isParked(key) || (parkedNow != null && parkedNow.contains(key))) {
                job.dead.add(new Doomed<>(e, "key parked: an earlier event of this key was dead-lettered on route '"
                        + name + "'", 0, true));
            } else {
                job.pending.add(e);
            }
        }
        if (haltedBy != null && gate.haltReason() == null) {
            halt(haltedBy);
        }
        if (failedNow != null) {
            settled(failedNow);
        }
        job.context = retry.asyncContext();
        if (job.pending.isEmpty()) {
            callDone(job); // the call slot taken with the batch is not needed
            finishDelivery(job);
            return;
        }
        attempt(job);
    }

    /** One call to the sink, holding a call slot; then the outcomes, a retry, or the dead letters. */
    private void attempt(Job job) {
        job.attempt++;
        List<ChangeEvent<R>> events = new ArrayList<>(job.pending.size());
        BitSet redriven = new BitSet();
        for (Entry<T, R> e : job.pending) {
            if (e.redriven) {
                redriven.set(events.size());
            }
            events.add(e.routed);
        }
        SinkResult result;
        try {
            result = sink.write(SinkBatch.of(name, job.attempt, events, redriven));
            if (result == null || result.size() != events.size()) {
                throw new CdcException("the sink returned " + (result == null ? "no result" : result.size()
                        + " outcomes") + " for " + events.size() + " events", false);
            }
        } catch (SinkUnavailableException e) {
            callDone(job);
            // No event can succeed: halt instead of dead-lettering everything or retrying forever.
            halt("the sink is unavailable: " + e.getMessage());
            failAll(job.pending, 0, "route '" + name + "' is halted: the sink is unavailable: " + e.getMessage());
            job.pending = List.of();
            finishDelivery(job);
            return;
        } catch (RuntimeException e) {
            callDone(job);
            retryOrGiveUp(job, describe(e), e);
            return;
        }
        if (!result.counters().isEmpty()) {
            listener.onSinkCounters(name, result.counters());
        }
        List<Entry<T, R>> again = new ArrayList<>();
        List<Entry<T, R>> deliveredNow = new ArrayList<>();
        Set<EventKey> failedKeys = null;
        boolean fatal = false;
        String firstReason = null;
        long oldest = Long.MAX_VALUE;
        for (int i = 0; i < events.size(); i++) {
            Entry<T, R> e = job.pending.get(i);
            SinkResult.Status status = result.status(i);
            if (status == SinkResult.Status.DELIVERED) {
                if (failedKeys != null && failedKeys.contains(e.key())) {
                    // An earlier event of this key failed in the same call: send this one again after
                    // it, so the key's last write stays last.
                    again.add(e);
                    continue;
                }
                if (e.routed.creationTime().isPresent()) {
                    oldest = Math.min(oldest, e.routed.creationTime().get().toEpochMilli());
                }
                e.delivered();
                deliveredNow.add(e);
            } else {
                String reason = result.reason(i);
                if (status == SinkResult.Status.FAILED_FATAL) {
                    fatal = true;
                    job.dead.add(new Doomed<>(e, reason, job.attempt));
                } else {
                    e.lastReason = reason;
                    firstReason = firstReason == null ? reason : firstReason;
                    failedKeys = failedKeys == null ? new HashSet<>() : failedKeys;
                    failedKeys.add(e.key());
                    again.add(e);
                }
            }
        }
        if (!deliveredNow.isEmpty()) {
            listener.onDelivered(name, deliveredNow.size(), Duration.ofMillis(oldest == Long.MAX_VALUE ? 0
                    : Math.max(0, clock.millis() - oldest)));
        }
        job.pending = again;
        settled(deliveredNow); // their keys are free for other batches now
        callDone(job);
        if (again.isEmpty()) {
            job.context.onComplete();
            finishDelivery(job);
        } else if (fatal && route.onPoison() == PoisonPolicy.HALT_ROUTE) {
            String reason = "route '" + name + "' halts after a fatal failure in the same call";
            failAll(again, 0, reason);
            job.pending = List.of();
            finishDelivery(job);
        } else {
            String reason = again.size() + " of " + events.size() + " events failed"
                    + (firstReason == null ? "" : ", first: " + firstReason);
            retryOrGiveUp(job, reason, null);
        }
    }

    private void retryOrGiveUp(Job job, String reason, RuntimeException error) {
        Throwable signal = error != null ? error : new CdcException(reason, true);
        long delay = job.context.onError(signal);
        if (delay >= 0) {
            // The batch keeps its keys (its lane) through the backoff, but not a call slot.
            listener.onRetry(name, job.attempt + 1, job.pending.size(), Duration.ofMillis(delay), reason);
            later(job, delay, () -> callWhenFree(job));
            return;
        }
        boolean retryable = isRetryable(signal);
        for (Entry<T, R> e : job.pending) {
            String why = e.lastReason != null && error == null ? e.lastReason : reason;
            job.dead.add(new Doomed<>(e, retryable ? "gave up after " + job.attempt + " attempts: " + why : why,
                    job.attempt));
        }
        job.pending = List.of();
        finishDelivery(job);
    }

    private void finishDelivery(Job job) {
        if (job.dead.isEmpty()) {
            complete(job);
            return;
        }
        if (!deadLetters.configured()) {
            Doomed<T, R> first = job.dead.get(0);
            String reason = "no dead-letter sink is configured, so route '" + name + "' cannot set aside event "
                    + first.entry.original.eventId() + " (" + first.reason + ")";
            halt(reason);
            for (Doomed<T, R> d : job.dead) {
                d.entry.failed("not delivered on route '" + name + "': " + d.reason
                        + " (no dead-letter sink is configured)");
            }
            complete(job);
            return;
        }
        List<DeadLetter> letters = new ArrayList<>(job.dead.size());
        java.time.Instant now = clock.instant();
        for (Doomed<T, R> d : job.dead) {
            letters.add(new DeadLetter(name, d.entry.original, d.reason, d.attempts, now));
        }
        deadLetters.write(letters, () -> deadLettered(job, letters), reason -> {
            halt(reason);
            for (Doomed<T, R> d : job.dead) {
                d.entry.failed("not delivered on route '" + name + "': " + d.reason + "; and " + reason);
            }
            complete(job);
        });
    }

    /** The dead letters are stored: park their keys (or halt), then settle them. */
    private void deadLettered(Job job, List<DeadLetter> letters) {
        int forgotten = 0;
        int followers = 0;
        for (int i = 0; i < job.dead.size(); i++) {
            Doomed<T, R> d = job.dead.get(i);
            DeadLetter letter = letters.get(i);
            if (route.onPoison() == PoisonPolicy.PARK_KEY && gate.park(d.entry.key())) {
                forgotten++;
            }
            d.entry.deadLettered();
            if (d.followsParkedKey) {
                followers++; // a consequence of an earlier dead letter, counted below
                LOG.debug("Route '{}' dead-lettered event {} at {}: its key is parked", name,
                        letter.event().eventId(), letter.event().position());
            } else {
                LOG.warn("Route '{}' dead-lettered event {} at {} after {} attempt(s)", name,
                        letter.event().eventId(), letter.event().position(), letter.attempts());
                LOG.debug("Route '{}' dead-letter reason for event {}: {}", name, letter.event().eventId(),
                        letter.reason());
            }
            listener.onDeadLetter(letter);
        }
        if (followers > 0) {
            LOG.warn("Route '{}' dead-lettered {} later event(s) of parked keys", name, followers);
        }
        if (forgotten > 0) {
            LOG.warn("Route '{}' parks {} keys, its most; it forgot the {} oldest, whose later events flow again",
                    name, Route.MAX_PARKED_KEYS, forgotten);
        }
        if (route.onPoison() == PoisonPolicy.HALT_ROUTE) {
            Doomed<T, R> first = job.dead.get(0);
            halt("event " + first.entry.original.eventId() + " was dead-lettered: " + first.reason);
        }
        complete(job);
    }

    static String describe(Throwable e) {
        String message = e.getMessage();
        return e.getClass().getName() + (message == null ? "" : ": " + message);
    }

    // ---------------------------------------------------------------- state holders

    /** One event on this route; settles its tracker slot exactly once. */
    static final class Entry<T, R> {
        private static final VarHandle SETTLED;

        static {
            try {
                SETTLED = MethodHandles.lookup().findVarHandle(Entry.class, "settled", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final BatchTracker<T> tracker;
        final int index;
        final ChangeEvent<T> original;
        final ChangeEvent<R> routed;
        final String poison;
        final long size;
        long seq;
        long enqueuedAt;
        Object orderKey;
        boolean holding; // guarded by the route's lock: holds its order key in the gate
        boolean accounted; // guarded by the route's lock: counted out of the gate and the flush waiters
        String lastReason;
        boolean redriven;
        @SuppressWarnings("unused")
        private volatile int settled;

        Entry(BatchTracker<T> tracker, int index, ChangeEvent<T> original, ChangeEvent<R> routed, String poison,
                long size) {
            this.tracker = tracker;
            this.index = index;
            this.original = original;
            this.routed = routed;
            this.poison = poison;
            this.size = size;
        }

        EventKey key() {
            return routed != null ? routed.key() : original.key();
        }

        private boolean claim() {
            return SETTLED.compareAndSet(this, 0, 1);
        }

        void delivered() {
            if (claim()) {
                tracker.delivered(index);
            }
        }

        void deadLettered() {
            if (claim()) {
                tracker.deadLettered(index);
            }
        }

        void failed(String reason) {
            if (claim()) {
                tracker.failed(index, reason);
            }
        }
    }

    private record Doomed<T, R>(Entry<T, R> entry, String reason, int attempts, boolean followsParkedKey) {
        Doomed(Entry<T, R> entry, String reason, int attempts) {
            this(entry, reason, attempts, false);
        }
    }

    /** One batch: events taken from the queue, their retries and their dead letters; one lane. */
    private final class Job {
        final List<Entry<T, R>> entries = new ArrayList<>();
        final FlushCause cause;
        long bytes;
        List<Entry<T, R>> pending = new ArrayList<>();
        final List<Doomed<T, R>> dead = new ArrayList<>();
        Retry.AsyncContext<Object> context;
        int attempt;
        boolean holdsCall = true;

        Job(FlushCause cause) {
            this.cause = cause;
        }
    }
}
