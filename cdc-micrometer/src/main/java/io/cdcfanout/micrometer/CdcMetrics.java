package io.cdcfanout.micrometer;

import io.cdcfanout.api.pipeline.FlushCause;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.api.pipeline.PipelineStats;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.dynamodb.poller.Checkpoint;
import io.cdcfanout.dynamodb.poller.DataLoss;
import io.cdcfanout.dynamodb.poller.PollerListener;
import io.cdcfanout.dynamodb.poller.PollerStats;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.ToDoubleFunction;

/**
 * Pipeline and poller metrics for Micrometer. Register it as the pipeline's and the poller's listener,
 * {@link #watch} them for gauges, and bind it to a registry:
 *
 * <pre>{@code
 * CdcMetrics metrics = new CdcMetrics();
 * Pipeline<...> pipeline = Pipeline.<...>builder().route(...).listener(metrics).build();
 * StreamPoller poller = StreamPoller.builder()...listener(metrics).build();
 * metrics.watch(pipeline).watch(poller).bindTo(registry);
 * }</pre>
 *
 * <p>Meters, all tagged by {@code route} or {@code shard}:
 * <ul>
 *   <li>counters {@code cdc.events.in}, {@code cdc.events.delivered}, {@code cdc.events.dead.lettered}
 *       (also {@code cause}: {@code defect} or {@code sink}), {@code cdc.flushes} ({@code cause}: the
 *       {@link FlushCause}), {@code cdc.retries} (events sent again), {@code cdc.backpressure},
 *       {@code cdc.routes.halted} (halts), {@code cdc.sink.units} ({@code unit}: what the sink counted, such
 *       as {@code firehose.billedUnits}, {@code s3.puts}, {@code dynamodb.transactions});
 *   <li>timer {@code cdc.delivery.lag}: per delivery, now minus the oldest event's creation time;
 *   <li>gauges from {@link Pipeline#stats()}: {@code cdc.route.buffered}, {@code cdc.route.buffered.bytes},
 *       {@code cdc.route.in.flight}, {@code cdc.route.parked.keys}, {@code cdc.route.halted} (0 or 1);
 *   <li>poller: counters {@code cdc.poller.records}, {@code cdc.poller.rewinds}, {@code cdc.poller.backoffs},
 *       {@code cdc.poller.data.loss}, {@code cdc.poller.shards.lost}; gauges from {@link StreamPoller#stats()}:
 *       {@code cdc.poller.shards.owned}, and per shard {@code cdc.poller.iterator.age} and
 *       {@code cdc.poller.checkpoint.age} (seconds), {@code cdc.poller.records.in.flight}.
 * </ul>
 * No tag holds item data. Events before {@link #bindTo} are not counted. Thread-safe.
 */
public final class CdcMetrics implements MeterBinder, PipelineListener, PollerListener {
    private volatile MeterRegistry registry;
    private final List<Pipeline<?>> pipelines = new CopyOnWriteArrayList<>();
    private final List<StreamPoller> pollers = new CopyOnWriteArrayList<>();
    private final Set<String> shardGauges = ConcurrentHashMap.newKeySet();
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final Map<String, Timer> lags = new ConcurrentHashMap<>();

    /** Metrics not yet bound to a registry. */
    public CdcMetrics() {
    }

    /** Adds gauges of {@code pipeline}'s routes (registered at {@link #bindTo}, or now if bound). */
    public CdcMetrics watch(Pipeline<?> pipeline) {
        pipelines.add(Objects.requireNonNull(pipeline, "pipeline must not be null"));
        MeterRegistry r = registry;
        if (r != null) {
            routeGauges(r, pipeline);
        }
        return this;
    }

    /** Adds gauges of {@code poller}'s shards (registered at {@link #bindTo}, or now if bound). */
    public CdcMetrics watch(StreamPoller poller) {
        pollers.add(Objects.requireNonNull(poller, "poller must not be null"));
        MeterRegistry r = registry;
        if (r != null) {
            pollerGauges(r, poller);
        }
        return this;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        this.registry = Objects.requireNonNull(registry, "registry must not be null");
        pipelines.forEach(p -> routeGauges(registry, p));
        pollers.forEach(p -> pollerGauges(registry, p));
    }

    private static void routeGauges(MeterRegistry registry, Pipeline<?> pipeline) {
        for (String route : pipeline.routes()) {
            routeGauge(registry, pipeline, route, "cdc.route.buffered", "events", s -> s.bufferedEvents());
            routeGauge(registry, pipeline, route, "cdc.route.buffered.bytes", "bytes", s -> s.bufferedBytes());
            routeGauge(registry, pipeline, route, "cdc.route.in.flight", "events", s -> s.inFlightEvents());
            routeGauge(registry, pipeline, route, "cdc.route.parked.keys", "keys", s -> s.parkedKeys());
            routeGauge(registry, pipeline, route, "cdc.route.halted", null, s -> s.halted() ? 1 : 0);
        }
    }

    private static void routeGauge(MeterRegistry registry, Pipeline<?> pipeline, String route, String name, String unit,
            ToDoubleFunction<PipelineStats.RouteStats> value) {
        Gauge.builder(name, pipeline, p -> {
            PipelineStats.RouteStats s = p.stats().routes().get(route);
            return s == null ? Double.NaN : value.applyAsDouble(s);
        }).tags("route", route).baseUnit(unit).register(registry);
    }

    private void pollerGauges(MeterRegistry registry, StreamPoller poller) {
        Gauge.builder("cdc.poller.shards.owned", poller, p -> p.stats().ownedShards())
                .tags("stream", poller.streamArn()).register(registry);
        for (PollerStats.ShardStats s : poller.stats().shards()) {
            shardGauges(registry, poller, s.shardId());
        }
    }

    private void shardGauges(MeterRegistry registry, StreamPoller poller, String shard) {
        if (!shardGauges.add(poller.streamArn() + "\n" + shard)) {
            return;
        }
        shardGauge(registry, poller, shard, "cdc.poller.iterator.age",
                s -> s.iteratorAge().map(d -> d.toMillis() / 1000.0).orElse(Double.NaN));
        shardGauge(registry, poller, shard, "cdc.poller.checkpoint.age",
                s -> s.checkpointAge().map(d -> d.toMillis() / 1000.0).orElse(Double.NaN));
        shardGauge(registry, poller, shard, "cdc.poller.records.in.flight", s -> s.recordsInFlight());
    }

    private static void shardGauge(MeterRegistry registry, StreamPoller poller, String shard, String name,
            ToDoubleFunction<PollerStats.ShardStats> value) {
        Gauge.builder(name, poller, p -> p.stats().shards().stream().filter(s -> s.shardId().equals(shard))
                .findFirst().map(value::applyAsDouble).orElse(Double.NaN))
                .tags("shard", shard).baseUnit(name.endsWith(".age") ? "seconds" : "records").register(registry);
    }

    private void count(String name, double amount, String... tags) {
        MeterRegistry r = registry;
        if (r == null) {
            return;
        }
        String id = name + "\n" + String.join("\n", tags);
        counters.computeIfAbsent(id, k -> Counter.builder(name).tags(Tags.of(tags)).register(r)).increment(amount);
    }

    // ------------------------------------------------------------------ PipelineListener

    @Override
    public void onEventsIn(String route, int events) {
        count("cdc.events.in", events, "route", route);
    }

    @Override
    public void onFlush(String route, FlushCause cause, int events, long bytes) {
        count("cdc.flushes", 1, "route", route, "cause", cause.name().toLowerCase(java.util.Locale.ROOT));
    }

    @Override
    public void onDelivered(String route, int events, Duration maxLag) {
        count("cdc.events.delivered", events, "route", route);
        MeterRegistry r = registry;
        if (r != null) {
            lags.computeIfAbsent(route, k -> Timer.builder("cdc.delivery.lag").tags("route", k).register(r))
                    .record(maxLag);
        }
    }

    @Override
    public void onRetry(String route, int attempt, int events, Duration backoff, String reason) {
        count("cdc.retries", events, "route", route);
    }

    @Override
    public void onDeadLetter(DeadLetter letter) {
        count("cdc.events.dead.lettered", 1, "route", letter.route(), "cause",
                letter.event().defect().isPresent() ? "defect" : "sink");
    }

    @Override
    public void onSinkCounters(String route, Map<String, Long> counters) {
        counters.forEach((unit, n) -> count("cdc.sink.units", n, "route", route, "unit", unit));
    }

    @Override
    public void onBackpressure(String route, int held) {
        count("cdc.backpressure", 1, "route", route);
    }

    @Override
    public void onRouteHalted(String route, String reason) {
        count("cdc.routes.halted", 1, "route", route);
    }

    // ------------------------------------------------------------------ PollerListener

    @Override
    public void onShardStarted(String shardId, String from) {
        MeterRegistry r = registry;
        if (r != null) {
            for (StreamPoller p : pollers) {
                shardGauges(r, p, shardId);
            }
        }
    }

    @Override
    public void onRecords(String shardId, int records, Duration lag) {
        count("cdc.poller.records", records, "shard", shardId);
    }

    @Override
    public void onCheckpoint(String shardId, Checkpoint checkpoint) {
        count("cdc.poller.checkpoints", 1, "shard", shardId);
    }

    @Override
    public void onDataLoss(DataLoss loss) {
        count("cdc.poller.data.loss", 1, "shard", loss.shardId());
    }

    @Override
    public void onBackoff(String shardId, Duration backoff, String reason) {
        count("cdc.poller.backoffs", 1, "shard", shardId == null ? "none" : shardId);
    }

    @Override
    public void onRewind(String shardId, String toCheckpoint, String reason) {
        count("cdc.poller.rewinds", 1, "shard", shardId);
    }

    @Override
    public void onShardLost(String shardId, String reason) {
        count("cdc.poller.shards.lost", 1, "shard", shardId);
    }
}
