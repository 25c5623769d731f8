package io.cdcfanout.examples;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.api.sink.DeadLetterSink;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.testkit.TestEvents;
import java.io.PrintStream;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The pipeline on its own, with synthetic customer events: a welcome route on INSERT, a usage
 * metrics route, and an archive route whose sink is throttled now and then and rejects one poison
 * event. Prints progress and a summary; exits 0 when every batch was acknowledged.
 */
public final class PipelineDemo {

    /** A customer as the welcome route sees it. */
    public record Customer(String id, String name, String email) {
    }

    private PipelineDemo() {
    }

    public static void main(String[] args) {
        System.exit(run(System.out) ? 0 : 1);
    }

    /** Runs the demo, printing to {@code out}; true when every batch was acknowledged. */
    public static boolean run(PrintStream out) {
        List<String> welcomes = new ArrayList<>();
        Sink<Customer> welcomeEmails = batch -> {
            batch.events().forEach(e -> welcomes.add("Welcome, " + e.after().orElseThrow().name() + "!"));
            return SinkResult.allDelivered(batch.size());
        };

        Map<String, AtomicLong> eventsPerHour = new ConcurrentHashMap<>();
        DateTimeFormatter hour = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH").withZone(ZoneOffset.UTC);
        Sink<Object> usageMetrics = batch -> {
            batch.events().forEach(e -> eventsPerHour.computeIfAbsent(hour.format(e.creationTime()),
                    h -> new AtomicLong()).incrementAndGet());
            return SinkResult.allDelivered(batch.size());
        };

        FlakyArchive archive = new FlakyArchive();
        List<DeadLetter> deadLetters = new ArrayList<>();
        DeadLetterSink dlq = letters -> {
            synchronized (deadLetters) {
                deadLetters.addAll(letters);
            }
        };
        Counters counters = new Counters();

        BufferPolicy buffer = BufferPolicy.builder().maxEvents(100).maxAge(Duration.ofMillis(200)).build();
        RetryPolicy retry = RetryPolicy.builder().maxAttempts(4).initialBackoff(Duration.ofMillis(10)).build();
        // The pipeline's own image type is the raw map; the welcome route maps it to Customer.
        Pipeline<Map<String, Object>> pipeline = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("welcome")
                        .operations(Operation.INSERT)
                        .transform(e -> e.map(PipelineDemo::toCustomer))
                        .sink(welcomeEmails).buffer(buffer).build())
                .route(Route.<Map<String, Object>>builder("usage-metrics").sink(usageMetrics).buffer(buffer).build())
                .route(Route.<Map<String, Object>>builder("archive").sink(archive).buffer(buffer).retry(retry).build())
                .deadLetterSink(dlq)
                .listener(counters)
                .build();

        TestEvents customers = TestEvents.forTable("Customers", "id");
        int total = 0;
        int acknowledged = 0;
        boolean allAcknowledged = true;
        try (pipeline) {
            for (int batchNo = 0; batchNo < 10; batchNo++) {
                List<ChangeEvent<Map<String, Object>>> batch = new ArrayList<>();
                for (int i = 0; i < 50; i++) {
                    int n = batchNo * 50 + i;
                    String id = "c-" + (n % 120);
                    batch.add(n < 120
                            ? customers.insert(id, Map.of("name", "Customer " + n, "email", id + "@example.com"))
                            : customers.modify(id, Map.of("visits", n - 1), Map.of("visits", n)));
                }
                total += batch.size();
                BatchResult<Map<String, Object>> result = pipeline.submit(batch).join();
                acknowledged += result.size() - result.failures().size();
                allAcknowledged &= result.succeeded();
                out.printf("batch %2d/10: %d events acknowledged, checkpoint %s%n", batchNo + 1,
                        result.size() - result.failures().size(), result.checkpoints().values());
            }
        }

        out.println();
        out.println("Summary");
        out.printf("  events submitted:        %d (acknowledged %d)%n", total, acknowledged);
        out.printf("  welcome emails sent:     %d (first: %s)%n", welcomes.size(),
                welcomes.isEmpty() ? "-" : welcomes.get(0));
        out.printf("  usage metrics per hour:  %s%n", new TreeMap<>(eventsPerHour));
        out.printf("  archived:                %d events in %d calls, %d throttled calls retried%n",
                archive.archived.get(), archive.calls.get(), counters.retries.get());
        out.printf("  dead letters:            %d%n", deadLetters.size());
        for (DeadLetter letter : deadLetters) {
            out.printf("    %s on route %s after %d attempt(s): %s%n", letter.event().eventId(), letter.route(),
                    letter.attempts(), letter.reason());
        }
        out.printf("  per route in/delivered:  %s%n", new TreeMap<>(counters.perRoute()));
        return allAcknowledged;
    }

    private static Customer toCustomer(Map<String, Object> image) {
        return new Customer((String) image.get("id"), (String) image.get("name"), (String) image.get("email"));
    }

    /** An archive that throttles every third call and rejects one poison event. */
    private static final class FlakyArchive implements Sink<Object> {
        final AtomicInteger calls = new AtomicInteger();
        final AtomicInteger archived = new AtomicInteger();

        @Override
        public SinkResult write(SinkBatch<?> batch) {
            if (calls.incrementAndGet() % 3 == 0) {
                throw CdcException.retryable("SlowDown: please reduce your request rate", null);
            }
            SinkResult.Builder result = SinkResult.builder(batch.size()).count("requests", 1);
            for (int i = 0; i < batch.size(); i++) {
                if (batch.events().get(i).eventId().equals("evt-77")) {
                    result.fail(i, "record is larger than the archive accepts", false);
                } else {
                    archived.incrementAndGet();
                }
            }
            return result.build();
        }
    }

    /** Counts deliveries per route and retries. */
    private static final class Counters implements PipelineListener {
        final Map<String, AtomicLong> in = new ConcurrentHashMap<>();
        final Map<String, AtomicLong> delivered = new ConcurrentHashMap<>();
        final AtomicLong retries = new AtomicLong();

        @Override
        public void onEventsIn(String route, int events) {
            in.computeIfAbsent(route, r -> new AtomicLong()).addAndGet(events);
        }

        @Override
        public void onDelivered(String route, int events, Duration maxLag) {
            delivered.computeIfAbsent(route, r -> new AtomicLong()).addAndGet(events);
        }

        @Override
        public void onRetry(String route, int attempt, int events, Duration backoff, String reason) {
            retries.incrementAndGet();
        }

        Map<String, String> perRoute() {
            Map<String, String> m = new TreeMap<>();
            in.forEach((route, n) -> m.put(route, n + "/" + delivered.getOrDefault(route, new AtomicLong())));
            return m;
        }
    }
}
