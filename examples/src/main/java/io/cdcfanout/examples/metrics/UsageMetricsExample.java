package io.cdcfanout.examples.metrics;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.poller.CheckpointStore;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.dynamodb.sink.MaterializedViewSink;
import io.cdcfanout.dynamodb.sink.ViewUpdate;
import io.cdcfanout.examples.Embedded;
import io.cdcfanout.examples.Flows;
import io.cdcfanout.local.LocalDynamoDb;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Usage metrics as a materialized view: every API call recorded in {@code ApiCalls} adds one to its
 * user's count for the hour in {@code UsagePerHour}. The stream is then read twice more from the start,
 * as after lost checkpoints, and the counts stay exact: the view sink records in an applied ledger,
 * per view item and source item, the last change it applied, so it works the same under Lambda.
 */
public final class UsageMetricsExample {
    /** The source table. */
    public static final String CALLS = "ApiCalls";
    /** The view table. */
    public static final String VIEW = "UsagePerHour";
    /** The view's applied ledger. */
    public static final String LEDGER = "UsagePerHourLedger";
    private static final DateTimeFormatter HOUR = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH")
            .withZone(ZoneOffset.UTC);

    /** Calls per user in the source, the view's totals per user after each of the three passes. */
    public record Result(Map<String, Long> source, List<Map<String, Long>> viewAfterPass) {
        /** Whether every pass left the view equal to the source. */
        public boolean exact() {
            return viewAfterPass.stream().allMatch(source::equals);
        }
    }

    private UsageMetricsExample() {
    }

    public static void main(String[] args) {
        Embedded.runAndExit(env -> run(env, System.out));
    }

    /** The view updates of one event: an INSERT of a call adds one to (user, hour). */
    static List<ViewUpdate> usage(ChangeEvent<? extends Map<String, AttributeValue>> e) {
        if (e.operation() != Operation.INSERT) {
            return List.of();
        }
        Map<String, AttributeValue> call = e.after().orElseThrow();
        String hour = HOUR.format(Instant.ofEpochMilli(Long.parseLong(call.get("at").n())));
        return List.of(ViewUpdate.add(Map.of("user", call.get("user"), "hour", AttributeValue.fromS(hour)),
                "calls", 1));
    }

    public static Result run(Embedded env, PrintStream out) {
        DynamoDbClient db = env.dynamoDb();
        LocalDynamoDb.createTable(db, CALLS, StreamViewType.NEW_IMAGE, "user:S", "callId:S");
        LocalDynamoDb.createTable(db, VIEW, null, "user:S", "hour:S");
        MaterializedViewSink.createLedgerTable(db, LEDGER);

        Random random = new Random(11);
        int calls = 500;
        long start = Instant.now().minus(Duration.ofHours(3)).toEpochMilli();
        for (int i = 0; i < calls; i++) {
            String callId = "call-" + i;
            String user = "user-" + random.nextInt(8);
            long at = start + random.nextInt(3 * 3600) * 1000L; // spread over three hours
            db.putItem(p -> p.tableName(CALLS).item(Map.of("user", AttributeValue.fromS(user),
                    "callId", AttributeValue.fromS(callId), "at", AttributeValue.fromN(Long.toString(at)))));
        }
        out.println("  recorded " + calls + " API calls of 8 users over 3 hours");
        Map<String, Long> source = new TreeMap<>();
        db.scanPaginator(s -> s.tableName(CALLS)).items()
                .forEach(item -> source.merge(item.get("user").s(), 1L, Long::sum));

        List<Map<String, Long>> passes = new java.util.ArrayList<>();
        for (int pass = 1; pass <= 3; pass++) {
            // A pipeline closes its sinks, so each pass builds its own; the ledger table is what they share.
            MaterializedViewSink<Map<String, AttributeValue>> view = MaterializedViewSink
                    .<Map<String, AttributeValue>>builder().client(db).table(VIEW).ledgerTable(LEDGER)
                    .updates(UsageMetricsExample::usage).build();
            // Each pass is a new poller with an empty checkpoint store: it reads the stream from the start.
            Flows.Progress progress = env.progress(out);
            try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                    .route(Route.<Map<String, AttributeValue>>builder("usage").sink(view)
                            .buffer(BufferPolicy.builder().maxEvents(200).maxAge(Duration.ofMillis(100)).build())
                            .build())
                    .listener(progress).build();
                    StreamPoller poller = StreamPoller.builder().streamsClient(env.streams(env.home()))
                            .table(CALLS, db).checkpointStore(CheckpointStore.inMemory()).pipeline(pipeline)
                            .pollInterval(Duration.ofMillis(20)).build().start()) {
                progress.await(() -> progress.count("usage.delivered") >= calls, poller, Duration.ofSeconds(60),
                        "pass " + pass + " over " + calls + " calls");
            }
            Map<String, Long> totals = totals(db);
            passes.add(totals);
            out.println("  pass " + pass + (pass == 1 ? "" : " (a replay)") + ": the view counts "
                    + totals.values().stream().mapToLong(Long::longValue).sum() + " calls; equal to the source: "
                    + (totals.equals(source) ? "yes" : "no"));
        }
        return new Result(source, passes);
    }

    /** The view's calls per user, summed over hours. */
    static Map<String, Long> totals(DynamoDbClient db) {
        Map<String, Long> totals = new TreeMap<>();
        db.scanPaginator(s -> s.tableName(VIEW)).items()
                .forEach(item -> totals.merge(item.get("user").s(), Long.parseLong(item.get("calls").n()), Long::sum));
        return totals;
    }
}
