package io.cdcfanout.testkit;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.Executors;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A scheduler driven by a {@link ManualClock}, for tests that never sleep. Immediate tasks
 * ({@link #execute}) run at once on the calling thread; a task submitted by a running task waits until
 * that one returns, so nothing recurses. Delayed tasks run only inside {@link #advance} or
 * {@link #runDueTasks}, in time order, with the clock set to each task's due time.
 *
 * <p>Use it as both the executor and the scheduler of a pipeline. It is meant for one test thread.
 */
public final class ManualScheduler extends AbstractExecutorService implements ScheduledExecutorService {
    private final ManualClock clock;
    private final PriorityQueue<Task<?>> delayed = new PriorityQueue<>();
    private final ArrayDeque<Runnable> immediate = new ArrayDeque<>();
    private long sequence;
    private boolean draining;
    private boolean shutdown;

    public ManualScheduler(ManualClock clock) {
        this.clock = Objects.requireNonNull(clock, "clock must not be null");
    }

    /** The clock this scheduler follows. */
    public ManualClock clock() {
        return clock;
    }

    /** Moves the clock forward by {@code duration}, running each task that falls due on the way. */
    public void advance(Duration duration) {
        Instant target = clock.instant().plus(duration);
        while (true) {
            Task<?> next;
            synchronized (this) {
                next = delayed.peek();
                if (next == null || next.due.isAfter(target)) {
                    break;
                }
                delayed.poll();
            }
            if (next.due.isAfter(clock.instant())) {
                clock.set(next.due);
            }
            runNow(next);
        }
        clock.set(target);
    }

    /** Runs the delayed tasks that are due now. */
    public void runDueTasks() {
        advance(Duration.ZERO);
    }

    /** How many delayed tasks wait (cancelled ones excluded). */
    public synchronized int pendingTasks() {
        return (int) delayed.stream().filter(t -> !t.isCancelled()).count();
    }

    /** When the next delayed task is due, or null if none waits. */
    public synchronized Instant nextDue() {
        return delayed.stream().filter(t -> !t.isCancelled()).map(t -> t.due).min(Instant::compareTo).orElse(null);
    }

    @Override
    public void execute(Runnable command) {
        Objects.requireNonNull(command, "command must not be null");
        synchronized (this) {
            if (shutdown) {
                throw new RejectedExecutionException("scheduler is shut down");
            }
        }
        runNow(command);
    }

    private void runNow(Runnable command) {
        synchronized (this) {
            immediate.addLast(command);
            if (draining) {
                return;
            }
            draining = true;
        }
        try {
            while (true) {
                Runnable next;
                synchronized (this) {
                    next = immediate.pollFirst();
                    if (next == null) {
                        return;
                    }
                }
                next.run();
            }
        } finally {
            synchronized (this) {
                draining = false;
            }
        }
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        return enqueue(new Task<Void>(Executors.callable(command, null), due(delay, unit), 0, false));
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
        return enqueue(new Task<>(callable, due(delay, unit), 0, false));
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
        checkPeriod(period);
        return enqueue(new Task<Void>(Executors.callable(command, null), due(initialDelay, unit),
                unit.toNanos(period), true));
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
        checkPeriod(delay);
        return enqueue(new Task<Void>(Executors.callable(command, null), due(initialDelay, unit),
                unit.toNanos(delay), false));
    }

    private static void checkPeriod(long period) {
        if (period <= 0) {
            throw new IllegalArgumentException("period must be positive (was " + period + ")");
        }
    }

    private Instant due(long delay, TimeUnit unit) {
        return clock.instant().plusNanos(unit.toNanos(Math.max(0, delay)));
    }

    private synchronized <V> Task<V> enqueue(Task<V> task) {
        if (shutdown) {
            throw new RejectedExecutionException("scheduler is shut down");
        }
        task.order = sequence++;
        delayed.add(task);
        return task;
    }

    @Override
    public synchronized void shutdown() {
        shutdown = true;
    }

    @Override
    public synchronized List<Runnable> shutdownNow() {
        shutdown = true;
        List<Runnable> left = new ArrayList<>(delayed);
        delayed.clear();
        return left;
    }

    @Override
    public synchronized boolean isShutdown() {
        return shutdown;
    }

    @Override
    public synchronized boolean isTerminated() {
        return shutdown && delayed.isEmpty();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
        return isTerminated();
    }

    private final class Task<V> extends FutureTask<V> implements ScheduledFuture<V> {
        private Instant due;
        private final long periodNanos;
        private final boolean fixedRate;
        private long order;

        Task(Callable<V> callable, Instant due, long periodNanos, boolean fixedRate) {
            super(callable);
            this.due = due;
            this.periodNanos = periodNanos;
            this.fixedRate = fixedRate;
        }

        @Override
        public void run() {
            if (periodNanos == 0) {
                super.run();
            } else if (runAndReset()) {
                due = (fixedRate ? due : clock.instant()).plusNanos(periodNanos);
                synchronized (ManualScheduler.this) {
                    if (!shutdown) {
                        delayed.add(this);
                    }
                }
            }
        }

        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(Duration.between(clock.instant(), due));
        }

        @Override
        public int compareTo(Delayed other) {
            if (other instanceof ManualScheduler.Task<?> t) {
                int byDue = due.compareTo(t.due);
                return byDue != 0 ? byDue : Long.compare(order, t.order);
            }
            return Long.compare(getDelay(TimeUnit.NANOSECONDS), other.getDelay(TimeUnit.NANOSECONDS));
        }

        @Override
        public boolean equals(Object o) {
            return this == o;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(this);
        }
    }
}
