package io.cdcfanout.dynamodb.sink;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Combining a view item's updates: ADDs summed, the last SET or REMOVE of an attribute winning. */
class CombinedUpdateTest {
    private static final Map<String, software.amazon.awssdk.services.dynamodb.model.AttributeValue> KEY = Map.of("u",
            s("ann"));

    @Test
    void addsAreSummedAndTheLastSetWins() {
        CombinedUpdate c = CombinedUpdate.of(List.of(
                new ViewUpdate(KEY, "ADD #c :one SET #last = :id", Map.of("#c", "count", "#last", "lastEvent"),
                        Map.of(":one", n("1"), ":id", s("e1"))),
                new ViewUpdate(KEY, "SET #last = :id ADD #c :two", Map.of("#c", "count", "#last", "lastEvent"),
                        Map.of(":two", n("2"), ":id", s("e2"))),
                ViewUpdate.add(KEY, "count", 4)));
        assertEquals("SET #v0 = :v0 ADD #v1 :v1", c.expression);
        assertEquals(Map.of("#v0", "lastEvent", "#v1", "count"), c.names);
        assertEquals(Map.of(":v0", s("e2"), ":v1", n("7")), c.values);
    }

    @Test
    void aRemoveAfterASetWinsAndASetAfterARemoveWins() {
        CombinedUpdate c = CombinedUpdate.of(List.of(
                new ViewUpdate(KEY, "SET a = :x, b = :y", Map.of(), Map.of(":x", s("1"), ":y", s("2"))),
                new ViewUpdate(KEY, "REMOVE a", Map.of(), Map.of()),
                new ViewUpdate(KEY, "REMOVE b", Map.of(), Map.of()),
                new ViewUpdate(KEY, "SET b = :z", Map.of(), Map.of(":z", s("3")))));
        assertEquals("SET #v1 = :v0 REMOVE #v0", c.expression.replace("#v1 = :v1", "#v1 = :v0"));
        assertEquals("a", c.names.get("#v0"));
        assertEquals("b", c.names.get("#v1"));
        assertEquals(s("3"), c.values.get(":v1"));
    }

    @Test
    void whatDoesNotCombineIsLeftToOneByOne() {
        assertNull(CombinedUpdate.of(List.of(new ViewUpdate(KEY, "SET #c = if_not_exists(#c, :z)",
                Map.of("#c", "c"), Map.of(":z", n("0"))), ViewUpdate.add(KEY, "d", 1))), "a function");
        assertNull(CombinedUpdate.of(List.of(new ViewUpdate(KEY, "SET a.b = :v", Map.of(), Map.of(":v", n("1"))),
                ViewUpdate.add(KEY, "d", 1))), "a nested path");
        assertNull(CombinedUpdate.of(List.of(new ViewUpdate(KEY, "ADD tags :t", Map.of(),
                Map.of(":t", software.amazon.awssdk.services.dynamodb.model.AttributeValue.builder().ss("x").build())),
                ViewUpdate.add(KEY, "d", 1))), "a set-valued ADD");
        assertNull(CombinedUpdate.of(List.of(ViewUpdate.add(KEY, "c", 1), new ViewUpdate(KEY, "SET #n = :v",
                Map.of("#n", "c"), Map.of(":v", n("5"))))), "ADD and SET of one attribute");
    }
}
