package io.cdcfanout.dynamodb.internal;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fixed pool of daemon threads started on first use, and started again if used after
 * {@link #shutdown} (a sink may be written to after its pipeline closed it). Thread-safe. Not API.
 */
public final class DaemonPool {
    private final String name;
    private final int threads;
    private volatile ExecutorService pool;

    public DaemonPool(String name, int threads) {
        this.name = name;
        this.threads = threads;
    }

    /** The pool, running. */
    public ExecutorService get() {
        ExecutorService p = pool;
        if (p == null || p.isShutdown()) {
            synchronized (this) {
                p = pool;
                if (p == null || p.isShutdown()) {
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
    public void shutdown() {
        ExecutorService p = pool;
        if (p != null) {
            p.shutdown();
        }
    }
}
