package io.cdcfanout.dynamodb.internal;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fixed pool of daemon threads started on first use and ended by {@link #shutdown}; never started
 * again (a closed sink refuses work instead of quietly starting threads). Thread-safe. Not API.
 */
public final class DaemonPool {
    private final String name;
    private final int threads;
    private volatile ExecutorService pool;
    private volatile boolean shut;

    public DaemonPool(String name, int threads) {
        this.name = name;
        this.threads = threads;
    }

    /**
     * The pool, running.
     *
     * @throws IllegalStateException after {@link #shutdown}
     */
    public ExecutorService get() {
        ExecutorService p = pool;
        if (p == null) {
            synchronized (this) {
                if (shut) {
                    throw new IllegalStateException("the thread pool '" + name + "' is shut down");
                }
                p = pool;
                if (p == null) {
                    AtomicInteger n = new AtomicInteger();
                    p = Executors.newFixedThreadPool(threads, r -> {
                        Thread t = new Thread(r, name + "-" + n.incrementAndGet());
                        t.setDaemon(true);
                        return t;
                    });
                    pool = p;
                }
            }
        }
        return p;
    }

    /** Lets the threads end once idle. */
    public synchronized void shutdown() {
        shut = true;
        ExecutorService p = pool;
        if (p != null) {
            p.shutdown();
        }
    }
}
