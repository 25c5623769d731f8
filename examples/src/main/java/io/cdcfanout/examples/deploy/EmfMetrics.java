package io.cdcfanout.examples.deploy;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.cdcfanout.api.pipeline.FlushCause;
import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.api.sink.DeadLetter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The pipeline's metrics as CloudWatch Embedded Metric Format: one JSON document per route, written to
 * the function's log after each invocation, which CloudWatch turns into metrics without an API call
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 * Powertools Metrics does the same, but is not served to this build; the format is small enough to
 * write here. Namespace {@value #NAMESPACE}, dimensions {@code Service} and {@code Route}; the metrics
 * are those of {@code cdc-micrometer} ({@code EventsIn}, {@code Delivered}, {@code DeadLettered},
 * {@code Retries}, {@code RoutesHalted}, {@code Flushes}, {@code MaxLagMs}, and one per sink counter,
 * such as {@code firehose.billedUnits}). No item data: names and numbers only.
 */
public final class EmfMetrics implements PipelineListener {
    /** The CloudWatch namespace of the metrics. */
    public static final String NAMESPACE = "cdc-fanout";
    private static final JsonFactory JSON = new JsonFactory();

    private final String service;
    private final Clock clock;
    private final Map<String, Map<String, AtomicLong>> byRoute = new ConcurrentHashMap<>();

    public EmfMetrics(String service, Clock clock) {
        this.service = service;
        this.clock = clock;
    }

    private void add(String route, String metric, long n) {
        byRoute.computeIfAbsent(route, r -> new ConcurrentHashMap<>())
                .computeIfAbsent(metric, m -> new AtomicLong()).addAndGet(n);
    }

    private void max(String route, String metric, long n) {
        byRoute.computeIfAbsent(route, r -> new ConcurrentHashMap<>())
                .computeIfAbsent(metric, m -> new AtomicLong()).accumulateAndGet(n, Math::max);
    }

    @Override
    public void onEventsIn(String route, int events) {
        add(route, "EventsIn", events);
    }

    @Override
    public void onFlush(String route, FlushCause cause, int events, long bytes) {
        add(route, "Flushes", 1);
    }

    @Override
    public void onDelivered(String route, int events, Duration maxLag) {
        add(route, "Delivered", events);
        max(route, "MaxLagMs", maxLag.toMillis());
    }

    @Override
    public void onRetry(String route, int attempt, int events, Duration backoff, String reason) {
        add(route, "Retries", events);
    }

    @Override
    public void onDeadLetter(DeadLetter letter) {
        add(letter.route(), "DeadLettered", 1);
    }

    @Override
    public void onSinkCounters(String route, Map<String, Long> counters) {
        counters.forEach((name, n) -> add(route, name, n));
    }

    @Override
    public void onRouteHalted(String route, String reason) {
        add(route, "RoutesHalted", 1);
    }

    /**
     * A poller listener counting {@code DataLoss} under the route {@code poller}, for a long-running
     * process that calls {@link #emit} on a schedule.
     */
    public io.cdcfanout.dynamodb.poller.PollerListener poller() {
        return new io.cdcfanout.dynamodb.poller.PollerListener() {
            @Override
            public void onDataLoss(io.cdcfanout.dynamodb.poller.DataLoss loss) {
                add("poller", "DataLoss", 1);
            }

            @Override
            public void onRewind(String shardId, String toCheckpoint, String reason) {
                add("poller", "Rewinds", 1);
            }
        };
    }

    /** Writes one EMF document per route with activity since the last call, then starts over. */
    public void emit(PrintStream out) {
        long now = clock.millis();
        for (String route : new TreeMap<>(byRoute).keySet()) {
            Map<String, AtomicLong> metrics = byRoute.remove(route);
            if (metrics == null || metrics.isEmpty()) {
                continue;
            }
            Map<String, Long> values = new LinkedHashMap<>();
            new TreeMap<>(metrics).forEach((name, v) -> values.put(name, v.get()));
            out.println(document(now, route, values));
        }
    }

    private String document(long timestamp, String route, Map<String, Long> values) {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(w)) {
            g.writeStartObject();
            g.writeObjectFieldStart("_aws");
            g.writeNumberField("Timestamp", timestamp);
            g.writeArrayFieldStart("CloudWatchMetrics");
            g.writeStartObject();
            g.writeStringField("Namespace", NAMESPACE);
            g.writeArrayFieldStart("Dimensions");
            g.writeStartArray();
            g.writeString("Service");
            g.writeString("Route");
            g.writeEndArray();
            g.writeEndArray();
            g.writeArrayFieldStart("Metrics");
            for (String name : values.keySet()) {
                g.writeStartObject();
                g.writeStringField("Name", name);
                g.writeStringField("Unit", name.endsWith("Ms") ? "Milliseconds" : "Count");
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
            g.writeEndArray();
            g.writeEndObject();
            g.writeStringField("Service", service);
            g.writeStringField("Route", route);
            for (Map.Entry<String, Long> v : values.entrySet()) {
                g.writeNumberField(v.getKey(), v.getValue());
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return w.toString();
    }
}
