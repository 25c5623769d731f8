package io.cdcfanout.benchmarks;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.DeadLetterSink;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;

/**
 * The poison-key ratio: healthy keys' throughput with one always-failing key among 100, against a
 * clean run, on a route with the library's defaults (a retryable failure, the default retry policy,
 * PARK_KEY) and a user sink that takes 2 ms per call, like a network service; 200,000 events, measured
 * until the last healthy event is delivered. Before lanes, the failing key's batch held the whole route
 * through its backoff (0.19x); now it holds only its own lane.
 *
 * <p>{@code mvn -B -q -pl cdc-benchmarks exec:exec -Dexec.executable=java -Dexec.args="-cp %classpath
 * io.cdcfanout.benchmarks.PoisonKeyRatio"}
 */
public final class PoisonKeyRatio {
    private static final int KEYS = 100;
    private static final int EVENTS = 200_000;
    private static final int BATCH = 100;

    private PoisonKeyRatio() {
    }

    /** A user sink: one call at a time (the default), 2 ms each, failing every event of {@code poison}. */
    private static final class TwoMillisSink implements Sink<Map<String, Object>> {
        final String poison;
        final long healthyTotal;
        long healthyDelivered;
        volatile long allHealthyAt;

        TwoMillisSink(String poison, long healthyTotal) {
            this.poison = poison;
            this.healthyTotal = healthyTotal;
        }

        @Override
        public SinkResult write(SinkBatch<? extends Map<String, Object>> batch) {
            LockSupport.parkNanos(2_000_000);
            SinkResult.Builder r = SinkResult.builder(batch.size());
            for (int i = 0; i < batch.size(); i++) {
                if (batch.events().get(i).key().values().get("id").equals(poison)) {
                    r.fail(i, "refused", true);
                } else {
                    healthyDelivered++;
                }
            }
            if (healthyDelivered == healthyTotal && allHealthyAt == 0) {
                allHealthyAt = System.nanoTime();
            }
            return r.build();
        }
    }

    private static double run(String poison) {
        TwoMillisSink sink = new TwoMillisSink(poison, poison == null ? EVENTS : EVENTS - EVENTS / KEYS);
        DeadLetterSink letters = batch -> { };
        List<ChangeEvent<Map<String, Object>>> all = new ArrayList<>(EVENTS);
        Source source = Source.ofTable("T");
        for (int i = 0; i < EVENTS; i++) {
            String id = "k" + (i % KEYS);
            all.add(ChangeEvent.<Map<String, Object>>builder().operation(Operation.INSERT).source(source)
                    .position(new Position("s", Integer.toString(i + 1))).creationTime(Instant.now()).eventId("e" + i)
                    .key(EventKey.of("T", "id", id)).after(Map.of("n", i)).sizeBytes(100).build());
        }
        long start = System.nanoTime();
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("r").sink(sink).build()) // all defaults
                .deadLetterSink(letters).build()) {
            List<CompletableFuture<BatchResult<Map<String, Object>>>> results = new ArrayList<>();
            for (int i = 0; i < EVENTS; i += BATCH) {
                results.add(p.submit(all.subList(i, i + BATCH)));
            }
            p.flush();
            results.forEach(CompletableFuture::join);
        }
        // Until the last healthy event is delivered: the poison key's own dead-lettering (after its
        // retries run out) is its lane's business, not the healthy keys' throughput.
        double seconds = (sink.allHealthyAt - start) / 1e9;
        return sink.healthyDelivered / seconds;
    }

    public static void main(String[] args) {
        run(null); // warm-up
        double[] clean = new double[3];
        double[] poisoned = new double[3];
        for (int i = 0; i < 3; i++) {
            clean[i] = run(null);
            poisoned[i] = run("k42");
        }
        java.util.Arrays.sort(clean);
        java.util.Arrays.sort(poisoned);
        System.out.printf("healthy keys, events/s (median of 3): clean %.0f, one poison key %.0f; ratio %.2fx%n",
                clean[1], poisoned[1], poisoned[1] / clean[1]);
    }
}
