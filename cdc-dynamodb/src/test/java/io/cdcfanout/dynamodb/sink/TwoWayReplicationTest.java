package io.cdcfanout.dynamodb.sink;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.local.LocalDynamoDb;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * The two-way mechanisms that made a multi-master pair diverge, each reproduced alone: two "regions"
 * of DynamoDB Local, the application's writes, and the sinks fed the changes in the adversarial order.
 * {@code TwoWayTortureTest} runs them all at once, under replays, wire faults and crashes.
 */
class TwoWayReplicationTest {
    private static final String ORDER = "updatedAt";
    private static final Map<String, AttributeValue> K = Map.of("id", s("k"));

    private final LocalDynamoDb local = LocalDynamoDb.get();
    private final DynamoDbClient east = local.client("us-east-2");
    private final DynamoDbClient west = local.client("ap-northeast-1");
    private final String table = LocalDynamoDb.uniqueName("GameState");
    private long seq = 100;

    private void tables() {
        LocalDynamoDb.createTable(east, table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        LocalDynamoDb.createTable(west, table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
    }

    private TwoWayTable side(DynamoDbClient db, String name) {
        return TwoWayTable.builder().client(db).table(table).side(name).orderAttribute(ORDER).build();
    }

    private ReplicationSink sink(DynamoDbClient from, String fromSide, DynamoDbClient to, String toSide) {
        return ReplicationSink.builder().client(to).table(table).origin(fromSide).twoWay(ORDER).targetSide(toSide)
                .sourceTable(from, table).build();
    }

    /** The change the application's last write made in {@code db}, as its stream would report it. */
    private ChangeEvent<Map<String, AttributeValue>> change(Map<String, AttributeValue> before,
            Map<String, AttributeValue> after) {
        long s = seq++;
        Operation op = after == null ? Operation.REMOVE : before == null ? Operation.INSERT : Operation.MODIFY;
        return ChangeEvent.<Map<String, AttributeValue>>builder().operation(op).source(Source.ofTable(table))
                .position(new Position("shardId-1", Long.toString(s))).creationTime(Instant.now())
                .eventId("e" + s).key(EventKey.of(table, "id", "k")).before(before).after(after).build();
    }

    private Map<String, AttributeValue> get(DynamoDbClient db) {
        Map<String, AttributeValue> item = db.getItem(g -> g.tableName(table).key(K).consistentRead(true)).item();
        return item == null || item.isEmpty() ? null : item;
    }

    private static void deliver(ReplicationSink sink, ChangeEvent<Map<String, AttributeValue>> e) {
        SinkResult r = sink.write(SinkBatch.of("r", 1, List.of(e)));
        assertTrue(r.allDelivered(), r.toString() + " " + r.reason(0));
    }

    private static Map<String, AttributeValue> item(long order, long score) {
        return Map.of("id", s("k"), ORDER, n(Long.toString(order)), "score", n(Long.toString(score)));
    }

    private void assertConverged(Map<String, Map<String, AttributeValue>> expected) {
        assertEquals(expected, Replicas.items(east, table, ORDER), "east");
        assertEquals(expected, Replicas.items(west, table, ORDER), "west");
    }

    /** Regression (mechanism 1): east's late copy at 50 landed in the slot west's delete emptied. */
    @Test
    void aDeleteIsNotUndoneByALateCopyOfAnOlderWriteFromTheOtherSide() {
        tables();
        ReplicationSink toWest = sink(east, "east", west, "west");
        ReplicationSink toEast = sink(west, "west", east, "east");
        side(east, "east").put(item(50, 1));
        var eastPut = change(null, get(east));
        side(west, "west").put(item(100, 2));
        var westPut = change(null, get(west));
        Map<String, AttributeValue> before = get(west);
        side(west, "west").delete(K, 101);
        var westDelete = change(before, get(west));
        deliver(toWest, eastPut); // the east->west direction catches up first: the copy meets a tombstone
        assertEquals(Map.of(), Replicas.items(west, table, ORDER), "never resurrected, not even for a moment");
        deliver(toEast, westPut);
        deliver(toEast, westDelete);
        assertConverged(Map.of());
    }

    /** The same with a raw DeleteItem (outside the contract): converges, though the slot was empty a while. */
    @Test
    void aRawDeleteItemConvergesToDeletedOnBothSides() {
        tables();
        ReplicationSink toWest = sink(east, "east", west, "west");
        ReplicationSink toEast = sink(west, "west", east, "east");
        side(east, "east").put(item(50, 1));
        var eastPut = change(null, get(east));
        side(west, "west").put(item(100, 2));
        Map<String, AttributeValue> before = get(west);
        west.deleteItem(d -> d.tableName(table).key(K));
        var rawDelete = change(before, null);
        deliver(toWest, eastPut); // lands in the empty slot: the raw delete's window
        deliver(toEast, rawDelete); // the tombstone goes east, and back into west, where it beats the copy
        deliver(toWest, eastPut); // a replay changes nothing now
        assertConverged(Map.of());
    }

    /** Regression (mechanism 2): an UpdateItem after a delete kept cdc_deleted, so the new value was invisible. */
    @Test
    void anUpdateAfterADeleteLivesOnBothSidesWhetherThroughTheHelperOrRaw() {
        tables();
        ReplicationSink toWest = sink(east, "east", west, "west");
        side(east, "east").delete(K, 10);
        deliver(toWest, change(null, get(east)));
        Map<String, AttributeValue> tomb = get(east);
        // A raw UpdateItem that changes the order keeps cdc_deleted, which then no longer matches: live.
        east.updateItem(u -> u.tableName(table).key(K).updateExpression("SET #o = :o, score = :s")
                .expressionAttributeNames(Map.of("#o", ORDER)).expressionAttributeValues(Map.of(":o", n("20"),
                        ":s", n("7"))));
        assertTrue(ReplicationSink.localChanges(ORDER).test(change(tomb, get(east))), "the application's change");
        deliver(toWest, change(tomb, get(east)));
        assertConverged(Map.of("k", item(20, 7)));
        Map<String, AttributeValue> live = get(east);
        side(east, "east").update(K, 30, "SET score = :s", Map.of(), Map.of(":s", n("8")));
        deliver(toWest, change(live, get(east)));
        assertConverged(Map.of("k", item(30, 8)));
    }

    /** Regression (mechanism 3): east's UpdateItem kept west's cdc_origin, so a tie at 20 split the sides. */
    @Test
    void anUpdateItemThatKeepsAnOldOriginDoesNotSplitATie() {
        tables();
        ReplicationSink toWest = sink(east, "east", west, "west");
        ReplicationSink toEast = sink(west, "west", east, "east");
        side(west, "west").put(item(10, 1));
        deliver(toEast, change(null, get(west)));
        Map<String, AttributeValue> eastBefore = get(east);
        east.updateItem(u -> u.tableName(table).key(K).updateExpression("SET #o = :o, score = :s")
                .expressionAttributeNames(Map.of("#o", ORDER)).expressionAttributeValues(Map.of(":o", n("20"),
                        ":s", n("2"))));
        var eastUpdate = change(eastBefore, get(east));
        Map<String, AttributeValue> westBefore = get(west);
        side(west, "west").put(item(20, 3));
        var westPut = change(westBefore, get(west));
        deliver(toWest, eastUpdate);
        deliver(toEast, westPut);
        assertConverged(Map.of("k", item(20, 3))); // equal order: the greater side name, west, wins on both
    }

    /** Regression (mechanism 4): the second of two writes of one side with equal order lost on the other side. */
    @Test
    void twoWritesOfOneSideWithEqualOrderConvergeOnTheLater() {
        tables();
        ReplicationSink toWest = sink(east, "east", west, "west");
        side(east, "east").put(item(5, 1));
        var first = change(null, get(east));
        Map<String, AttributeValue> before = get(east);
        side(east, "east").put(item(5, 2));
        var second = change(before, get(east));
        deliver(toWest, first);
        deliver(toWest, second);
        deliver(toWest, first); // a replay of the first changes nothing
        assertConverged(Map.of("k", item(5, 2)));
    }

    @Test
    void aWriteThatWouldLoseIsRefusedWithAClearError() {
        tables();
        side(east, "east").put(item(50, 1));
        TwoWayTable.LosingWriteException e = assertThrows(TwoWayTable.LosingWriteException.class,
                () -> side(east, "east").put(item(40, 2)));
        assertEquals("put refused in table '" + table + "' on side 'east': the stored version wins by the conflict "
                + "rule (a greater updatedAt, or an equal one with a delete or a greater side name); write with a "
                + "greater updatedAt", e.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> side(east, "east").put(Map.of("id", s("k"), ORDER, n("1.5"))));
        assertEquals("the order attribute 'updatedAt' must be a whole number from 0 to 10^38 - 1 (was 1.5)",
                bad.getMessage());
    }

    @Test
    void replicatedWritesAreNotLocalChangesAndTombstoneExpiriesAreNot() {
        tables();
        ReplicationSink toWest = sink(east, "east", west, "west");
        side(east, "east").put(item(1, 1));
        deliver(toWest, change(null, get(east)));
        Map<String, AttributeValue> replicated = get(west);
        assertTrue(!ReplicationSink.localChanges(ORDER).test(change(null, replicated)), "a replicator's write");
        Map<String, AttributeValue> mine = new HashMap<>(replicated);
        mine.put("score", n("9"));
        assertTrue(ReplicationSink.localChanges(ORDER).test(change(replicated, mine)),
                "an UpdateItem that keeps the markers is the application's");
        side(east, "east").delete(K, 2);
        assertTrue(!ReplicationSink.localChanges(ORDER).test(change(get(east), null)), "a tombstone's TTL expiry");
    }

    @Test
    void twoWayNeedsItsSidesAndSaysWhatTheyAre() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ReplicationSink.builder()
                .client(west).table("GameState").origin("east").twoWay(ORDER).sourceTable(east, "GameState").build());
        assertEquals("twoWay needs targetSide: the name of the side this sink writes into, the origin of the sink "
                + "that replicates the other way", e.getMessage());
    }
}
