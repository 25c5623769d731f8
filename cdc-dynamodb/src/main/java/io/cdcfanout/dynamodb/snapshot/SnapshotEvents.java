package io.cdcfanout.dynamodb.snapshot;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.dynamodb.internal.AttributeValues;
import io.cdcfanout.dynamodb.internal.Digests;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Snapshot events for any reader of a table's items (a Scan, an export to S3, a custom dump), built the
 * same way, so that each item's event has one id whichever reader made it.
 */
public final class SnapshotEvents {
    private SnapshotEvents() {
    }

    /** The event id of the item with {@code key} in {@code table}: {@code snapshot-} and 16 hex digits of SHA-256. */
    public static String eventId(String table, EventKey key) {
        return "snapshot-" + HexFormat.of().formatHex(Digests.sha256(table + "\n" + key.canonical()), 0, 16);
    }

    /**
     * The {@link Operation#SNAPSHOT} event of {@code item}. Never throws for a bad item: an item that lacks a
     * key attribute, holds a key of another type than S, N or B, or breaks a DynamoDB value rule becomes a
     * {@link ChangeEvent#defect() defect} naming the attribute and the rule (not the value), which the pipeline
     * dead-letters; its key is then {@code where}, which says where the item was read.
     *
     * @param keyNames the table's key attribute names, partition key first
     * @param where where the item was read, for a defective item's key (a file and line, say); no item data
     */
    public static ChangeEvent<Map<String, AttributeValue>> of(String table, List<String> keyNames, Source source,
            Map<String, AttributeValue> item, Instant readAt, String where) {
        return of(table, keyNames, source, item, readAt, where, true);
    }

    /**
     * As {@link #of(String, List, Source, Map, Instant, String)}; {@code checkValues} false skips the value
     * rules for items DynamoDB itself returned (a Scan page), which hold by construction.
     */
    static ChangeEvent<Map<String, AttributeValue>> of(String table, List<String> keyNames, Source source,
            Map<String, AttributeValue> item, Instant readAt, String where, boolean checkValues) {
        Objects.requireNonNull(table, "table must not be null");
        Objects.requireNonNull(item, "item must not be null");
        String defect = null;
        Map<String, Object> key = new LinkedHashMap<>();
        for (String name : keyNames) {
            AttributeValue v = item.get(name);
            Object value = v == null ? null : AttributeValues.keyValue(v);
            if (v == null) {
                defect = "the item lacks its key attribute '" + name + "'";
                break;
            }
            if (value == null) {
                defect = "key attribute '" + name + "' must be of type S, N or B";
                break;
            }
            if (value instanceof String s && AttributeValues.unicodeProblem(s) != null) {
                defect = "key attribute '" + name + "' is not valid Unicode (a lone surrogate)";
                break;
            }
            key.put(name, value);
        }
        if (defect == null && checkValues) {
            String problem = AttributeValues.problem(item);
            if (problem != null) {
                defect = "the item " + problem;
            }
        }
        EventKey eventKey = defect == null ? EventKey.of(table, key) : EventKey.of(table, "snapshotItemAt", where);
        return event(table, source, readAt, eventKey, item, defect == null ? AttributeValues.size(item) : 0, defect);
    }

    private static ChangeEvent<Map<String, AttributeValue>> event(String table, Source source, Instant readAt,
            EventKey key, Map<String, AttributeValue> item, long size, String defect) {
        return ChangeEvent.<Map<String, AttributeValue>>builder()
                .operation(Operation.SNAPSHOT)
                .source(source)
                .position(Position.SNAPSHOT)
                .creationTime(readAt)
                .eventId(eventId(table, key))
                .key(key)
                .after(item)
                .sizeBytes(size)
                .defect(defect)
                .build();
    }

    /**
     * A defective {@link Operation#SNAPSHOT} event for an item that could not be read at all (a line that
     * breaks its file's format, say), which the pipeline dead-letters with {@code reason}.
     *
     * @param where where the item was read (a file and line); its key, since the item has none
     * @param reason the field and the rule broken; no item data
     */
    public static ChangeEvent<Map<String, AttributeValue>> defective(String table, Source source, Instant readAt,
            String where, String reason) {
        EventKey eventKey = EventKey.of(table, "snapshotItemAt", Objects.requireNonNull(where, "where must not be null"));
        return event(table, source, readAt, eventKey, null, 0, Objects.requireNonNull(reason, "reason must not be null"));
    }
}
