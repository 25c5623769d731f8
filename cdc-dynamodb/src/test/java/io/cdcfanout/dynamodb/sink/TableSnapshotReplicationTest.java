package io.cdcfanout.dynamodb.sink;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.dynamodb.snapshot.SnapshotCheckpoints;
import io.cdcfanout.dynamodb.snapshot.SnapshotProgress;
import io.cdcfanout.dynamodb.snapshot.TableSnapshot;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.PutRequest;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.awssdk.services.dynamodb.model.WriteRequest;

/**
 * Backfill of a table whose items were written before its stream was enabled: the poller reads the
 * stream from before the snapshot starts, a Parallel Scan snapshot runs (and is killed and resumed)
 * while puts, updates and deletes hit the same keys, and the replica ends equal to the source.
 */
class TableSnapshotReplicationTest {
    private static final int ITEMS = 20_000;
    private static final int CHANGES = 1_500;

    @TempDir
    Path checkpointDir;

    @Test
    void anExistingTableIsReplicatedExactlyAcrossAKilledAndResumedSnapshotWithConcurrentChanges() throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient db = local.client();
        String table = LocalDynamoDb.uniqueName("Customers");
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
        // The stream starts now: it holds none of the items above.
        db.updateTable(r -> r.tableName(table).streamSpecification(sp -> sp.streamEnabled(true)
                .streamViewType(StreamViewType.NEW_AND_OLD_IMAGES)));
        String arn = db.describeTable(r -> r.tableName(table)).table().latestStreamArn();
        String region = "me-south-1";
        LocalDynamoDb.createTable(local.client(region), table, null, "id:S");

        RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
        Replicas.Activity activity = new Replicas.Activity();
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("replica")
                        .sink(ReplicationSink.builder().client(local.client(region)).table(table).origin("src").build())
                        .buffer(BufferPolicy.builder().maxEvents(100).build())
                        .build())
                .deadLetterSink(deadLetters).listener(activity).build();
                // The handoff: the stream consumer runs from before the snapshot's start, and during it.
                StreamPoller poller = StreamPoller.builder().streamsClient(local.streams()).streamArn(arn)
                        .pipeline(pipeline).pollInterval(Duration.ofMillis(10)).build().start()) {
            AtomicInteger churn = new AtomicInteger();
            Thread writer = new Thread(() -> {
                Random random = new Random(11);
                for (int i = 0; i < CHANGES; i++) {
                    String id = "c" + random.nextInt(2_200); // hot keys, some of them new
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

            // First run: the process dies after 7 saved pages (the store refuses further saves).
            SnapshotCheckpoints durable = SnapshotCheckpoints.directory(checkpointDir);
            AtomicInteger saves = new AtomicInteger();
            SnapshotCheckpoints dying = new SnapshotCheckpoints() {
                @Override
                public Optional<String> load(String unit) {
                    return durable.load(unit);
                }

                @Override
                public void save(String unit, String token) {
                    if (saves.incrementAndGet() > 7) {
                        throw new IllegalStateException("killed");
                    }
                    durable.save(unit, token);
                }
            };
            TableSnapshot.Builder snapshot = TableSnapshot.builder().client(db).table(table).totalSegments(4)
                    .threads(2).pageLimit(100);
            assertThrows(CdcException.class, () -> snapshot.checkpoints(dying).build().run(pipeline));
            long firstRunPages = 7;

            // Second run, a new process: resumes each segment at its checkpoint.
            List<SnapshotProgress> reports = new CopyOnWriteArrayList<>();
            long resumed = snapshot.checkpoints(SnapshotCheckpoints.directory(checkpointDir)).progress(reports::add)
                    .build().run(pipeline);
            // The 7 saved pages are not read again; the table never holds more than ITEMS + 200 items.
            assertTrue(resumed > 0 && resumed <= ITEMS + 200 - firstRunPages * 100,
                    "resumed at the checkpoints, not restarted: " + resumed + " items");
            SnapshotProgress last = reports.get(reports.size() - 1);
            assertEquals(4, reports.stream().mapToInt(SnapshotProgress::unitsDone).max().orElse(0));
            assertEquals(4, last.units());
            assertTrue(reports.stream().allMatch(p -> p.itemsPerSecond() >= 0));
            writer.join();

            Map<String, Map<String, AttributeValue>> source = Replicas.items(db, table);
            AtomicReference<Map<String, Map<String, AttributeValue>>> replica = new AtomicReference<>(Map.of());
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!source.equals(replica.updateAndGet(x -> Replicas.items(local.client(region), table)))
                    && System.nanoTime() < deadline) {
                activity.await(Duration.ofMillis(500)); // the replica changes only when the route delivers
            }
            Map<String, Map<String, AttributeValue>> differing = new HashMap<>(replica.get());
            differing.entrySet().removeIf(e -> e.getValue().equals(source.get(e.getKey())));
            assertEquals(source.size(), replica.get().size(), "items differ: " + differing.keySet());
            assertEquals(source, replica.get(), "the replica equals the source; no deleted item is present");
            assertTrue(poller.failure().isEmpty());
            assertEquals(CHANGES, churn.get());
        }
        assertEquals(0, deadLetters.letters().size());
    }

    /** The handoff's first rule in code: a table with no stream would lose the changes made during the snapshot. */
    @Test
    void aTableWithoutAStreamIsRefusedUnlessTheBuilderSaysSo() throws Exception {
        DynamoDbClient db = LocalDynamoDb.get().client();
        String table = LocalDynamoDb.uniqueName("NoStream");
        LocalDynamoDb.createTable(db, table, null, "id:S");
        db.putItem(r -> r.tableName(table).item(Map.of("id", s("a"))));
        RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
        io.cdcfanout.testkit.RecordingSink<Map<String, AttributeValue>> seen = new io.cdcfanout.testkit.RecordingSink<>();
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("seen")
                        .sink(seen).build())
                .deadLetterSink(deadLetters).build()) {
            // One family with the poller: a fact about the table is a fatal CdcException.
            io.cdcfanout.api.CdcException refused = assertThrows(io.cdcfanout.api.CdcException.class,
                    () -> TableSnapshot.builder().client(db).table(table).build().run(pipeline));
            assertFalse(refused.retryable());
            assertTrue(refused.getMessage().startsWith("table '" + table + "' has no stream enabled"), refused.getMessage());
            assertTrue(refused.getMessage().contains("withoutStream()"), refused.getMessage());
            assertEquals(1L, TableSnapshot.builder().client(db).table(table).withoutStream().build().run(pipeline));
            pipeline.flush().join();
        }
        assertEquals(1, seen.events().size());
    }

    /** Regression: a failed DescribeTable escaped TableSnapshot.run as a raw SDK exception. */
    @Test
    void aMissingTableIsAFatalCdcExceptionNotARawSdkException() throws Exception {
        DynamoDbClient db = LocalDynamoDb.get().client();
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("seen")
                        .sink(new io.cdcfanout.testkit.RecordingSink<Map<String, AttributeValue>>()).build()).build()) {
            io.cdcfanout.api.CdcException e = assertThrows(io.cdcfanout.api.CdcException.class,
                    () -> TableSnapshot.builder().client(db).table("NoSuchTable").build().run(pipeline));
            assertTrue(e.getMessage().startsWith("cannot describe table 'NoSuchTable': "), e.getMessage());
            assertFalse(e.retryable(), "a missing table stays missing");
        }
    }

    /** Checkpoints for processes without a disk (Lambda, a distributed map's tasks) survive a new store. */
    @Test
    void dynamoDbCheckpointsKeepTheLastTokenAcrossStores() {
        DynamoDbClient db = LocalDynamoDb.get().client();
        String table = LocalDynamoDb.uniqueName("SnapshotCheckpoints");
        SnapshotCheckpoints.createDynamoDbTable(db, table);
        SnapshotCheckpoints first = SnapshotCheckpoints.dynamoDb(db, table);
        assertEquals(Optional.empty(), first.load("Customers/segment-0-of-4"));
        first.save("Customers/segment-0-of-4", "{\"id\":{\"S\":\"c1\"}}");
        first.save("Customers/segment-0-of-4", SnapshotCheckpoints.DONE);
        first.save("Customers/segment-1-of-4", "x");
        SnapshotCheckpoints second = SnapshotCheckpoints.dynamoDb(db, table);
        assertEquals(Optional.of(SnapshotCheckpoints.DONE), second.load("Customers/segment-0-of-4"));
        assertEquals(Optional.of("x"), second.load("Customers/segment-1-of-4"));
        assertEquals(Optional.empty(), second.load("Customers/segment-2-of-4"));
    }
}
