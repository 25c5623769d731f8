package io.cdcfanout.dynamodb.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;

/**
 * What both snapshot readers (a Parallel Scan's segments, an export's data files) share: running their
 * units on a pool of daemon threads, stopping the others at the first failure, and reporting progress to
 * a listener that must not break the run. Not API.
 */
public final class SnapshotUnits {
    private SnapshotUnits() {
    }

    /** One unit of a snapshot: read it to its end, or as far as its checkpoint allows, and send it. */
    @FunctionalInterface
    public interface Unit {
        void run() throws InterruptedException;
    }

    /**
     * Runs {@code units} on at most {@code threads} threads named {@code threadName} and returns when all
     * are done; at the first failure the others are cancelled and {@code onFailure} of its cause is thrown.
     */
    public static void runAll(List<Unit> units, int threads, String threadName,
            Function<Throwable, RuntimeException> onFailure) throws InterruptedException {
        if (units.isEmpty()) {
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(threads, units.size()), r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> running = new ArrayList<>(units.size());
            for (Unit unit : units) {
                running.add(pool.submit(() -> {
                    unit.run();
                    return null;
                }));
            }
            for (Future<?> f : running) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    running.forEach(other -> other.cancel(true));
                    throw onFailure.apply(e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Runs every one of {@code units} on at most {@code threads} threads named {@code threadName}, whatever
     * the others do, and returns the failures (each unit's cause, in unit order); empty when all succeeded.
     */
    public static List<Throwable> runEach(List<Unit> units, int threads, String threadName)
            throws InterruptedException {
        List<Throwable> failures = new ArrayList<>();
        if (units.isEmpty()) {
            return failures;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(threads, units.size()), r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> running = new ArrayList<>(units.size());
            for (Unit unit : units) {
                running.add(pool.submit(() -> {
                    unit.run();
                    return null;
                }));
            }
            for (Future<?> f : running) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    failures.add(e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        return failures;
    }

    /** Hands {@code progress} to {@code listener}; one that throws is logged by its class and ignored. */
    public static <P> void report(Consumer<P> listener, P progress, Logger log) {
        if (listener == null) {
            return;
        }
        try {
            listener.accept(progress);
        } catch (RuntimeException e) {
            log.warn("the snapshot progress listener threw {}; ignored", e.getClass().getName());
        }
    }
}
