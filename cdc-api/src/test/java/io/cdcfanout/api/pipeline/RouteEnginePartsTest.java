package io.cdcfanout.api.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The route engine's parts on their own, no threads: the key gate, the buffer and its triggers, flush waiters. */
class RouteEnginePartsTest {
    private static RouteEntry<Object, Object> entry(String key, long seq, long at) {
        ChangeEvent<Object> e = ChangeEvent.<Object>builder().operation(Operation.INSERT).source(Source.ofTable("T"))
                .position(new Position("s", Long.toString(seq + 1))).creationTime(Instant.EPOCH).eventId("e" + seq)
                .key(EventKey.of("T", "id", key)).after(Map.of()).sizeBytes(10).build();
        RouteEntry<Object, Object> r = new RouteEntry<>(null, 0, e, e, null, 10);
        r.seq = seq;
        r.enqueuedAt = at;
        r.orderKey = e.key();
        return r;
    }

    @Test
    void theKeyGateLetsOneHolderHaveAKeyUntilAllItsEventsSettle() {
        KeyGate gate = new KeyGate();
        Object a = new Object();
        Object b = new Object();
        assertTrue(gate.hold("k", a));
        assertTrue(gate.hold("k", a), "the same batch may hold two events of a key");
        assertFalse(gate.hold("k", b), "another batch may not");
        gate.release("k");
        assertFalse(gate.hold("k", b), "one event of the holder is still unsettled");
        gate.release("k");
        assertTrue(gate.hold("k", b));
        assertEquals(1, gate.heldKeys());
    }

    @Test
    void theKeyGateKeepsAtMostTheParkedKeyLimitForgettingTheOldest() {
        KeyGate gate = new KeyGate();
        for (int i = 0; i < Route.MAX_PARKED_KEYS; i++) {
            assertFalse(gate.park(EventKey.of("T", "id", "k" + i)));
        }
        assertTrue(gate.park(EventKey.of("T", "id", "one more")), "the oldest is forgotten");
        assertFalse(gate.isParked(EventKey.of("T", "id", "k0")));
        assertTrue(gate.isParked(EventKey.of("T", "id", "k1")));
        assertEquals(Route.MAX_PARKED_KEYS, gate.parkedKeys());
        assertTrue(gate.halt("because"));
        assertFalse(gate.halt("again"), "halted once");
        gate.resume();
        assertNull(gate.haltReason());
        assertEquals(0, gate.parkedKeys());
    }

    @Test
    void theBufferFillsABatchAroundHeldKeysKeepingTheirOrder() {
        RouteBuffer<Object, Object> buffer = new RouteBuffer<>(3, 1_000, 50);
        KeyGate gate = new KeyGate();
        Object other = new Object();
        gate.hold(EventKey.of("T", "id", "busy"), other);
        buffer.add(entry("busy", 0, 0), gate);
        buffer.add(entry("a", 1, 0), gate);
        buffer.add(entry("busy", 2, 0), gate);
        buffer.add(entry("b", 3, 0), gate);
        buffer.add(entry("c", 4, 0), gate);
        assertEquals(FlushCause.COUNT, buffer.cause(0, false, false, -1));
        Batch<Object, Object> batch = new Batch<>(FlushCause.COUNT);
        buffer.fill(batch, gate);
        List<Long> seqs = new ArrayList<>();
        batch.entries.forEach(e -> seqs.add(e.seq));
        assertEquals(List.of(1L, 3L, 4L), seqs, "the busy key's events are skipped, the call's count is kept");
        assertEquals(30, batch.bytes, "the bytes taken");
    }

    @Test
    void theBufferFiresOnAgeAndOnAFlushThatCoversItsHead() {
        RouteBuffer<Object, Object> buffer = new RouteBuffer<>(100, 1_000_000, 50);
        KeyGate gate = new KeyGate();
        buffer.add(entry("a", 7, 1_000), gate);
        assertNull(buffer.cause(1_049, false, false, -1));
        assertEquals(FlushCause.AGE, buffer.cause(1_050, false, false, -1));
        assertEquals(FlushCause.FLUSH, buffer.cause(1_000, false, false, 7));
        assertEquals(FlushCause.CLOSE, buffer.cause(1_000, true, false, -1));
        assertEquals(1_050, buffer.ageDeadline());
    }

    @Test
    void aFlushWaiterCompletesWhenItsEventsSettleInAnyOrder() {
        FlushWaiters waiters = new FlushWaiters();
        CompletableFuture<Void> first = waiters.add(2, 3);
        CompletableFuture<Void> none = waiters.add(2, 0);
        assertTrue(none.isDone(), "nothing outstanding: done at once");
        List<CompletableFuture<Void>> ready = new ArrayList<>();
        waiters.settled(2, ready);
        waiters.settled(0, ready);
        assertTrue(ready.isEmpty());
        waiters.settled(5, ready);
        assertTrue(ready.isEmpty(), "an event after the watermark does not count");
        waiters.settled(1, ready);
        assertEquals(List.of(first), ready);
    }

    /**
     * The buffer, with its count of waiting events whose key is free, takes the same events, in the same
     * order, as a plain scan of the arrival-ordered queue that skips events of keys another batch holds,
     * whatever the keys, sizes, holds, releases and limits: seeded runs against that reference model.
     */
    @Test
    void theBufferTakesWhatAScanSkippingHeldKeysWouldTake() {
        java.util.Random random = new java.util.Random(42);
        for (int run = 0; run < 500; run++) {
            int keys = 1 + random.nextInt(12);
            int callEvents = 1 + random.nextInt(8);
            long callBytes = 10 + random.nextInt(200);
            RouteBuffer<Object, Object> buffer = new RouteBuffer<>(callEvents, callBytes, 50);
            List<RouteEntry<Object, Object>> model = new ArrayList<>();
            KeyGate gate = new KeyGate();
            Object other = new Object();
            java.util.Set<Object> heldByOther = new java.util.HashSet<>();
            for (int k = 0; k < keys; k++) {
                if (random.nextInt(3) == 0) {
                    EventKey key = EventKey.of("T", "id", "k" + k);
                    gate.hold(key, other);
                    heldByOther.add(key);
                }
            }
            long seq = 0;
            for (int round = 0; round < 6; round++) {
                int adds = random.nextInt(15);
                for (int a = 0; a < adds; a++) {
                    RouteEntry<Object, Object> e = entry("k" + random.nextInt(keys), seq++, 0);
                    buffer.add(e, gate);
                    model.add(e);
                }
                if (!heldByOther.isEmpty() && random.nextInt(4) == 0) {
                    // Another batch settles: its key is free again, with its waiting events.
                    Object key = heldByOther.iterator().next();
                    heldByOther.remove(key);
                    gate.release(key);
                }
                if (buffer.isEmpty()) {
                    continue;
                }
                Batch<Object, Object> batch = new Batch<>(FlushCause.COUNT);
                buffer.fill(batch, gate);
                // The reference: scan in arrival order, skip held keys, stop at the count or at the first
                // event that does not fit the bytes (once the batch holds one).
                List<RouteEntry<Object, Object>> expected = new ArrayList<>();
                long taken = 0;
                java.util.Iterator<RouteEntry<Object, Object>> it = model.iterator();
                while (it.hasNext() && expected.size() < callEvents) {
                    RouteEntry<Object, Object> e = it.next();
                    if (!expected.isEmpty() && taken + e.size > callBytes) {
                        break;
                    }
                    if (heldByOther.contains(e.orderKey)) {
                        continue;
                    }
                    expected.add(e);
                    taken += e.size;
                    it.remove();
                }
                assertEquals(expected, batch.entries, "run " + run + " round " + round);
                assertEquals(model.size(), buffer.size());
                // Settle the batch: its keys are free again.
                for (RouteEntry<Object, Object> e : batch.entries) {
                    gate.release(e.orderKey);
                }
            }
        }
    }
}
