package io.cdcfanout.dynamodb.sink;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.api.sink.SinkUnavailableException;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.dynamodb.StreamReader;
import io.cdcfanout.dynamodb.StreamRecords;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/** Replication into a table of a second "region" of DynamoDB Local. */
class ReplicationSinkTest {
    private final LocalDynamoDb local = LocalDynamoDb.get();

    private List<ChangeEvent<Map<String, AttributeValue>>> eventsOf(String arn) {
        return StreamReader.readAll(local.streams(), arn).stream()
                .map(r -> StreamRecords.toEvent(r.record(), StreamRecords.sourceOf(arn), r.shardId())).toList();
    }

    @ParameterizedTest
    @EnumSource(ReplicationSink.WriteMode.class)
    void replaysAndLateDuplicatesNeverMoveAnItemBack(ReplicationSink.WriteMode mode) {
        String table = LocalDynamoDb.uniqueName("Players");
        String arn = local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        DynamoDbClient target = local.client(mode == ReplicationSink.WriteMode.BATCHED ? "us-west-2" : "eu-west-2");
        LocalDynamoDb.createTable(target, table, StreamViewType.NEW_IMAGE, "id:S");
        Random random = new Random(7);
        for (int i = 0; i < 300; i++) {
            String id = "p" + random.nextInt(12);
            int score = i;
            if (random.nextInt(10) == 0) {
                local.client().deleteItem(r -> r.tableName(table).key(Map.of("id", s(id))));
            } else {
                local.client().putItem(r -> r.tableName(table).item(Map.of("id", s(id), "score", n("" + score),
                        "tags", AttributeValue.builder().ss("a", "b" + score).build())));
            }
        }
        List<ChangeEvent<Map<String, AttributeValue>>> events = eventsOf(arn);
        ReplicationSink sink = ReplicationSink.builder().client(target).table(table).origin("us-east-1")
                .writeMode(mode).build();

        // In batches of 25, as the pipeline would send them.
        for (int i = 0; i < events.size(); i += 25) {
            SinkResult r = sink.write(SinkBatch.of("replica", 1, events.subList(i, Math.min(events.size(), i + 25))));
            assertTrue(r.allDelivered(), r.toString());
        }
        Map<String, Map<String, AttributeValue>> source = Replicas.items(local.client(), table);
        assertEquals(source, Replicas.items(target, table));

        // A replay from an old checkpoint, then stale duplicates of non-delete changes in random order.
        for (int i = 100; i < events.size(); i += 25) {
            sink.write(SinkBatch.of("replica", 2, events.subList(i, Math.min(events.size(), i + 25))));
        }
        List<ChangeEvent<Map<String, AttributeValue>>> stale = new ArrayList<>(events.subList(0, 200));
        stale.removeIf(e -> source.get(e.key().values().get("id")) == null);
        Collections.shuffle(stale, random);
        SinkResult late = sink.write(SinkBatch.of("replica", 3, stale));
        assertTrue(late.allDelivered());
        assertEquals(source, Replicas.items(target, table), "no item moved back to an older version");
        assertTrue(late.counters().get("dynamodb.stale") > 0, late.counters().toString());
        if (mode == ReplicationSink.WriteMode.BATCHED) {
            assertTrue(late.counters().get("dynamodb.requests") <= 4, "one read and a few batched writes: "
                    + late.counters());
        }
    }

    @Test
    void anItemTheTargetRejectsFailsFatallyWithTheDynamoDbError() {
        String table = LocalDynamoDb.uniqueName("Typed");
        String arn = local.createTable(table, StreamViewType.NEW_IMAGE, "id:S");
        DynamoDbClient target = local.client("us-west-1");
        LocalDynamoDb.createTable(target, table, StreamViewType.NEW_IMAGE, "id:N"); // a different key type
        local.client().putItem(r -> r.tableName(table).item(Map.of("id", s("abc"))));
        for (ReplicationSink.WriteMode mode : ReplicationSink.WriteMode.values()) {
            ReplicationSink sink = ReplicationSink.builder().client(target).table(table).origin("o").writeMode(mode)
                    .build();
            SinkResult r = sink.write(SinkBatch.of("replica", 1, eventsOf(arn)));
            assertEquals(SinkResult.Status.FAILED_FATAL, r.status(0), mode.toString());
            assertTrue(r.reason(0).startsWith("DynamoDB ValidationException on table '" + table + "': "), r.reason(0));
        }
    }

    @Test
    void aMissingTargetTableHaltsTheRouteWithAClearMessage() {
        String table = LocalDynamoDb.uniqueName("Source");
        String arn = local.createTable(table, StreamViewType.NEW_IMAGE, "id:S");
        local.client().putItem(r -> r.tableName(table).item(Map.of("id", s("a"))));
        ReplicationSink sink = ReplicationSink.builder().client(local.client("eu-south-1")).table("NoSuchTable")
                .origin("o").build();
        SinkUnavailableException e = assertThrows(SinkUnavailableException.class,
                () -> sink.write(SinkBatch.of("replica", 1, eventsOf(arn))));
        assertEquals("table 'NoSuchTable' does not exist (or is not visible to this client's account and "
                + "region)", e.getMessage());
    }

    @Test
    void ttlDeletesCanBeSkippedAndItemsReshaped() {
        String table = LocalDynamoDb.uniqueName("Sessions");
        String arn = local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        DynamoDbClient target = local.client("eu-west-3");
        LocalDynamoDb.createTable(target, table, null, "id:S");
        local.client().putItem(r -> r.tableName(table).item(Map.of("id", s("s1"), "token", s("secret"),
                "user", s("ann"))));
        local.client().deleteItem(r -> r.tableName(table).key(Map.of("id", s("s1"))));
        List<ChangeEvent<Map<String, AttributeValue>>> events = new ArrayList<>(eventsOf(arn));
        // The delete as the TTL sweeper would have made it.
        events.set(1, events.get(1).toBuilder().ttlExpiry(true).build());
        ReplicationSink sink = ReplicationSink.builder().client(target).table(table).origin("o")
                .skipTtlDeletes(true)
                .itemTransform(item -> {
                    Map<String, AttributeValue> copy = new HashMap<>(item);
                    copy.remove("token"); // never copy credentials to the replica
                    AttributeValue user = copy.remove("user");
                    if (user != null) {
                        copy.put("owner", user);
                    }
                    return copy;
                })
                .build();
        SinkResult insert = sink.write(SinkBatch.of("replica", 1, events.subList(0, 1)));
        SinkResult ttl = sink.write(SinkBatch.of("replica", 1, events.subList(1, 2)));
        assertTrue(insert.allDelivered() && ttl.allDelivered());
        assertEquals(Map.of("s1", Map.of("id", s("s1"), "owner", s("ann"))), Replicas.items(target, table),
                "the TTL delete was skipped, and the item reshaped");
    }

    /**
     * Regression: during a replay, a one-way replica re-created deleted items (a 5,359-change replay
     * re-created 150 deleted movies) until the replay reached their deletes again.
     */
    @ParameterizedTest
    @EnumSource(ReplicationSink.WriteMode.class)
    void aReplayNeverBringsADeletedItemBackEvenForAMoment(ReplicationSink.WriteMode mode) {
        String table = LocalDynamoDb.uniqueName("Movies");
        String arn = local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        DynamoDbClient target = local.client(mode == ReplicationSink.WriteMode.BATCHED ? "ca-central-1" : "sa-east-1");
        LocalDynamoDb.createTable(target, table, null, "id:S");
        for (int i = 0; i < 40; i++) {
            String id = "m" + i;
            local.client().putItem(r -> r.tableName(table).item(Map.of("id", s(id), "v", n("1"))));
            local.client().putItem(r -> r.tableName(table).item(Map.of("id", s(id), "v", n("2"))));
            if (i % 3 == 0) {
                local.client().deleteItem(r -> r.tableName(table).key(Map.of("id", s(id))));
            }
        }
        List<ChangeEvent<Map<String, AttributeValue>>> events = eventsOf(arn);
        java.time.Instant now = java.time.Instant.parse("2026-11-30T12:00:00Z");
        ReplicationSink sink = ReplicationSink.builder().client(target).table(table).origin("us-east-1")
                .writeMode(mode).clock(java.time.Clock.fixed(now, java.time.ZoneOffset.UTC)).build();
        for (int i = 0; i < events.size(); i += 10) {
            assertTrue(sink.write(SinkBatch.of("replica", 1, events.subList(i, Math.min(events.size(), i + 10))))
                    .allDelivered());
        }
        Map<String, Map<String, AttributeValue>> source = Replicas.items(local.client(), table);
        assertEquals(source, Replicas.items(target, table));
        for (int i = 0; i < events.size(); i += 10) { // the replay, from the very start
            assertTrue(sink.write(SinkBatch.of("replica", 2, events.subList(i, Math.min(events.size(), i + 10))))
                    .allDelivered());
            assertEquals(source, Replicas.items(target, table), "after replaying " + (i + 10) + " changes");
        }
        Map<String, AttributeValue> tombstone = target.getItem(r -> r.tableName(table).key(Map.of("id", s("m0"))))
                .item();
        assertEquals(Boolean.TRUE, tombstone.get(ReplicationSink.DELETED_ATTRIBUTE).bool());
        assertEquals(Long.toString(now.plus(java.time.Duration.ofHours(48)).getEpochSecond()),
                tombstone.get(ReplicationSink.DEFAULT_TTL_ATTRIBUTE).n(), "expires after the replay window");
    }

    @Test
    void aMissingOriginSaysWhatAnOriginIs() {
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> ReplicationSink.builder().client(local.client()).table("Replica").build());
        assertEquals("origin is required: a name for this replicator's source, such as its region (\"us-east-1\"), "
                + "written to cdc_origin in every item it writes so that a reader, or the opposite replicator of a "
                + "two-way pair, knows where the item came from", e.getMessage());
    }

    /** Snapshot items as a scan of the source read them, keyed like the stream's events of the same items. */
    private static List<ChangeEvent<Map<String, AttributeValue>>> snapshotOf(Map<String, Map<String, AttributeValue>> items,
            List<ChangeEvent<Map<String, AttributeValue>>> streamEvents) {
        Map<String, ChangeEvent<Map<String, AttributeValue>>> byId = new HashMap<>();
        streamEvents.forEach(e -> byId.put(e.key().values().get("id").toString(), e));
        List<ChangeEvent<Map<String, AttributeValue>>> snapshot = new ArrayList<>();
        items.forEach((id, item) -> snapshot.add(byId.get(id).toBuilder().operation(Operation.SNAPSHOT)
                .position(Position.SNAPSHOT).eventId("snapshot-" + id).before(null).after(item)
                .changedAttributes(null).ttlExpiry(false).build()));
        return snapshot;
    }

    @ParameterizedTest
    @EnumSource(ReplicationSink.WriteMode.class)
    void aSnapshotNeverOverwritesAStreamChangeNorBringsADeletedItemBack(ReplicationSink.WriteMode mode) {
        String table = LocalDynamoDb.uniqueName("Customers");
        String arn = local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        DynamoDbClient target = local.client(mode == ReplicationSink.WriteMode.BATCHED ? "ap-south-1" : "ap-east-1");
        LocalDynamoDb.createTable(target, table, StreamViewType.NEW_IMAGE, "id:S");
        for (String id : List.of("a", "b", "c", "d")) {
            local.client().putItem(r -> r.tableName(table).item(Map.of("id", s(id), "v", n("1"))));
        }
        int before = eventsOf(arn).size();
        Map<String, Map<String, AttributeValue>> read = Replicas.items(local.client(), table); // the snapshot
        local.client().putItem(r -> r.tableName(table).item(Map.of("id", s("a"), "v", n("2"))));
        local.client().deleteItem(r -> r.tableName(table).key(Map.of("id", s("b"))));
        local.client().putItem(r -> r.tableName(table).item(Map.of("id", s("e"), "v", n("1"))));
        List<ChangeEvent<Map<String, AttributeValue>>> all = eventsOf(arn);
        List<ChangeEvent<Map<String, AttributeValue>>> changes = all.subList(before, all.size()); // the overlap
        List<ChangeEvent<Map<String, AttributeValue>>> snapshot = snapshotOf(read, all);
        ReplicationSink sink = ReplicationSink.builder().client(target).table(table).origin("us-east-1")
                .writeMode(mode).build();

        // The stream's changes land first, the snapshot later: it fills only what no change wrote.
        assertTrue(sink.write(SinkBatch.of("replica", 1, changes)).allDelivered());
        SinkResult late = sink.write(SinkBatch.of("replica", 2, snapshot));
        assertTrue(late.allDelivered(), late.toString());
        Map<String, Map<String, AttributeValue>> source = Replicas.items(local.client(), table);
        assertEquals(source, Replicas.items(target, table), "a kept v=2, b stays deleted, c and d came from the snapshot");

        // In one call, a snapshot item after a change of its key does not supersede the change.
        String table2 = LocalDynamoDb.uniqueName("Customers");
        LocalDynamoDb.createTable(target, table2, StreamViewType.NEW_IMAGE, "id:S");
        ReplicationSink sink2 = ReplicationSink.builder().client(target).table(table2).origin("us-east-1")
                .writeMode(mode).build();
        List<ChangeEvent<Map<String, AttributeValue>>> mixed = new ArrayList<>(changes);
        mixed.addAll(snapshot);
        assertTrue(sink2.write(SinkBatch.of("replica", 1, mixed)).allDelivered());
        assertEquals(source, Replicas.items(target, table2));

        // A snapshot first and the changes after it: the same end state; a replayed snapshot changes nothing.
        String table3 = LocalDynamoDb.uniqueName("Customers");
        LocalDynamoDb.createTable(target, table3, StreamViewType.NEW_IMAGE, "id:S");
        ReplicationSink sink3 = ReplicationSink.builder().client(target).table(table3).origin("us-east-1")
                .writeMode(mode).build();
        assertTrue(sink3.write(SinkBatch.of("replica", 1, snapshot)).allDelivered());
        assertTrue(sink3.write(SinkBatch.of("replica", 2, changes)).allDelivered());
        assertTrue(sink3.write(SinkBatch.of("replica", 3, snapshot)).allDelivered());
        assertEquals(source, Replicas.items(target, table3));
    }

    @Test
    void aSnapshotIsRefusedWherePlainDeletesCouldLetItBringADeletedItemBack() {
        String table = LocalDynamoDb.uniqueName("Customers");
        String arn = local.createTable(table, StreamViewType.NEW_IMAGE, "id:S");
        DynamoDbClient target = local.client("ap-east-2");
        LocalDynamoDb.createTable(target, table, null, "id:S");
        local.client().putItem(r -> r.tableName(table).item(Map.of("id", s("a"))));
        List<ChangeEvent<Map<String, AttributeValue>>> snapshot = snapshotOf(Replicas.items(local.client(), table),
                eventsOf(arn));
        ReplicationSink sink = ReplicationSink.builder().client(target).table(table).origin("o").plainDeletes().build();
        SinkResult r = sink.write(SinkBatch.of("replica", 1, snapshot));
        assertEquals(SinkResult.Status.FAILED_FATAL, r.status(0));
        assertTrue(r.reason(0).contains("plainDeletes leaves no tombstone"), r.reason(0));
        assertEquals(Map.of(), Replicas.items(target, table));
    }

    /**
     * The Lambda path: changes carry no shard id, and with ParallelizationFactor two batches of one shard
     * go to two handler instances; the snapshot still never beats a change.
     */
    @Test
    void aSnapshotNeverBeatsAChangeOnTheLambdaPathWithConcurrentBatches() {
        String table = LocalDynamoDb.uniqueName("Customers");
        String arn = local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        DynamoDbClient target = local.client("ap-east-1");
        LocalDynamoDb.createTable(target, table, null, "id:S");
        for (String id : List.of("a", "b", "c", "d")) {
            local.client().putItem(r -> r.tableName(table).item(Map.of("id", s(id), "v", n("1"))));
        }
        int before = eventsOf(arn).size();
        Map<String, Map<String, AttributeValue>> read = Replicas.items(local.client(), table);
        local.client().putItem(r -> r.tableName(table).item(Map.of("id", s("a"), "v", n("2"))));
        local.client().deleteItem(r -> r.tableName(table).key(Map.of("id", s("b"))));
        local.client().putItem(r -> r.tableName(table).item(Map.of("id", s("e"), "v", n("1"))));
        List<ChangeEvent<Map<String, AttributeValue>>> all = eventsOf(arn);
        List<ChangeEvent<Map<String, AttributeValue>>> lambda = all.subList(before, all.size()).stream()
                .map(e -> e.toBuilder().position(new Position(Position.UNKNOWN_SHARD, e.position().sequenceNumber()))
                        .build())
                .toList();
        List<ChangeEvent<Map<String, AttributeValue>>> snapshot = snapshotOf(read, all);
        ReplicationSink containerA = ReplicationSink.builder().client(target).table(table).origin("us-east-1").build();
        ReplicationSink containerB = ReplicationSink.builder().client(target).table(table).origin("us-east-1").build();
        // Batch 1 (the change of a) and the snapshot race in one container, batch 2 (b, e) in the other.
        List<ChangeEvent<Map<String, AttributeValue>>> first = new ArrayList<>(snapshot);
        first.addAll(lambda.subList(0, 1));
        assertTrue(containerA.write(SinkBatch.of("replica", 1, first)).allDelivered());
        assertTrue(containerB.write(SinkBatch.of("replica", 1, lambda.subList(1, lambda.size()))).allDelivered());
        assertTrue(containerB.write(SinkBatch.of("replica", 2, snapshot)).allDelivered()); // a replayed snapshot
        assertEquals(Replicas.items(local.client(), table), Replicas.items(target, table));
    }
}
