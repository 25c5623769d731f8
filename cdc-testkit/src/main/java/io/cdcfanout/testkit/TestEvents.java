package io.cdcfanout.testkit;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import java.time.Clock;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Makes synthetic change events for one table, with map images, increasing sequence numbers and
 * ids {@code evt-<n>}. Sizes are the sum of the image's key and value string lengths unless set with
 * {@link #sizeBytes}. Not thread-safe; use one per thread.
 *
 * <pre>{@code
 * TestEvents events = TestEvents.forTable("Customers", "id");
 * ChangeEvent<Map<String, Object>> created = events.insert("c-1", Map.of("name", "Ada"));
 * }</pre>
 */
public final class TestEvents {
    private final Source source;
    private final String keyAttribute;
    private String shard = "shardId-000001";
    private long nextSequence = 100;
    private long nextId = 1;
    private Clock clock = new ManualClock();
    private long fixedSize = -1;

    private TestEvents(Source source, String keyAttribute) {
        this.source = source;
        this.keyAttribute = keyAttribute;
    }

    /** Events of {@code table}, keyed by the single attribute {@code keyAttribute}. */
    public static TestEvents forTable(String table, String keyAttribute) {
        Objects.requireNonNull(keyAttribute, "keyAttribute must not be null");
        return new TestEvents(new Source(table, "local", "arn:aws:dynamodb:local:000000000000:table/" + table
                + "/stream/2026-01-01T00:00:00.000"), keyAttribute);
    }

    /** Later events come from this shard. */
    public TestEvents shard(String shardId) {
        this.shard = Objects.requireNonNull(shardId, "shardId must not be null");
        return this;
    }

    /** The next event gets this sequence number; later ones count up. */
    public TestEvents nextSequence(long sequence) {
        this.nextSequence = sequence;
        return this;
    }

    /** Creation times come from this clock (default: a fixed {@link ManualClock}). */
    public TestEvents clock(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock must not be null");
        return this;
    }

    /** Every later event reports this size, in bytes. */
    public TestEvents sizeBytes(long bytes) {
        this.fixedSize = bytes;
        return this;
    }

    public ChangeEvent<Map<String, Object>> insert(Object key, Map<String, ?> after) {
        return make(Operation.INSERT, key, null, withKey(key, after), false);
    }

    public ChangeEvent<Map<String, Object>> modify(Object key, Map<String, ?> before, Map<String, ?> after) {
        return make(Operation.MODIFY, key, withKey(key, before), withKey(key, after), false);
    }

    public ChangeEvent<Map<String, Object>> remove(Object key, Map<String, ?> before) {
        return make(Operation.REMOVE, key, withKey(key, before), null, false);
    }

    /** A REMOVE made by TTL expiry. */
    public ChangeEvent<Map<String, Object>> expire(Object key, Map<String, ?> before) {
        return make(Operation.REMOVE, key, withKey(key, before), null, true);
    }

    /** A builder pre-filled with this table's source, the next position and id, for full control. */
    public ChangeEvent.Builder<Map<String, Object>> builder(Operation operation, Object key) {
        return ChangeEvent.<Map<String, Object>>builder()
                .operation(operation)
                .source(source)
                .position(new Position(shard, Long.toString(nextSequence++)))
                .creationTime(clock.instant())
                .eventId("evt-" + nextId++)
                .key(EventKey.of(source.table(), keyAttribute, key));
    }

    private Map<String, Object> withKey(Object key, Map<String, ?> image) {
        Map<String, Object> copy = new LinkedHashMap<>();
        copy.put(keyAttribute, key);
        copy.putAll(Objects.requireNonNull(image, "image must not be null"));
        return Map.copyOf(copy);
    }

    private ChangeEvent<Map<String, Object>> make(Operation op, Object key, Map<String, Object> before,
            Map<String, Object> after, boolean ttl) {
        return builder(op, key)
                .before(before)
                .after(after)
                .ttlExpiry(ttl)
                .changedAttributes(changed(before, after))
                .sizeBytes(fixedSize >= 0 ? fixedSize : size(before) + size(after))
                .build();
    }

    private static Set<String> changed(Map<String, Object> before, Map<String, Object> after) {
        Map<String, Object> b = before == null ? Map.of() : before;
        Map<String, Object> a = after == null ? Map.of() : after;
        Set<String> names = new HashSet<>(b.keySet());
        names.addAll(a.keySet());
        names.removeIf(n -> Objects.equals(b.get(n), a.get(n)));
        return names;
    }

    private static long size(Map<String, Object> image) {
        if (image == null) {
            return 0;
        }
        long n = 0;
        for (Map.Entry<String, Object> e : image.entrySet()) {
            n += e.getKey().length() + String.valueOf(e.getValue()).length();
        }
        return n;
    }
}
