package io.cdcfanout.export;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.PipelineListener;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.dynamodb.sink.MaterializedViewSink;
import io.cdcfanout.dynamodb.sink.ReplicationSink;
import io.cdcfanout.dynamodb.sink.ViewUpdate;
import io.cdcfanout.dynamodb.snapshot.SnapshotCheckpoints;
import io.cdcfanout.dynamodb.snapshot.SnapshotEvents;
import io.cdcfanout.dynamodb.snapshot.SnapshotProgress;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.local.LocalS3;
import io.cdcfanout.s3sink.S3Sink;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import io.cdcfanout.testkit.RecordingSink;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import io.cdcfanout.local.LocalExport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.PutRequest;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.awssdk.services.dynamodb.model.WriteRequest;

/**
 * The export path of a backfill, on export-format files in s3proxy (DynamoDB Local has no export API)
 * and a table in DynamoDB Local whose items predate its stream.
 */
class ExportSnapshotTest {
    private static final int ITEMS = 6_000;
    private static final int CHANGES = 1_000;
    private static final Pattern EVENT_ID = Pattern.compile("\"eventId\":\"([^\"]+)\"");
    private static final Pattern OP = Pattern.compile("\"op\":\"([A-Z]+)\"");
    private static LocalS3 s3;
    private static int buckets;

    @TempDir
    Path checkpointDir;

    @BeforeAll
    static void start() {
        s3 = new LocalS3();
    }

    @AfterAll
    static void stop() {
        s3.close();
    }

    private static synchronized String newBucket(String name) {
        return s3.bucket(name + "-" + ++buckets);
    }

    @Test
    void anExportIsReplicatedAndArchivedExactlyAcrossAKilledFileWithConcurrentChanges() throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client();
        String table = LocalDynamoDb.uniqueName("Invoices");
        LocalDynamoDb.createTable(db, table, null, "id:S");
        List<WriteRequest> batch = new ArrayList<>();
        for (int i = 0; i < ITEMS; i++) {
            batch.add(WriteRequest.builder().putRequest(PutRequest.builder().item(Map.of("id", s("c" + i),
                    "v", n("0"), "name", s("customer " + i))).build()).build());
            if (batch.size() == 25 || i == ITEMS - 1) {
                List<WriteRequest> chunk = List.copyOf(batch);
                db.batchWriteItem(r -> r.requestItems(Map.of(table, chunk)));
                batch.clear();
            }
        }
        db.updateTable(r -> r.tableName(table).streamSpecification(sp -> sp.streamEnabled(true)
                .streamViewType(StreamViewType.NEW_AND_OLD_IMAGES)));
        String arn = db.describeTable(r -> r.tableName(table)).table().latestStreamArn();
        String region = "sa-east-1";
        LocalDynamoDb.createTable(local.client(region), table, null, "id:S");
        String archive = newBucket("archive");
        String view = LocalDynamoDb.uniqueName("InvoiceTotals");
        LocalDynamoDb.createTable(db, view, null, "bucket:S");
        String ledger = LocalDynamoDb.uniqueName("Ledger");
        MaterializedViewSink.createLedgerTable(db, ledger);
        String exports = newBucket("exports");

        RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
        RecordingSink<Map<String, AttributeValue>> changes = new RecordingSink<>();
        Activity activity = new Activity();
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("replica")
                        .sink(ReplicationSink.builder().client(local.client(region)).table(table).origin("src").build())
                        .buffer(BufferPolicy.builder().maxEvents(100).build()).build())
                .route(Route.<Map<String, AttributeValue>>builder("archive")
                        .sink(S3Sink.builder().client(s3.client()).bucket(archive).prefix("invoices")
                                .serializer(JsonLinesSerializer.plain()).build())
                        .buffer(BufferPolicy.builder().maxEvents(500).maxAge(Duration.ofMillis(20)).build()).build())
                .route(Route.<Map<String, AttributeValue>>builder("view")
                        .sink(MaterializedViewSink.<Map<String, AttributeValue>>builder().client(db).table(view)
                                .ledgerTable(ledger).acceptSnapshots(Duration.ofDays(3))
                                .updates(ExportSnapshotTest::totals).build()).build())
                .route(Route.<Map<String, AttributeValue>>builder("changes").sink(changes)
                        .filter(e -> e.operation() != Operation.SNAPSHOT).build())
                .deadLetterSink(deadLetters).listener(activity).build()) {
            // The handoff: the stream consumer starts first, and its start is what the export must not predate.
            Instant streamReadSince = Instant.now();
            try (StreamPoller poller = StreamPoller.builder().streamsClient(local.streams()).streamArn(arn)
                    .pipeline(pipeline).pollInterval(Duration.ofMillis(10)).build().start()) {
                AtomicInteger churn = new AtomicInteger();
                Thread writer = new Thread(() -> {
                    Random random = new Random(5);
                    for (int i = 0; i < CHANGES; i++) {
                        String id = "c" + random.nextInt(ITEMS + 400); // hot keys, some of them new
                        int v = i + 1;
                        switch (random.nextInt(4)) {
                            case 0 -> db.deleteItem(r -> r.tableName(table).key(Map.of("id", s(id))));
                            case 1 -> db.updateItem(r -> r.tableName(table).key(Map.of("id", s(id)))
                                    .updateExpression("SET v = :v").expressionAttributeValues(Map.of(":v", n("" + v))));
                            default -> db.putItem(r -> r.tableName(table).item(Map.of("id", s(id), "v", n("" + v))));
                        }
                        churn.incrementAndGet();
                    }
                });
                writer.start();
                while (churn.get() < CHANGES / 4) {
                    Thread.onSpinWait();
                }
                // The export, as AWS would write it: the table as it is now, in 4 gzipped data files.
                Instant exportTime = Instant.now();
                List<Map<String, AttributeValue>> exported = db.scanPaginator(r -> r.tableName(table)).items().stream()
                        .toList();
                String manifest = LocalExport.write(s3.client(), exports, "backfill", "01764500000000-a1b2c3d4",
                        "arn:aws:dynamodb:us-east-1:123456789012:table/" + table, exportTime, LocalExport.lines(exported, 4));

                // First run: the process dies after 5 saved batches (the store refuses further saves).
                SnapshotCheckpoints durable = SnapshotCheckpoints.directory(checkpointDir);
                AtomicInteger saves = new AtomicInteger();
                SnapshotCheckpoints dying = new SnapshotCheckpoints() {
                    @Override
                    public Optional<String> load(String unit) {
                        return durable.load(unit);
                    }

                    @Override
                    public void save(String unit, String token) {
                        if (saves.incrementAndGet() > 5) {
                            throw new IllegalStateException("killed");
                        }
                        durable.save(unit, token);
                    }
                };
                ExportSnapshot.Builder export = ExportSnapshot.builder().s3(s3.client()).bucket(exports).manifest(manifest)
                        .keyAttributes("id").streamReadSince(streamReadSince).threads(2).batchSize(250);
                assertThrows(RuntimeException.class, () -> export.checkpoints(dying).build().run(pipeline));

                // Second run, a new process: each file resumes at its checkpoint.
                List<SnapshotProgress> reports = new CopyOnWriteArrayList<>();
                ExportSnapshot resumed = export.checkpoints(SnapshotCheckpoints.directory(checkpointDir))
                        .progress(reports::add).build();
                assertEquals(4, resumed.files().size());
                long sent = resumed.run(pipeline);
                assertTrue(sent > 0 && sent <= exported.size() - 5 * 250, "resumed, not restarted: " + sent);
                assertEquals(4, reports.get(reports.size() - 1).unitsDone());
                assertEquals(0L, resumed.run(pipeline), "every file is done");
                writer.join();

                Map<String, Map<String, AttributeValue>> source = items(db, table);
                Map<String, Map<String, AttributeValue>> replica = items(local.client(region), table);
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (!source.equals(replica) && System.nanoTime() < deadline) {
                    activity.await(Duration.ofMillis(500));
                    replica = items(local.client(region), table);
                }
                assertEquals(source, replica, "the replica equals the source; no deleted item is present");
                Map<String, List<Long>> expectedTotals = totals(source.values());
                Map<String, List<Long>> viewed = totals(db, view);
                deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (!expectedTotals.equals(viewed) && System.nanoTime() < deadline) {
                    activity.await(Duration.ofMillis(500));
                    viewed = totals(db, view);
                }
                assertEquals(expectedTotals, viewed, "the view is exact");
                assertTrue(poller.failure().isEmpty());

                // The archive: every exported item once as a snapshot line, and every change once.
                pipeline.flush().join();
                List<String> lines = new ArrayList<>();
                s3.contents(archive).forEach((key, bytes) -> {
                    if (key.endsWith(".jsonl.gz")) {
                        lines.addAll(LocalS3.lines(key, bytes));
                    }
                });
                assertEquals(lines.size(), Set.copyOf(lines).size(), "no line is archived twice");
                Set<String> snapshotIds = new HashSet<>();
                Set<String> changeIds = new HashSet<>();
                for (String line : lines) {
                    Matcher id = EVENT_ID.matcher(line);
                    Matcher op = OP.matcher(line);
                    assertTrue(id.find() && op.find(), "a line without an id or op");
                    assertTrue((op.group(1).equals("SNAPSHOT") ? snapshotIds : changeIds).add(id.group(1)),
                            "an event is archived twice");
                }
                assertEquals(exported.stream().map(item -> SnapshotEvents.eventId(table,
                        io.cdcfanout.api.EventKey.of(table, "id", item.get("id").s()))).collect(Collectors.toSet()),
                        snapshotIds, "every exported item once");
                assertEquals(changes.eventIds().stream().collect(Collectors.toSet()), changeIds, "every change once");
                assertTrue(s3.contents(archive).keySet().stream().anyMatch(k -> k.startsWith("invoices/snapshot/")));
            }
        }
        assertEquals(0, deadLetters.letters().size());
    }

    @Test
    void aBrokenLineIsDeadLetteredWithFileLineAndRuleAndTheRestDelivered() throws Exception {
        String exports = newBucket("exports");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            lines.add(LocalExport.line(Map.of("id", s("k" + i), "email", s("person" + i + "@example.com"))));
        }
        lines.set(3, "{\"Item\":{\"id\":{\"S\":\"k3\"},\"email\":{\"Q\":\"secret@example.com\"}}}");
        lines.set(6, LocalExport.line(Map.of("email", s("nokey@example.com"))));
        lines.set(8, "{\"Item\":{\"id\":{\"S\":\"" + "z".repeat(ExportSnapshot.MAX_LINE_CHARS) + "\"}}}");
        String manifest = LocalExport.write(s3.client(), exports, "p", "01764500000001-b2c3d4e5",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/People", Instant.parse("2026-11-30T10:00:00Z"),
                List.of(lines));
        RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
        RecordingSink<Map<String, AttributeValue>> seen = new RecordingSink<>();
        ExportSnapshot export = ExportSnapshot.builder().s3(s3.client()).bucket(exports).manifest(manifest)
                .keyAttributes("id").withoutStream().batchSize(4).build();
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("seen").sink(seen).build())
                .deadLetterSink(deadLetters).build()) {
            assertEquals(10L, export.runFile(pipeline, export.files().get(0)));
            pipeline.flush().join();
        }
        assertEquals(7, seen.events().size());
        assertTrue(seen.events().stream().allMatch(e -> e.creationTime().orElseThrow()
                .equals(Instant.parse("2026-11-30T10:00:00Z")) && e.source().region().equals("eu-west-1")));
        List<String> reasons = deadLetters.letters().stream().map(l -> l.reason()).sorted().toList();
        assertEquals(3, reasons.size());
        assertTrue(reasons.stream().anyMatch(r -> r.contains(
                "data file f0x7k2q.json.gz line 4: Item.email has the unknown type 'Q'")), reasons::toString);
        assertTrue(reasons.stream().anyMatch(r -> r.contains("the item lacks its key attribute 'id'")), reasons::toString);
        assertTrue(reasons.stream().anyMatch(r -> r.contains("data file f0x7k2q.json.gz line 9 is longer than "
                + ExportSnapshot.MAX_LINE_CHARS + " characters")), reasons::toString);
        assertTrue(reasons.stream().noneMatch(r -> r.contains("@example.com")), "no item data in a reason");
    }

    @Test
    void theHandoffAndTheManifestsAreChecked() {
        String exports = newBucket("exports");
        String manifest = LocalExport.write(s3.client(), exports, "p", "01764500000002-c3d4e5f6",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/People", Instant.parse("2026-11-30T10:00:00Z"),
                List.of(List.of(LocalExport.line(Map.of("id", s("a"))))));
        ExportSnapshot.Builder b = ExportSnapshot.builder().s3(s3.client()).bucket(exports).manifest(manifest)
                .keyAttributes("id");
        assertEquals("say how the stream covers the export: streamReadSince(<when the stream consumer started>), or "
                + "withoutStream() for a one-off copy (docs/backfill.md)",
                assertThrows(IllegalStateException.class, b::build).getMessage());
        CdcException late = assertThrows(CdcException.class,
                () -> b.streamReadSince(Instant.parse("2026-11-30T11:00:00Z")).build().files());
        assertEquals("the export holds the table at 2026-11-30T10:00:00Z, before the stream consumer started reading "
                + "(2026-11-30T11:00:00Z): the changes between would be lost; export again with an ExportTime at or "
                + "after 2026-11-30T11:00:00Z (docs/backfill.md)", late.getMessage());
        assertEquals(1, b.streamReadSince(Instant.parse("2026-11-30T09:59:00Z")).build().files().size());
        assertEquals("keyAttributes must name the partition key and, if the table has one, the sort key (was 3 names)",
                assertThrows(IllegalArgumentException.class, () -> b.keyAttributes("a", "b", "c")).getMessage());
        assertEquals("manifest must be the key of manifest-summary.json or of the export's folder ending in '/' (was 'x')",
                assertThrows(IllegalArgumentException.class, () -> b.manifest("x")).getMessage());
        ExportSnapshot folder = b.manifest(manifest.replace("manifest-summary.json", "")).build();
        assertEquals("People/export-01764500000002-c3d4e5f6/f0x7k2q.json.gz", folder.unit(folder.files().get(0)));
        assertEquals("dataFileKey 'nope' is not a data file of the export's manifest-files.json",
                assertThrows(IllegalArgumentException.class, () -> folder.runFile(null, "nope")).getMessage());
    }

    @Test
    void aFileShorterThanItsManifestFailsForGoodAfterSendingWhatItHolds() throws Exception {
        String exports = newBucket("exports");
        String manifest = LocalExport.write(s3.client(), exports, "p", "01764500000003-d4e5f6a7",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/People", Instant.parse("2026-11-30T10:00:00Z"),
                List.of(List.of(LocalExport.line(Map.of("id", s("a"))), LocalExport.line(Map.of("id", s("b"))))));
        String dataKey = manifest.replace("manifest-summary.json", "data/f0x7k2q.json.gz");
        s3.client().putObject(r -> r.bucket(exports).key(dataKey), software.amazon.awssdk.core.sync.RequestBody
                .fromBytes(LocalExport.gzip(LocalExport.line(Map.of("id", s("a"))) + "\n")));
        RecordingSink<Map<String, AttributeValue>> seen = new RecordingSink<>();
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("seen").sink(seen).build())
                .deadLetterSink(new RecordingDeadLetterSink()).build()) {
            CdcException e = assertThrows(CdcException.class, () -> ExportSnapshot.builder().s3(s3.client())
                    .bucket(exports).manifest(manifest).keyAttributes("id").withoutStream().build().run(pipeline));
            assertEquals("data file f0x7k2q.json.gz holds 1 items, but manifest-files.json says 2; the file is "
                    + "incomplete or not this export's", e.getMessage());
            assertFalse(e.retryable());
        }
    }

    /**
     * Regression: a file whose count disagreed sent none of its items; a truncated gzip file was called
     * retryable and sent none of its readable lines; a missing file was retryable; and run() gave up on
     * every file after the first bad one. Every readable item of every file arrives; each bad file is
     * reported as fatal, naming the file and the rule.
     */
    @Test
    void badFilesAreReportedFatalByNameAfterEveryReadableItemOfEveryFileIsSent() throws Exception {
        String exports = newBucket("exports");
        List<List<String>> files = new ArrayList<>();
        java.util.Random random = new java.util.Random(22);
        for (int f = 0; f < 4; f++) {
            List<String> lines = new ArrayList<>();
            // f1 is large and varied, as real items are, so that a cut leaves whole lines to read.
            for (int i = 0; i < (f == 1 ? 2_000 : 50); i++) {
                lines.add(LocalExport.line(Map.of("id", s("f" + f + "-" + i), "x",
                        s(Long.toHexString(random.nextLong())))));
            }
            files.add(lines);
        }
        int total = files.stream().mapToInt(List::size).sum();
        String manifest = LocalExport.write(s3.client(), exports, "p", "01764500000009-e5f6a7b8",
                "arn:aws:dynamodb:eu-west-1:123456789012:table/People", Instant.parse("2026-11-30T10:00:00Z"), files);
        String data = manifest.replace("manifest-summary.json", "data/");
        // f0: 50 valid lines, but the manifest says 51.
        String filesKey = manifest.replace("manifest-summary.json", "manifest-files.json");
        String listing = s3.client().getObjectAsBytes(r -> r.bucket(exports).key(filesKey)).asUtf8String()
                .replaceFirst("\\{\"itemCount\":50", "{\"itemCount\":51");
        // f1: gzip cut short, its first part readable.
        byte[] whole = LocalExport.gzip(String.join("\n", files.get(1)) + "\n");
        byte[] cut = java.util.Arrays.copyOf(whole, whole.length * 2 / 3);
        s3.client().putObject(r -> r.bucket(exports).key(data + "f1x7k2q.json.gz"),
                software.amazon.awssdk.core.sync.RequestBody.fromBytes(cut));
        // f2: missing.
        s3.client().deleteObject(r -> r.bucket(exports).key(data + "f2x7k2q.json.gz"));
        // f3: valid, after the bad ones.
        s3.client().putObject(r -> r.bucket(exports).key(filesKey),
                software.amazon.awssdk.core.sync.RequestBody.fromString(listing));
        String summaryText = s3.client().getObjectAsBytes(r -> r.bucket(exports).key(manifest)).asUtf8String()
                .replace("\"itemCount\":" + total, "\"itemCount\":" + (total + 1));
        s3.client().putObject(r -> r.bucket(exports).key(manifest),
                software.amazon.awssdk.core.sync.RequestBody.fromString(summaryText));
        RecordingSink<Map<String, AttributeValue>> seen = new RecordingSink<>();
        ExportSnapshot export = ExportSnapshot.builder().s3(s3.client()).bucket(exports).manifest(manifest)
                .keyAttributes("id").withoutStream().batchSize(20).build();
        CdcException e;
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("seen").sink(seen).build())
                .deadLetterSink(new RecordingDeadLetterSink()).build()) {
            e = assertThrows(CdcException.class, () -> export.run(pipeline));
            pipeline.flush().join();
        }
        assertFalse(e.retryable(), e.getMessage());
        assertTrue(e.getMessage().startsWith("3 of 4 data files failed (the others were read whole): "), e.getMessage());
        assertTrue(e.getMessage().contains("data file f0x7k2q.json.gz holds 50 items, but manifest-files.json says 51"),
                e.getMessage());
        assertTrue(e.getMessage().contains("data file f1x7k2q.json.gz is truncated or corrupt after line "),
                e.getMessage());
        assertTrue(e.getMessage().contains("data file f2x7k2q.json.gz is missing"), e.getMessage());
        java.util.Set<String> ids = new java.util.HashSet<>();
        seen.events().forEach(ev -> ids.add(ev.after().orElseThrow().get("id").s()));
        for (int i = 0; i < 50; i++) {
            assertTrue(ids.contains("f0-" + i), "f0's valid item " + i);
            assertTrue(ids.contains("f3-" + i), "the valid file after the bad ones: item " + i);
        }
        long f1 = ids.stream().filter(id -> id.startsWith("f1-")).count();
        assertTrue(f1 > 0, "the truncated file's readable lines arrive");
        for (int i = 0; i < f1; i++) {
            assertTrue(ids.contains("f1-" + i), "f1's lines arrive in order, none skipped: " + i);
        }
    }

    /** The view: items and the sum of v per bucket (v mod 3); a change moves an item between buckets. */
    static List<ViewUpdate> totals(ChangeEvent<? extends Map<String, AttributeValue>> e) {
        List<ViewUpdate> out = new ArrayList<>();
        e.before().ifPresent(b -> out.add(total(b, -1)));
        e.after().ifPresent(a -> out.add(total(a, 1)));
        return out;
    }

    private static ViewUpdate total(Map<String, AttributeValue> item, int sign) {
        long v = Long.parseLong(item.get("v").n());
        return new ViewUpdate(Map.of("bucket", s("b" + v % 3)), "ADD #n :n, #v :v", Map.of("#n", "items", "#v", "v"),
                Map.of(":n", n(Integer.toString(sign)), ":v", n(Long.toString(sign * v))));
    }

    private static Map<String, List<Long>> totals(java.util.Collection<Map<String, AttributeValue>> items) {
        Map<String, List<Long>> out = new java.util.TreeMap<>();
        for (Map<String, AttributeValue> item : items) {
            long v = Long.parseLong(item.get("v").n());
            out.merge("b" + v % 3, List.of(1L, v), (a, b) -> List.of(a.get(0) + b.get(0), a.get(1) + b.get(1)));
        }
        return out;
    }

    private static Map<String, List<Long>> totals(DynamoDbClient db, String view) {
        Map<String, List<Long>> out = new java.util.TreeMap<>();
        db.scanPaginator(r -> r.tableName(view).consistentRead(true)).items().forEach(item -> {
            long items = Long.parseLong(item.get("items").n());
            if (items != 0) {
                out.put(item.get("bucket").s(), List.of(items, Long.parseLong(item.get("v").n())));
            }
        });
        return out;
    }

    /** Live items keyed by "id", without the replication attributes. */
    private static Map<String, Map<String, AttributeValue>> items(DynamoDbClient db, String table) {
        Map<String, Map<String, AttributeValue>> out = new HashMap<>();
        db.scanPaginator(r -> r.tableName(table)).items().forEach(item -> {
            if (!item.containsKey(ReplicationSink.DELETED_ATTRIBUTE)) {
                Map<String, AttributeValue> copy = new HashMap<>(item);
                copy.remove(ReplicationSink.VERSION_ATTRIBUTE);
                copy.remove(ReplicationSink.ORIGIN_ATTRIBUTE);
                out.put(item.get("id").s(), copy);
            }
        });
        return out;
    }

    /** Lets the test wait for the next delivery instead of sleeping. */
    private static final class Activity implements PipelineListener {
        private long ticks;

        @Override
        public synchronized void onEventsIn(String route, int events) {
            ticks++;
            notifyAll();
        }

        @Override
        public synchronized void onSinkCounters(String route, Map<String, Long> counters) {
            ticks++;
            notifyAll();
        }

        synchronized void await(Duration timeout) throws InterruptedException {
            long seen = ticks;
            long deadline = System.nanoTime() + timeout.toNanos();
            while (ticks == seen && System.nanoTime() < deadline) {
                wait(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            }
        }
    }
}
