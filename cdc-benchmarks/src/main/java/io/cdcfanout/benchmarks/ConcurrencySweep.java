package io.cdcfanout.benchmarks;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.testkit.TestEvents;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Throughput against concurrency: a route's lanes ({@code Route.concurrency}) from 1 to 32 in front of
 * a sink whose calls each take a round trip (2 ms or 5 ms, like an in-region AWS call) and that allows
 * that many calls at once; calls of up to 100 events, over 100,000 keys, and over 1,000 keys, where the
 * per-key order caps the calls that can run at once (a key held by a call in flight waits). Prints a
 * table and writes {@code docs/img/throughput-concurrency.svg}. Medians of 3 runs per point.
 *
 * <p>{@code mvn -B -q -pl cdc-benchmarks exec:exec -Dexec.executable=java -Dexec.args="-cp %classpath
 * io.cdcfanout.benchmarks.ConcurrencySweep"}
 */
public final class ConcurrencySweep {
    private static final int EVENTS = 100_000;

    private ConcurrencySweep() {
    }

    /** A sink that spends {@code rttNanos} per call and allows {@code calls} calls at once. */
    private record RoundTripSink(long rttNanos, int calls, AtomicLong delivered) implements Sink<Map<String, Object>> {
        @Override
        public SinkResult write(SinkBatch<? extends Map<String, Object>> batch) {
            LockSupport.parkNanos(rttNanos);
            delivered.addAndGet(batch.size());
            return SinkResult.allDelivered(batch.size());
        }

        @Override
        public int maxConcurrentCalls() {
            return calls;
        }
    }

    static double run(int lanes, long rttMillis, List<ChangeEvent<Map<String, Object>>> events) {
        AtomicLong delivered = new AtomicLong();
        try (Pipeline<Map<String, Object>> pipeline = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("r")
                        .sink(new RoundTripSink(rttMillis * 1_000_000, lanes, delivered))
                        .concurrency(lanes)
                        .buffer(BufferPolicy.builder().maxEvents(100).maxAge(java.time.Duration.ZERO)
                                .capacity(20_000).build())
                        .build())
                .build()) {
            long start = System.nanoTime();
            List<CompletableFuture<?>> done = new ArrayList<>();
            for (int from = 0; from < events.size(); from += 1000) {
                done.add(pipeline.submit(events.subList(from, Math.min(events.size(), from + 1000))));
            }
            pipeline.flush();
            CompletableFuture.allOf(done.toArray(new CompletableFuture<?>[0])).join();
            double seconds = (System.nanoTime() - start) / 1e9;
            if (delivered.get() != events.size()) {
                throw new IllegalStateException("delivered " + delivered.get() + " of " + events.size());
            }
            return events.size() / seconds;
        }
    }

    public static void main(String[] args) {
        List<ChangeEvent<Map<String, Object>>> manyKeys = events(100_000);
        List<ChangeEvent<Map<String, Object>>> fewKeys = events(1_000);
        int[] lanes = {1, 2, 4, 8, 16, 32};
        double[][] two = new double[lanes.length][];
        double[][] five = new double[lanes.length][];
        double[][] few = new double[lanes.length][];
        run(8, 2, manyKeys.subList(0, 20_000)); // warm-up
        System.out.printf("%-6s %22s %22s %22s%n", "lanes", "2 ms, 100,000 keys", "5 ms, 100,000 keys",
                "2 ms, 1,000 keys");
        for (int i = 0; i < lanes.length; i++) {
            two[i] = new double[] {lanes[i], median(lanes[i], 2, manyKeys)};
            five[i] = new double[] {lanes[i], median(lanes[i], 5, manyKeys)};
            few[i] = new double[] {lanes[i], median(lanes[i], 2, fewKeys)};
            System.out.printf("%-6d %20.0f/s %20.0f/s %20.0f/s%n", lanes[i], two[i][1], five[i][1], few[i][1]);
        }
        Map<String, double[][]> series = new LinkedHashMap<>();
        series.put("2 ms a call", two);
        series.put("5 ms a call", five);
        series.put("2 ms, 1,000 keys", few);
        Plot.lines(Plot.dir().resolve("throughput-concurrency.svg"),
                "Throughput against route concurrency (calls of 100 events)", "lanes (Route.concurrency)",
                "events per second", series);
    }

    private static List<ChangeEvent<Map<String, Object>>> events(int keys) {
        TestEvents t = TestEvents.forTable("Invoices", "id");
        List<ChangeEvent<Map<String, Object>>> events = new ArrayList<>(EVENTS);
        for (int i = 0; i < EVENTS; i++) {
            events.add(t.insert("k" + (i % keys), Map.of("n", i)));
        }
        return events;
    }

    private static double median(int lanes, long rtt, List<ChangeEvent<Map<String, Object>>> events) {
        double[] r = {run(lanes, rtt, events), run(lanes, rtt, events), run(lanes, rtt, events)};
        java.util.Arrays.sort(r);
        return r[1];
    }
}
