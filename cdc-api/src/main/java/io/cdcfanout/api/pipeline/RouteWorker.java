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
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One route's buffer and delivery loop.
 *
 * <p>Events wait in a FIFO queue. A <em>job</em> takes a prefix of the queue when a trigger fires
 * (count, bytes, age, flush, close) and delivers it: it calls the sink, retries only the failed
 * events with backoff on the scheduler (never sleeping a thread), dead-letters what cannot be
 * delivered, and settles every event exactly once. At most one job runs at a time, so the route
 * keeps source order without locking the sink call; per-key order across retries follows, because
 * no later event reaches the sink while an earlier job is unfinished.
 *
 * <p>The lock guards only queue bookkeeping; it is never held while calling a sink, a listener or
 * an executor.
 */
final class RouteWorker<T, R> {
    private static final Logger LOG = LoggerFactory.getLogger(RouteWorker.class);

    private final String name;
    private final Route<T, R> route;
    private final Sink<? super R> sink;
    private final SinkLimits limits;
    private final int callEvents;
    private final long callBytes;
    private final long maxAgeMillis;
    private final Retry retry;
    /** How often a producer waiting for room looks at the clock again. */
    static final long CLOCK_RECHECK_MILLIS = 20;
    private final Clock clock;
    private final ScheduledExecutorService scheduler;
    private final Executor executor;
    private final SafeListener listener;
    private final DeadLetterSink deadLetters;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notFull = lock.newCondition();
    // Guarded by lock.
    private final ArrayDeque<Entry<T, R>> queue = new ArrayDeque<>();
    private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
    private long queuedBytes;
    private int held;
    private boolean inFlight;
    private Job current;
    private boolean timerArmed;
    private boolean closing;
    private long nextSeq;
    private long flushWatermark = -1;
    private long completedSeq = -1;

    private final Set<EventKey> parked = ConcurrentHashMap.newKeySet();
    private final Object haltLock = new Object();
    private volatile String haltReason;

    RouteWorker(Route<T, R> route, Clock clock, ScheduledExecutorService scheduler, Executor executor,
            SafeListener listener, DeadLetterSink deadLetters) {
        this.name = route.name();
        this.route = route;
        this.sink = route.sink();
        this.limits = sink.limits();
        this.callEvents = Math.min(route.buffer().maxEvents(), limits.maxBatchEvents());
        this.callBytes = Math.min(route.buffer().maxBytes(), limits.maxBatchBytes());
        // Rounded up to whole milliseconds; zero stays zero: "as soon as no call is in flight".
        Duration age = route.buffer().maxAge();
        this.maxAgeMillis = age.plusNanos(999_999).toMillis();
        this.retry = Retry.of("cdc-route-" + name, retryConfig(route.retry()));
        this.clock = clock;
        this.scheduler = scheduler;
        this.executor = executor;
        this.listener = listener;
        this.deadLetters = deadLetters;
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
        String halted = haltReason;
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
            Job job = null;
            String refusal = null;
            int added = 0;
            lock.lock();
            try {
                boolean reported = false;
                while (held >= capacity && !closing && haltReason == null) {
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
                } else if (refusal == null && haltReason != null) {
                    refusal = "route '" + name + "' is halted: " + haltReason;
                }
                if (refusal == null) {
                    long now = clock.millis();
                    while (i < n && held < capacity) {
                        Entry<T, R> e = entries.get(i++);
                        e.seq = nextSeq++;
                        e.enqueuedAt = now;
                        queue.addLast(e);
                        queuedBytes += e.size;
                        held++;
                        added++;
                        if (queue.size() >= callEvents || queuedBytes >= callBytes) {
                            break;
                        }
                    }
                    job = nextJobLocked(now);
                }
            } finally {
                lock.unlock();
            }
            if (added > 0) {
                listener.onEventsIn(name, added);
            }
            dispatch(job);
            if (refusal != null) {
                failAll(entries, i, refusal);
                return;
            }
        }
    }

    private void failAll(List<Entry<T, R>> entries, int from, String reason) {
        for (int j = from; j < entries.size(); j++) {
            entries.get(j).failed(reason);
        }
    }

    // ---------------------------------------------------------------- triggers

    /** Takes the next job if a trigger has fired and no job is running. */
    private Job takeJobLocked(long now) {
        if (inFlight || queue.isEmpty()) {
            return null;
        }
        Entry<T, R> head = queue.peekFirst();
        FlushCause cause;
        if (closing) {
            cause = FlushCause.CLOSE;
        } else if (haltReason != null || head.seq <= flushWatermark) {
            cause = FlushCause.FLUSH;
        } else if (queue.size() >= callEvents) {
            // A full call is ready: maxEvents, or the sink's own limit when that is lower.
            cause = FlushCause.COUNT;
        } else if (queuedBytes >= callBytes) {
            cause = FlushCause.BYTES;
        } else if (now - head.enqueuedAt >= maxAgeMillis) {
            cause = FlushCause.AGE;
        } else {
            return null;
        }
        List<Entry<T, R>> taken = new ArrayList<>(Math.min(queue.size(), callEvents));
        long bytes = 0;
        while (!queue.isEmpty() && taken.size() < callEvents) {
            Entry<T, R> e = queue.peekFirst();
            if (!taken.isEmpty() && bytes + e.size > callBytes) {
                break;
            }
            queue.pollFirst();
            queuedBytes -= e.size;
            bytes += e.size;
            taken.add(e);
        }
        inFlight = true;
        current = new Job(taken, cause, bytes);
        return current;
    }

    private void armTimerLocked(long now) {
        if (timerArmed || inFlight || queue.isEmpty()) {
            return;
        }
        long delay = Math.max(0, queue.peekFirst().enqueuedAt + maxAgeMillis - now);
        try {
            scheduler.schedule(this::onTimer, delay, TimeUnit.MILLISECONDS);
            timerArmed = true;
        } catch (RejectedExecutionException e) {
            LOG.debug("Route '{}': scheduler rejected the age timer", name);
        }
    }

    /** The next job if one is due; otherwise makes sure the age timer will look again. */
    private Job nextJobLocked(long now) {
        Job job = takeJobLocked(now);
        if (job == null) {
            armTimerLocked(now);
        }
        return job;
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

    /** Starts a job if one is due. */
    private void kick() {
        Job job;
        lock.lock();
        try {
            job = nextJobLocked(clock.millis());
        } finally {
            lock.unlock();
        }
        dispatch(job);
    }

    /** Sends everything queued now; completes when it has all settled. */
    CompletableFuture<Void> flush(boolean close) {
        Job job;
        CompletableFuture<Void> done = new CompletableFuture<>();
        lock.lock();
        try {
            if (close) {
                closing = true;
                notFull.signalAll();
            }
            if (queue.isEmpty() && !inFlight) {
                return CompletableFuture.completedFuture(null);
            }
            long watermark = nextSeq - 1;
            flushWatermark = Math.max(flushWatermark, watermark);
            waiters.addLast(new Waiter(watermark, done));
            job = takeJobLocked(clock.millis());
        } finally {
            lock.unlock();
        }
        dispatch(job);
        return done;
    }

    /** Fails every unsettled event and halts the route; used when close times out. */
    void abort(String reason) {
        halt(reason);
        List<Entry<T, R>> pending;
        Job running;
        List<Waiter> ready;
        lock.lock();
        try {
            pending = new ArrayList<>(queue);
            queue.clear();
            queuedBytes = 0;
            held -= pending.size();
            running = current;
            ready = new ArrayList<>(waiters);
            waiters.clear();
            notFull.signalAll();
        } finally {
            lock.unlock();
        }
        failAll(pending, 0, reason);
        if (running != null) {
            failAll(running.entries, 0, reason);
        }
        ready.forEach(w -> w.future.complete(null));
    }

    void resume() {
        haltReason = null;
        parked.clear();
        kick();
    }

    void unpark(EventKey key) {
        parked.remove(key);
    }

    String haltReason() {
        return haltReason;
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
        synchronized (haltLock) {
            if (haltReason != null) {
                return;
            }
            haltReason = reason;
        }
        // The reason may quote item data (a sink's or dead letter's message): DEBUG only, and in full
        // to the listener. The log line says what happened and where to look.
        LOG.error("Route '{}' halted; its events are no longer acknowledged (the reason goes to "
                + "PipelineListener.onRouteHalted and to DEBUG)", name);
        LOG.debug("Route '{}' halted because: {}", name, reason);
        listener.onRouteHalted(name, reason);
    }

    // ---------------------------------------------------------------- delivery (executor threads)

    private void dispatch(Job job) {
        if (job == null) {
            return;
        }
        listener.onFlush(name, job.cause, job.entries.size(), job.bytes);
        execute(job, () -> start(job));
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
            LOG.error("Route '{}': unexpected {} while delivering; the job's events are failed", name,
                    e.getClass().getName());
            LOG.debug("Route '{}': unexpected failure while delivering", name, e);
            failJob(job, "internal error on route '" + name + "': " + describe(e));
        }
    }

    private void failJob(Job job, String reason) {
        failAll(job.entries, 0, reason);
        complete(job);
    }

    private void start(Job job) {
        Set<EventKey> parkedNow = null;
        String haltedBy = haltReason;
        for (Entry<T, R> e : job.entries) {
            EventKey key = e.key();
            if (haltedBy != null) {
                e.failed("route '" + name + "' is halted: " + haltedBy);
            } else if (e.poison != null) {
                job.dead.add(new Doomed<>(e, e.poison, 0));
                if (route.onPoison() == PoisonPolicy.HALT_ROUTE) {
                    haltedBy = "event " + e.original.eventId() + " could not be delivered: " + e.poison;
                } else {
                    parkedNow = parkedNow == null ? new HashSet<>() : parkedNow;
                    parkedNow.add(key);
                }
            } else if (parked.contains(key) || (parkedNow != null && parkedNow.contains(key))) {
                job.dead.add(new Doomed<>(e, "key parked: an earlier event of this key was dead-lettered on route '"
                        + name + "'", 0));
            } else {
                job.pending.add(e);
            }
        }
        if (haltedBy != null && haltReason == null) {
            halt(haltedBy);
        }
        job.context = retry.asyncContext();
        attempt(job);
    }

    private void attempt(Job job) {
        if (job.pending.isEmpty()) {
            finishDelivery(job);
            return;
        }
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
            // No event can succeed: halt instead of dead-lettering everything or retrying forever.
            halt("the sink is unavailable: " + e.getMessage());
            failAll(job.pending, 0, "route '" + name + "' is halted: the sink is unavailable: " + e.getMessage());
            job.pending = List.of();
            finishDelivery(job);
            return;
        } catch (RuntimeException e) {
            retryOrGiveUp(job, describe(e), e);
            return;
        }
        if (!result.counters().isEmpty()) {
            listener.onSinkCounters(name, result.counters());
        }
        List<Entry<T, R>> again = new ArrayList<>();
        Set<EventKey> failedKeys = null;
        boolean fatal = false;
        String firstReason = null;
        int delivered = 0;
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
                delivered++;
                if (e.routed.creationTime().isPresent()) {
                    oldest = Math.min(oldest, e.routed.creationTime().get().toEpochMilli());
                }
                e.delivered();
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
        if (delivered > 0) {
            listener.onDelivered(name, delivered, Duration.ofMillis(Math.max(0, clock.millis() - oldest)));
        }
        job.pending = again;
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
            listener.onRetry(name, job.attempt + 1, job.pending.size(), Duration.ofMillis(delay), reason);
            later(job, delay, () -> attempt(job));
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
        if (deadLetters == null) {
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
        job.letters = letters;
        job.context = retry.asyncContext();
        writeDeadLetters(job);
    }

    private void writeDeadLetters(Job job) {
        try {
            deadLetters.accept(job.letters);
        } catch (RuntimeException e) {
            long delay = job.context.onError(e);
            if (delay >= 0) {
                listener.onRetry(name, -1, job.letters.size(), Duration.ofMillis(delay),
                        "dead-letter sink failed: " + describe(e));
                later(job, delay, () -> writeDeadLetters(job));
                return;
            }
            String reason = "the dead-letter sink failed: " + describe(e);
            halt(reason);
            for (Doomed<T, R> d : job.dead) {
                d.entry.failed("not delivered on route '" + name + "': " + d.reason + "; and " + reason);
            }
            complete(job);
            return;
        }
        job.context.onComplete();
        for (int i = 0; i < job.dead.size(); i++) {
            Doomed<T, R> d = job.dead.get(i);
            DeadLetter letter = job.letters.get(i);
            if (route.onPoison() == PoisonPolicy.PARK_KEY) {
                parked.add(d.entry.key());
            }
            d.entry.deadLettered();
            LOG.warn("Route '{}' dead-lettered event {} at {} after {} attempt(s)", name,
                    letter.event().eventId(), letter.event().position(), letter.attempts());
            LOG.debug("Route '{}' dead-letter reason for event {}: {}", name, letter.event().eventId(), letter.reason());
            listener.onDeadLetter(letter);
        }
        if (route.onPoison() == PoisonPolicy.HALT_ROUTE) {
            Doomed<T, R> first = job.dead.get(0);
            halt("event " + first.entry.original.eventId() + " was dead-lettered: " + first.reason);
        }
        complete(job);
    }

    private void complete(Job job) {
        List<Waiter> ready = new ArrayList<>();
        Job next;
        lock.lock();
        try {
            if (current != job) {
                return;
            }
            current = null;
            inFlight = false;
            held -= job.entries.size();
            completedSeq = Math.max(completedSeq, job.lastSeq);
            notFull.signalAll();
            while (!waiters.isEmpty()
                    && (waiters.peekFirst().watermark <= completedSeq || queue.isEmpty())) {
                ready.add(waiters.pollFirst());
            }
            next = nextJobLocked(clock.millis());
        } finally {
            lock.unlock();
        }
        ready.forEach(w -> w.future.complete(null));
        dispatch(next);
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

    private record Doomed<T, R>(Entry<T, R> entry, String reason, int attempts) {
    }

    private record Waiter(long watermark, CompletableFuture<Void> future) {
    }

    /** One delivery: a prefix of the queue, its retries and its dead letters. */
    private final class Job {
        final List<Entry<T, R>> entries;
        final FlushCause cause;
        final long bytes;
        final long lastSeq;
        List<Entry<T, R>> pending = new ArrayList<>();
        final List<Doomed<T, R>> dead = new ArrayList<>();
        List<DeadLetter> letters;
        Retry.AsyncContext<Object> context;
        int attempt;

        Job(List<Entry<T, R>> entries, FlushCause cause, long bytes) {
            this.entries = entries;
            this.cause = cause;
            this.bytes = bytes;
            this.lastSeq = entries.get(entries.size() - 1).seq;
        }
    }
}
