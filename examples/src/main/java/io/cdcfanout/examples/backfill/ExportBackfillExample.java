package io.cdcfanout.examples.backfill;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.dynamodb.sink.MaterializedViewSink;
import io.cdcfanout.dynamodb.sink.ViewUpdate;
import io.cdcfanout.dynamodb.snapshot.SnapshotCheckpoints;
import io.cdcfanout.examples.Embedded;
import io.cdcfanout.examples.Flows;
import io.cdcfanout.export.ExportSnapshot;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.local.LocalExport;
import io.cdcfanout.local.LocalS3;
import io.cdcfanout.s3sink.S3Sink;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.PutRequest;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.awssdk.services.dynamodb.model.WriteRequest;

/**
 * Backfill from an export: an existing {@code Invoices} table, older than its stream, goes into the
 * 7-year S3 archive and a view of totals per customer, from a DynamoDB export to S3 (which reads no
 * table capacity) while the application keeps writing. The archive ends with every exported invoice
 * once as a snapshot line, and the view equals the totals computed from the table.
 */
public final class ExportBackfillExample {
    /** The existing table. */
    public static final String TABLE = "LegacyInvoices";
    /** The view of totals per customer. */
    public static final String VIEW = "LegacyInvoiceTotals";
    /** The region of both. */
    public static final String REGION = "ap-south-1";

    /**
     * What the run showed.
     *
     * @param loaded invoices written before the stream was enabled
     * @param exported invoices in the export
     * @param sent invoices the export snapshot sent
     * @param archivedOnce whether the archive holds each exported invoice exactly once as a snapshot line
     * @param viewExact whether the view equals the totals computed from the table at the end
     */
    public record Result(int loaded, long exported, long sent, boolean archivedOnce, boolean viewExact) {
    }

    private ExportBackfillExample() {
    }

    public static void main(String[] args) {
        Embedded.runAndExit(env -> run(env, System.out));
    }

    /** The view: invoices and their amount per customer; a change moves an invoice's amount. */
    static List<ViewUpdate> totals(ChangeEvent<? extends Map<String, AttributeValue>> e) {
        List<ViewUpdate> out = new ArrayList<>();
        e.before().ifPresent(b -> out.add(total(b, -1)));
        e.after().ifPresent(a -> out.add(total(a, 1)));
        return out;
    }

    private static ViewUpdate total(Map<String, AttributeValue> invoice, int sign) {
        return new ViewUpdate(Map.of("customer", invoice.get("customer")), "ADD #n :n, #a :a",
                Map.of("#n", "invoices", "#a", "amount"), Map.of(":n", AttributeValue.fromN(Integer.toString(sign)),
                        ":a", AttributeValue.fromN(sign < 0 ? "-" + invoice.get("amount").n() : invoice.get("amount").n())));
    }

    public static Result run(Embedded env, PrintStream out) {
        DynamoDbClient db = env.dynamoDb(REGION);
        int loaded = 600;
        LocalDynamoDb.createTable(db, TABLE, null, "id:S");
        load(db, loaded);
        db.updateTable(r -> r.tableName(TABLE).streamSpecification(s -> s.streamEnabled(true)
                .streamViewType(StreamViewType.NEW_AND_OLD_IMAGES)));
        LocalDynamoDb.createTable(db, VIEW, null, "customer:S");
        String ledger = VIEW + "Ledger";
        MaterializedViewSink.createLedgerTable(db, ledger);
        String exports = env.s3StandIn().bucket("cdc-exports");
        out.println("  " + loaded + " invoices in " + TABLE + " (" + REGION + "), written before its stream");

        Flows.Progress progress = env.progress(out);
        long sent;
        long exported;
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("legacy-archive")
                        .sink(S3Sink.builder().client(env.s3()).bucket("cdc-archive").prefix("legacy")
                                .serializer(JsonLinesSerializer.plain()).build())
                        .buffer(BufferPolicy.builder().maxEvents(500).maxAge(Duration.ofMillis(50)).build()).build())
                .route(Route.<Map<String, AttributeValue>>builder("legacy-totals")
                        .sink(MaterializedViewSink.<Map<String, AttributeValue>>builder().client(db).table(VIEW)
                                .ledgerTable(ledger).acceptSnapshots(Duration.ofDays(3))
                                .updates(ExportBackfillExample::totals).build()).build())
                .listener(progress).build()) {
            // 1. The stream consumer first; its start is what the export must not predate.
            Instant consumerStartedAt = Instant.now();
            try (StreamPoller poller = StreamPoller.builder().streamsClient(env.streams(REGION)).table(TABLE, db)
                    .pipeline(pipeline).pollInterval(Duration.ofMillis(20)).build().start()) {
                Thread application = new Thread(() -> churn(db, 150, loaded));
                application.start();
                // 2. The export (here the stand-in for ExportTableToPointInTime), then its files into the pipeline.
                String manifest = LocalExport.exportTable(db, TABLE, env.s3(), exports, "backfill", 3);
                SnapshotCheckpoints checkpoints = SnapshotCheckpoints.inMemory();
                // DOC:begin
                ExportSnapshot export = ExportSnapshot.builder()
                        .s3(env.s3()).bucket(exports).manifest(manifest)
                        .keyAttributes("id")                 // the export does not name the table's key
                        .streamReadSince(consumerStartedAt)  // an older export is refused
                        .checkpoints(checkpoints)            // SnapshotCheckpoints.dynamoDb(...) on Lambda
                        .threads(3)
                        .progress(p -> out.printf("  export: %d items, %d/%d files%n", p.items(), p.unitsDone(), p.units()))
                        .build();
                sent = export.run(pipeline);
                // DOC:end
                exported = export.itemCount();
                join(application);
                progress.await(() -> viewTotals(db).equals(tableTotals(db)), poller, Duration.ofSeconds(60),
                        "the view to catch up");
            }
            pipeline.flush().join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        boolean viewExact = viewTotals(db).equals(tableTotals(db));
        List<String> snapshotLines = new ArrayList<>();
        env.s3StandIn().contents("cdc-archive").forEach((key, bytes) -> {
            if (key.startsWith("legacy/snapshot/") && key.endsWith(".jsonl.gz")) {
                LocalS3.lines(key, bytes).stream().filter(l -> l.contains("\"op\":\"" + Operation.SNAPSHOT + "\""))
                        .forEach(snapshotLines::add);
            }
        });
        boolean archivedOnce = snapshotLines.size() == exported && new java.util.HashSet<>(snapshotLines).size() == exported;
        out.println("  export sent " + sent + " of " + exported + " invoices; archived once each: "
                + (archivedOnce ? "yes" : "no") + "; totals per customer exact: " + (viewExact ? "yes" : "no"));
        return new Result(loaded, exported, sent, archivedOnce, viewExact);
    }

    private static Map<String, List<Long>> tableTotals(DynamoDbClient db) {
        Map<String, List<Long>> out = new TreeMap<>();
        db.scanPaginator(r -> r.tableName(TABLE).consistentRead(true)).items().forEach(i -> out.merge(
                i.get("customer").s(), List.of(1L, Long.parseLong(i.get("amount").n())),
                (a, b) -> List.of(a.get(0) + b.get(0), a.get(1) + b.get(1))));
        return out;
    }

    private static Map<String, List<Long>> viewTotals(DynamoDbClient db) {
        Map<String, List<Long>> out = new TreeMap<>();
        db.scanPaginator(r -> r.tableName(VIEW).consistentRead(true)).items().forEach(i -> {
            long n = Long.parseLong(i.get("invoices").n());
            if (n != 0) {
                out.put(i.get("customer").s(), List.of(n, Long.parseLong(i.get("amount").n())));
            }
        });
        return out;
    }

    private static Map<String, AttributeValue> invoice(int id, Random random) {
        Map<String, AttributeValue> item = new HashMap<>();
        item.put("id", AttributeValue.fromS("INV-" + id));
        item.put("customer", AttributeValue.fromS("cust-" + random.nextInt(12)));
        item.put("amount", AttributeValue.fromN(Integer.toString(10 + random.nextInt(990))));
        return item;
    }

    private static void load(DynamoDbClient db, int count) {
        Random random = new Random(17);
        List<WriteRequest> batch = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            batch.add(WriteRequest.builder().putRequest(PutRequest.builder().item(invoice(i, random)).build()).build());
            if (batch.size() == 25 || i == count - 1) {
                List<WriteRequest> chunk = List.copyOf(batch);
                db.batchWriteItem(r -> r.requestItems(Map.of(TABLE, chunk)));
                batch.clear();
            }
        }
    }

    private static void churn(DynamoDbClient db, int changes, int loaded) {
        Random random = new Random(23);
        for (int i = 0; i < changes; i++) {
            int id = random.nextInt(loaded + 40); // corrections, voids and new invoices
            if (random.nextInt(5) == 0) {
                db.deleteItem(d -> d.tableName(TABLE).key(Map.of("id", AttributeValue.fromS("INV-" + id))));
            } else {
                db.putItem(p -> p.tableName(TABLE).item(invoice(id, random)));
            }
        }
    }

    private static void join(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
