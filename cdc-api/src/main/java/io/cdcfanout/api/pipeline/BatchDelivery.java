package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.api.sink.SinkUnavailableException;
import io.github.resilience4j.retry.Retry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How one batch is delivered, on the executor's threads: halted, poison and parked events are sorted
 * out; the rest go to the sink in one call while the batch holds a call slot; only failed events are
 * sent again, after a backoff on the scheduler (the batch keeps its keys but gives up its call slot);
 * what cannot be delivered goes to the {@link DeadLetterWriter}, its keys parked. Every event settles
 * exactly once, and its keys are freed as it does ({@link RouteWorker#settled}).
 */
final class BatchDelivery<T, R> {
    private static final Logger LOG = LoggerFactory.getLogger(RouteWorker.class);

    private final RouteWorker<T, R> lanes;
    private final String name;
    private final Route<T, R> route;
    private final Sink<? super R> sink;
    private final Retry retry;
    private final Clock clock;
    private final ScheduledExecutorService scheduler;
    private final Executor executor;
    private final SafeListener listener;
    private final KeyGate gate;
    private final DeadLetterWriter deadLetters;

    BatchDelivery(RouteWorker<T, R> lanes, Route<T, R> route, Retry retry, Clock clock,
            ScheduledExecutorService scheduler, Executor executor, SafeListener listener, KeyGate gate,
            DeadLetterWriter deadLetters) {
        this.lanes = lanes;
        this.name = route.name();
        this.route = route;
        this.sink = route.sink();
        this.retry = retry;
        this.clock = clock;
        this.scheduler = scheduler;
        this.executor = executor;
        this.listener = listener;
        this.gate = gate;
        this.deadLetters = deadLetters;
    }

    void dispatch(List<Batch<T, R>> jobs) {
        if (jobs == null) {
            return;
        }
        for (Batch<T, R> job : jobs) {
            listener.onFlush(name, job.cause, job.entries.size(), job.bytes);
            run(job, () -> start(job));
        }
    }

    void run(Batch<T, R> job, Runnable step) {
        try {
            executor.execute(() -> guarded(job, step));
        } catch (RejectedExecutionException e) {
            failJob(job, "the pipeline's executor rejected route '" + name + "' (" + RouteWorker.describe(e) + ")");
        }
    }

    private void later(Batch<T, R> job, long delayMillis, Runnable step) {
        try {
            scheduler.schedule(() -> run(job, step), delayMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            failJob(job, "the pipeline's scheduler rejected a retry on route '" + name + "' (" + RouteWorker.describe(e) + ")");
        }
    }

    private void guarded(Batch<T, R> job, Runnable step) {
        // The sink call runs with the MDC of the caller that submitted the batch's first event.
        java.util.Map<String, String> mdc = job.entries.isEmpty() ? null : job.entries.get(0).tracker.mdc;
        java.util.Map<String, String> before = mdc == null ? null : org.slf4j.MDC.getCopyOfContextMap();
        if (mdc != null) {
            org.slf4j.MDC.setContextMap(mdc);
        }
        try {
            step.run();
        } catch (RuntimeException | Error e) {
            LOG.error("Route '{}': unexpected {} while delivering; the batch's events are failed", name,
                    e.getClass().getName());
            LOG.debug("Route '{}': unexpected failure while delivering", name, e);
            failJob(job, "internal error on route '" + name + "': " + RouteWorker.describe(e));
        } finally {
            if (mdc != null) {
                if (before == null) {
                    org.slf4j.MDC.clear();
                } else {
                    org.slf4j.MDC.setContextMap(before);
                }
            }
        }
    }

    private void failJob(Batch<T, R> job, String reason) {
        lanes.failAll(job.entries, 0, reason);
        lanes.complete(job);
    }

    /** Sorts the batch: halted, poison and parked events go their way, the rest to the sink. */
    private void start(Batch<T, R> job) {
        Set<EventKey> parkedNow = null;
        String haltedBy = gate.haltReason();
        List<RouteEntry<T, R>> failedNow = null;
        for (RouteEntry<T, R> e : job.entries) {
            EventKey key = e.key();
            if (haltedBy != null) {
                e.failed("route '" + name + "' is halted: " + haltedBy);
                failedNow = failedNow == null ? new ArrayList<>() : failedNow;
                failedNow.add(e);
            } else if (e.poison != null) {
                job.dead.add(new Batch.Doomed<>(e, e.poison, 0));
                if (route.onPoison() == PoisonPolicy.HALT_ROUTE) {
                    haltedBy = "event " + e.original.eventId() + " could not be delivered: " + e.poison;
                } else {
                    parkedNow = parkedNow == null ? new HashSet<>() : parkedNow;
                    parkedNow.add(key);
                }
            } else if (gate.isParked(key) || (parkedNow != null && parkedNow.contains(key))) {
                job.dead.add(new Batch.Doomed<>(e, "key parked: an earlier event of this key was dead-lettered on route '"
                        + name + "'", 0, true));
            } else {
                job.pending.add(e);
            }
        }
        if (haltedBy != null && gate.haltReason() == null) {
            lanes.halt(haltedBy);
        }
        if (failedNow != null) {
            lanes.settled(failedNow);
        }
        job.context = retry.asyncContext();
        if (job.pending.isEmpty()) {
            lanes.callDone(job); // the call slot taken with the batch is not needed
            finishDelivery(job);
            return;
        }
        attempt(job);
    }

    /** One call to the sink, holding a call slot; then the outcomes, a retry, or the dead letters. */
    void attempt(Batch<T, R> job) {
        job.attempt++;
        List<ChangeEvent<R>> events = new ArrayList<>(job.pending.size());
        BitSet redriven = new BitSet();
        for (RouteEntry<T, R> e : job.pending) {
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
            lanes.callDone(job);
            // No event can succeed: halt instead of dead-lettering everything or retrying forever.
            lanes.halt("the sink is unavailable: " + e.getMessage());
            lanes.failAll(job.pending, 0, "route '" + name + "' is halted: the sink is unavailable: " + e.getMessage());
            job.pending = List.of();
            finishDelivery(job);
            return;
        } catch (RuntimeException e) {
            lanes.callDone(job);
            retryOrGiveUp(job, RouteWorker.describe(e), e);
            return;
        }
        if (!result.counters().isEmpty()) {
            listener.onSinkCounters(name, result.counters());
        }
        List<RouteEntry<T, R>> again = new ArrayList<>();
        List<RouteEntry<T, R>> deliveredNow = new ArrayList<>();
        Set<EventKey> failedKeys = null;
        boolean fatal = false;
        String firstReason = null;
        long oldest = Long.MAX_VALUE;
        for (int i = 0; i < events.size(); i++) {
            RouteEntry<T, R> e = job.pending.get(i);
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
                deliveredNow.add(e);
            } else {
                String reason = result.reason(i);
                if (status == SinkResult.Status.FAILED_FATAL) {
                    fatal = true;
                    job.dead.add(new Batch.Doomed<>(e, reason, job.attempt));
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
            // Counted before they are acknowledged: a caller that reads metrics once its batch settles
            // (a Lambda invocation writing EMF) sees this delivery.
            listener.onDelivered(name, deliveredNow.size(), Duration.ofMillis(oldest == Long.MAX_VALUE ? 0
                    : Math.max(0, clock.millis() - oldest)));
            for (RouteEntry<T, R> e : deliveredNow) {
                e.delivered();
            }
        }
        job.pending = again;
        lanes.settled(deliveredNow); // their keys are free for other batches now
        lanes.callDone(job);
        if (again.isEmpty()) {
            job.context.onComplete();
            finishDelivery(job);
        } else if (fatal && route.onPoison() == PoisonPolicy.HALT_ROUTE) {
            String reason = "route '" + name + "' halts after a fatal failure in the same call";
            lanes.failAll(again, 0, reason);
            job.pending = List.of();
            finishDelivery(job);
        } else {
            String reason = again.size() + " of " + events.size() + " events failed"
                    + (firstReason == null ? "" : ", first: " + firstReason);
            retryOrGiveUp(job, reason, null);
        }
    }

    private void retryOrGiveUp(Batch<T, R> job, String reason, RuntimeException error) {
        Throwable signal = error != null ? error : new CdcException(reason, true);
        long delay = job.context.onError(signal);
        if (delay >= 0) {
            // The batch keeps its keys (its lane) through the backoff, but not a call slot.
            listener.onRetry(name, job.attempt + 1, job.pending.size(), Duration.ofMillis(delay), reason);
            later(job, delay, () -> lanes.callWhenFree(job));
            return;
        }
        boolean retryable = RouteWorker.isRetryable(signal);
        for (RouteEntry<T, R> e : job.pending) {
            String why = e.lastReason != null && error == null ? e.lastReason : reason;
            job.dead.add(new Batch.Doomed<>(e, retryable ? "gave up after " + job.attempt + " attempts: " + why : why,
                    job.attempt));
        }
        job.pending = List.of();
        finishDelivery(job);
    }

    private void finishDelivery(Batch<T, R> job) {
        if (job.dead.isEmpty()) {
            lanes.complete(job);
            return;
        }
        if (!deadLetters.configured()) {
            Batch.Doomed<T, R> first = job.dead.get(0);
            String reason = "no dead-letter sink is configured, so route '" + name + "' cannot set aside event "
                    + first.entry().original.eventId() + " (" + first.reason() + ")";
            lanes.halt(reason);
            for (Batch.Doomed<T, R> d : job.dead) {
                d.entry().failed("not delivered on route '" + name + "': " + d.reason()
                        + " (no dead-letter sink is configured)");
            }
            lanes.complete(job);
            return;
        }
        List<DeadLetter> letters = new ArrayList<>(job.dead.size());
        java.time.Instant now = clock.instant();
        for (Batch.Doomed<T, R> d : job.dead) {
            letters.add(new DeadLetter(name, d.entry().original, d.reason(), d.attempts(), now));
        }
        deadLetters.write(letters, () -> deadLettered(job, letters), reason -> {
            lanes.halt(reason);
            for (Batch.Doomed<T, R> d : job.dead) {
                d.entry().failed("not delivered on route '" + name + "': " + d.reason() + "; and " + reason);
            }
            lanes.complete(job);
        });
    }

    /** The dead letters are stored: park their keys (or halt), then settle them. */
    private void deadLettered(Batch<T, R> job, List<DeadLetter> letters) {
        int forgotten = 0;
        int followers = 0;
        for (int i = 0; i < job.dead.size(); i++) {
            Batch.Doomed<T, R> d = job.dead.get(i);
            DeadLetter letter = letters.get(i);
            if (route.onPoison() == PoisonPolicy.PARK_KEY && gate.park(d.entry().key())) {
                forgotten++;
            }
            listener.onDeadLetter(letter); // before the event counts as acknowledged, as onDelivered
            d.entry().deadLettered();
            if (d.followsParkedKey()) {
                followers++; // a consequence of an earlier dead letter, counted below
                LOG.debug("Route '{}' dead-lettered event {} at {}: its key is parked", name,
                        letter.event().eventId(), letter.event().position());
            } else {
                LOG.warn("Route '{}' dead-lettered event {} at {} after {} attempt(s)", name,
                        letter.event().eventId(), letter.event().position(), letter.attempts());
                LOG.debug("Route '{}' dead-letter reason for event {}: {}", name, letter.event().eventId(),
                        letter.reason());
            }
        }
        if (followers > 0) {
            LOG.warn("Route '{}' dead-lettered {} later event(s) of parked keys", name, followers);
        }
        if (forgotten > 0) {
            LOG.warn("Route '{}' parks {} keys, its most; it forgot the {} oldest, whose later events flow again",
                    name, Route.MAX_PARKED_KEYS, forgotten);
        }
        if (route.onPoison() == PoisonPolicy.HALT_ROUTE) {
            Batch.Doomed<T, R> first = job.dead.get(0);
            lanes.halt("event " + first.entry().original.eventId() + " was dead-lettered: " + first.reason());
        }
        lanes.complete(job);
    }
}
