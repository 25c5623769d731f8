package io.cdcfanout.local;

import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Lambda's execution environments for one function: each container holds its own handler instance (and,
 * when isolated, its own copy of the handler's classes and their static state), runs one invocation at
 * a time, is reused warm, is started cold when every one is busy, and dies on a timeout or when the
 * simulation kills it mid-invocation. A retry prefers another container than the attempt before it.
 */
final class SimulatedContainers implements AutoCloseable {
    /** What one invocation came to: an error (thrown, timed out, killed), or the response's failures. */
    record Outcome(String functionError, List<String> failures, int container, boolean coldStart) {
        boolean error() {
            return functionError != null;
        }
    }

    private static final class Container {
        final int id;
        final RequestHandler<DynamodbEvent, StreamsEventResponse> handler;
        final ClassLoader loader;
        int invocations;

        Container(int id, RequestHandler<DynamodbEvent, StreamsEventResponse> handler) {
            this.id = id;
            this.handler = handler;
            this.loader = handler.getClass().getClassLoader();
        }
    }

    private final Supplier<? extends RequestHandler<DynamodbEvent, StreamsEventResponse>> factory;
    private final Duration timeout;
    private final double killProbability;
    private final Random random;
    private final List<Container> idle = new ArrayList<>();
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "esm-simulator-invocation");
        t.setDaemon(true);
        return t;
    });
    private final AtomicInteger ids = new AtomicInteger();
    final AtomicInteger coldStarts = new AtomicInteger();
    final AtomicInteger kills = new AtomicInteger();
    final AtomicInteger timeouts = new AtomicInteger();
    final AtomicInteger invocations = new AtomicInteger();
    final AtomicInteger maxConcurrent = new AtomicInteger();
    private final AtomicInteger running = new AtomicInteger();
    private final String functionName;

    SimulatedContainers(Supplier<? extends RequestHandler<DynamodbEvent, StreamsEventResponse>> factory,
            Duration timeout, double killProbability, long seed, String functionName) {
        this.factory = factory;
        this.timeout = timeout;
        this.killProbability = killProbability;
        this.random = new Random(seed);
        this.functionName = functionName;
    }

    /** Invokes the function with the event's JSON, in a container other than {@code avoid} when one is idle. */
    CompletableFuture<Outcome> invoke(byte[] eventJson, int avoid) {
        Container c;
        boolean cold;
        boolean kill;
        long killAfterMicros;
        synchronized (this) {
            c = null;
            for (Container x : idle) {
                if (x.id != avoid) {
                    c = x;
                    break;
                }
            }
            if (c == null && !idle.isEmpty()) {
                c = idle.get(0);
            }
            cold = c == null;
            if (c != null) {
                idle.remove(c);
            }
            kill = killProbability > 0 && random.nextDouble() < killProbability;
            killAfterMicros = (long) (random.nextDouble() * 5_000);
        }
        Container chosen;
        if (cold) {
            coldStarts.incrementAndGet();
            try {
                chosen = new Container(ids.incrementAndGet(), factory.get());
            } catch (RuntimeException | Error e) {
                return CompletableFuture.completedFuture(new Outcome("Runtime.InitError: " + e.getClass().getName(),
                        null, -1, true));
            }
        } else {
            chosen = c;
        }
        chosen.invocations++;
        invocations.incrementAndGet();
        maxConcurrent.accumulateAndGet(running.incrementAndGet(), Math::max);
        long deadline = System.nanoTime() + timeout.toNanos();
        Context context = new SimulatedContext(functionName, deadline, (int) timeout.toMillis());
        Future<StreamsEventResponse> call = threads.submit(() -> chosen.handler.handleRequest(
                LambdaPayloads.event(eventJson, chosen.loader), context));
        return CompletableFuture.supplyAsync(() -> {
            try {
                if (kill) {
                    // The sandbox dies at a random moment: the work may be done, half done or not started,
                    // and whatever it did is not reported.
                    try {
                        call.get(killAfterMicros, TimeUnit.MICROSECONDS);
                    } catch (TimeoutException stillRunning) {
                        call.cancel(true);
                    }
                    kills.incrementAndGet();
                    retire(chosen);
                    return new Outcome("Runtime.ExitError: the container was killed mid-invocation", null, chosen.id,
                            cold);
                }
                StreamsEventResponse response = call.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
                Outcome o = new Outcome(null, LambdaPayloads.failures(response, chosen.loader), chosen.id, cold);
                release(chosen);
                return o;
            } catch (TimeoutException e) {
                call.cancel(true);
                timeouts.incrementAndGet();
                retire(chosen); // Lambda resets the environment after a timeout
                return new Outcome("Task timed out after " + timeout.toMillis() + " ms", null, chosen.id, cold);
            } catch (ExecutionException e) {
                release(chosen); // an exception does not end the container
                return new Outcome("Unhandled: " + e.getCause().getClass().getName(), null, chosen.id, cold);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new Outcome("interrupted", null, chosen.id, cold);
            } finally {
                running.decrementAndGet();
            }
        }, threads);
    }

    private synchronized void release(Container c) {
        idle.add(c);
    }

    /**
     * The container's process ends. A handler that is {@link AutoCloseable} is closed, so that the threads
     * it started end as they would with the process; nothing else of it runs again.
     */
    private static void retire(Container c) {
        if (c.handler instanceof AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception ignored) {
                // a dying process reports nothing
            }
        }
    }

    /** Containers warm now. */
    synchronized int warm() {
        return idle.size();
    }

    @Override
    public void close() {
        List<Container> warm;
        synchronized (this) {
            warm = new ArrayList<>(idle);
            idle.clear();
        }
        warm.forEach(SimulatedContainers::retire);
        threads.shutdownNow();
    }

    /**
     * A handler factory that loads {@code handlerClass}'s package afresh for each container, so that its
     * static fields (a processor built once per container) are the container's own, as on Lambda.
     */
    @SuppressWarnings("unchecked")
    static Supplier<RequestHandler<DynamodbEvent, StreamsEventResponse>> isolated(
            Class<? extends RequestHandler<DynamodbEvent, StreamsEventResponse>> handlerClass) {
        return () -> {
            try {
                ClassLoader loader = new PackageFirst(handlerClass);
                return (RequestHandler<DynamodbEvent, StreamsEventResponse>) loader.loadClass(handlerClass.getName())
                        .getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot start " + handlerClass.getName() + " in a new container: "
                        + "it needs a public no-argument constructor", e);
            }
        };
    }

    /** Defines the handler's own package anew; everything else comes from the parent. */
    private static final class PackageFirst extends ClassLoader {
        private final Class<?> anchor;
        private final String prefix;

        PackageFirst(Class<?> anchor) {
            super(anchor.getClassLoader());
            this.anchor = anchor;
            this.prefix = anchor.getPackageName() + ".";
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (!name.startsWith(prefix) || name.substring(prefix.length()).contains(".")) {
                return super.loadClass(name, resolve);
            }
            synchronized (getClassLoadingLock(name)) {
                Class<?> c = findLoadedClass(name);
                if (c == null) {
                    String path = "/" + name.replace('.', '/') + ".class";
                    try (InputStream in = anchor.getResourceAsStream(path)) {
                        if (in == null) {
                            return super.loadClass(name, resolve);
                        }
                        byte[] bytes = in.readAllBytes();
                        c = defineClass(name, bytes, 0, bytes.length);
                    } catch (IOException e) {
                        throw new ClassNotFoundException(name, e);
                    }
                }
                if (resolve) {
                    resolveClass(c);
                }
                return c;
            }
        }
    }

    /** The invocation's context: its deadline, on the real clock the handler runs on. */
    private record SimulatedContext(String functionName, long deadlineNanos, int timeoutMillis) implements Context {
        @Override
        public String getAwsRequestId() {
            return java.util.UUID.randomUUID().toString();
        }

        @Override
        public String getLogGroupName() {
            return "/aws/lambda/" + functionName;
        }

        @Override
        public String getLogStreamName() {
            return "simulated";
        }

        @Override
        public String getFunctionName() {
            return functionName;
        }

        @Override
        public String getFunctionVersion() {
            return "$LATEST";
        }

        @Override
        public String getInvokedFunctionArn() {
            return "arn:aws:lambda:us-east-1:123456789012:function:" + functionName;
        }

        @Override
        public CognitoIdentity getIdentity() {
            return null;
        }

        @Override
        public ClientContext getClientContext() {
            return null;
        }

        @Override
        public int getRemainingTimeInMillis() {
            return (int) Math.max(0, (deadlineNanos - System.nanoTime()) / 1_000_000);
        }

        @Override
        public int getMemoryLimitInMB() {
            return 1024;
        }

        @Override
        public LambdaLogger getLogger() {
            return new LambdaLogger() {
                @Override
                public void log(String message) {
                    System.out.print(message);
                }

                @Override
                public void log(byte[] message) {
                    System.out.write(message, 0, message.length);
                }
            };
        }
    }
}
