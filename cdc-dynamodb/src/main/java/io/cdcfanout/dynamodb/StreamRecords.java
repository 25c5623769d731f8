package io.cdcfanout.dynamodb;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.dynamodb.internal.AttributeValues;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.Identity;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.awssdk.services.dynamodb.model.StreamRecord;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Maps DynamoDB stream records (SDK v2 {@link Record}) to change events whose images are the raw
 * items, {@code Map<String, AttributeValue>}: numbers, sets, binary and nested values stay exactly
 * as the stream reported them. Re-type the images with {@link DynamoDbImages#typed}.
 *
 * <p>Mapping never throws for a bad record. A record with a missing key or image (for its stream view
 * type), an unknown event name or a value of unknown type becomes an event with a
 * {@link ChangeEvent#defect() defect} naming the field and the rule, which the pipeline dead-letters.
 * Stateless and thread-safe.
 */
public final class StreamRecords {
    /** The shard id of events from a Lambda invocation, which does not say which shard it reads. */
    public static final String UNKNOWN_SHARD = Position.UNKNOWN_SHARD;

    private static final Pattern STREAM_ARN =
            Pattern.compile("arn:[^:]+:dynamodb:([^:]*):[^:]*:table/([^/]+)/stream/.+");
    private static final String TTL_PRINCIPAL = "dynamodb.amazonaws.com";

    private StreamRecords() {
    }

    /**
     * The source named by a stream ARN ({@code arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/stream/LABEL}).
     *
     * @throws NullPointerException if streamArn is null
     * @throws IllegalArgumentException if streamArn is not a DynamoDB stream ARN
     */
    public static Source sourceOf(String streamArn) {
        Objects.requireNonNull(streamArn, "streamArn must not be null");
        Matcher m = STREAM_ARN.matcher(streamArn);
        if (!m.matches()) {
            throw new IllegalArgumentException("streamArn must look like arn:aws:dynamodb:REGION:ACCOUNT:table/"
                    + "TABLE/stream/LABEL (was '" + streamArn + "')");
        }
        return new Source(m.group(2), m.group(1), streamArn);
    }

    /** Maps each record of one shard, in order; see {@link #toEvent}. */
    public static List<ChangeEvent<Map<String, AttributeValue>>> toEvents(List<Record> records, Source source,
            String shardId) {
        List<ChangeEvent<Map<String, AttributeValue>>> events = new ArrayList<>(records.size());
        for (Record r : records) {
            events.add(toEvent(r, source, shardId));
        }
        return events;
    }

    /**
     * The change event for one record of shard {@code shardId}; defective, never an exception, when the
     * record breaks a rule.
     *
     * @throws NullPointerException if an argument is null
     */
    public static ChangeEvent<Map<String, AttributeValue>> toEvent(Record record, Source source, String shardId) {
        Objects.requireNonNull(record, "record must not be null");
        Objects.requireNonNull(source, "source must not be null");
        Objects.requireNonNull(shardId, "shardId must not be null");
        Defects defects = new Defects();
        if (shardId.isBlank()) {
            defects.add("the shard id must not be blank; the event shows " + UNKNOWN_SHARD);
            shardId = UNKNOWN_SHARD;
        } else if (Position.SNAPSHOT_SHARD.equals(shardId)) {
            defects.add("the shard id '" + Position.SNAPSHOT_SHARD + "' is reserved for snapshot events; the event shows "
                    + UNKNOWN_SHARD);
            shardId = UNKNOWN_SHARD;
        }
        StreamRecord sr = record.dynamodb();
        if (sr == null) {
            defects.add("dynamodb is missing (every stream record carries its change there)");
            sr = StreamRecord.builder().build();
        }
        String eventId = record.eventID();
        if (eventId == null || eventId.isEmpty()) {
            eventId = "seq-" + sr.sequenceNumber();
            defects.add("eventID is missing (every stream record has one)");
        }
        String sequence = sr.sequenceNumber();
        if (sequence == null || !isDigits(sequence)) {
            defects.add("SequenceNumber must be a string of digits (was " + (sequence == null ? "missing" : "'"
                    + sequence + "'") + ")");
            sequence = "0";
        }
        // Absent in the Lambda developer guide's sample event: the event then has no time, and only
        // what needs one (a time partition) refuses it.
        Instant created = sr.approximateCreationDateTime();
        Map<String, AttributeValue> before = sr.hasOldImage() ? sr.oldImage() : null;
        Map<String, AttributeValue> after = sr.hasNewImage() ? sr.newImage() : null;
        Operation op = operation(record, before, after, defects);
        StreamViewType view = sr.streamViewType();
        if (view == null || view == StreamViewType.UNKNOWN_TO_SDK_VERSION) {
            defects.add("StreamViewType must be KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES (was "
                    + (sr.streamViewTypeAsString() == null ? "missing" : "'" + sr.streamViewTypeAsString() + "'")
                    + ")");
        } else {
            checkImages(op, view, before, after, defects);
        }
        checkValues("OldImage", before, defects);
        checkValues("NewImage", after, defects);
        EventKey key = key(sr, source, eventId, defects);
        boolean ttl = isTtl(record.userIdentity());
        if (ttl && op != Operation.REMOVE) {
            defects.add("userIdentity names a TTL expiry, which only removes items (the event is " + op + ")");
        }
        Long size = sr.sizeBytes();
        if (size != null && size < 0) {
            defects.add("SizeBytes must be at least 0 (was " + size + ")");
            size = null;
        }
        long sizeBytes = size != null ? size : defects.reason() != null ? 0
                : (before == null ? 0 : AttributeValues.size(before)) + (after == null ? 0 : AttributeValues.size(after));
        return ChangeEvent.<Map<String, AttributeValue>>builder()
                .operation(op)
                .source(source)
                .position(new Position(shardId, sequence))
                .creationTime(created)
                .eventId(eventId)
                .key(key)
                .before(before)
                .after(after)
                .ttlExpiry(ttl && op == Operation.REMOVE)
                .changedAttributes(changed(op, before, after))
                .sizeBytes(sizeBytes)
                .defect(defects.reason())
                .build();
    }

    private static Operation operation(Record record, Map<String, AttributeValue> before,
            Map<String, AttributeValue> after, Defects defects) {
        if (record.eventName() != null) {
            switch (record.eventName()) {
                case INSERT:
                    return Operation.INSERT;
                case MODIFY:
                    return Operation.MODIFY;
                case REMOVE:
                    return Operation.REMOVE;
                default:
                    break;
            }
        }
        defects.add("eventName must be INSERT, MODIFY or REMOVE (was " + (record.eventNameAsString() == null
                ? "missing" : "'" + record.eventNameAsString() + "'") + "); the operation shown is inferred from the "
                + "images present");
        if (before != null && after != null) {
            return Operation.MODIFY;
        }
        return after != null ? Operation.INSERT : Operation.REMOVE;
    }

    private static void checkImages(Operation op, StreamViewType view, Map<String, AttributeValue> before,
            Map<String, AttributeValue> after, Defects defects) {
        boolean wantsNew = (view == StreamViewType.NEW_IMAGE || view == StreamViewType.NEW_AND_OLD_IMAGES)
                && op != Operation.REMOVE;
        boolean wantsOld = (view == StreamViewType.OLD_IMAGE || view == StreamViewType.NEW_AND_OLD_IMAGES)
                && op != Operation.INSERT;
        if (wantsNew && after == null) {
            defects.add("NewImage is missing, but a " + op + " on a " + view + " stream must carry it");
        }
        if (wantsOld && before == null) {
            defects.add("OldImage is missing, but a " + op + " on a " + view + " stream must carry it");
        }
        if (op == Operation.INSERT && before != null) {
            defects.add("OldImage is present, but an INSERT has no old image");
        }
        if (op == Operation.REMOVE && after != null) {
            defects.add("NewImage is present, but a REMOVE has no new image");
        }
        boolean carriesNew = view == StreamViewType.NEW_IMAGE || view == StreamViewType.NEW_AND_OLD_IMAGES;
        boolean carriesOld = view == StreamViewType.OLD_IMAGE || view == StreamViewType.NEW_AND_OLD_IMAGES;
        if (after != null && !carriesNew) {
            defects.add("NewImage is present, but a " + view + " stream carries none");
        }
        if (before != null && !carriesOld) {
            defects.add("OldImage is present, but a " + view + " stream carries none");
        }
        if (after != null && after.isEmpty()) {
            defects.add("NewImage is empty (an item holds at least its key attributes)");
        }
        if (before != null && before.isEmpty()) {
            defects.add("OldImage is empty (an item holds at least its key attributes)");
        }
    }

    private static void checkValues(String field, Map<String, AttributeValue> image, Defects defects) {
        if (image != null) {
            String problem = AttributeValues.problem(image);
            if (problem != null) {
                defects.add(field + " " + problem);
            }
        }
    }

    private static EventKey key(StreamRecord sr, Source source, String eventId, Defects defects) {
        if (!sr.hasKeys() || sr.keys().isEmpty()) {
            defects.add("Keys is missing (a record must name its key attributes); the key shown is the event id");
            return EventKey.of(source.table(), "eventID", eventId);
        }
        Map<String, Object> values = new LinkedHashMap<>();
        for (Map.Entry<String, AttributeValue> e : sr.keys().entrySet()) {
            Object v = AttributeValues.keyValue(e.getValue());
            if (v instanceof String str && AttributeValues.unicodeProblem(str) != null
                    || AttributeValues.unicodeProblem(e.getKey()) != null) {
                defects.add("Keys attribute '" + e.getKey() + "' is not valid Unicode (a lone surrogate)");
                return EventKey.of(source.table(), "eventID", eventId);
            }
            if (v == null) {
                defects.add("Keys attribute '" + e.getKey() + "' must be of type S, N or B");
                return EventKey.of(source.table(), "eventID", eventId);
            }
            values.put(e.getKey(), v);
        }
        return EventKey.of(source.table(), values);
    }

    private static boolean isTtl(Identity identity) {
        return identity != null && "Service".equals(identity.type()) && TTL_PRINCIPAL.equals(identity.principalId());
    }

    private static Set<String> changed(Operation op, Map<String, AttributeValue> before,
            Map<String, AttributeValue> after) {
        if (before == null && after == null) {
            return null;
        }
        if (before == null) {
            return op == Operation.INSERT ? after.keySet() : null;
        }
        if (after == null) {
            return op == Operation.REMOVE ? before.keySet() : null;
        }
        Set<String> changed = new TreeSet<>();
        for (Map.Entry<String, AttributeValue> e : after.entrySet()) {
            if (!e.getValue().equals(before.get(e.getKey()))) {
                changed.add(e.getKey());
            }
        }
        for (String name : before.keySet()) {
            if (!after.containsKey(name)) {
                changed.add(name);
            }
        }
        return changed;
    }

    private static boolean isDigits(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    /** The defects found in one record, joined into one reason. */
    private static final class Defects {
        private StringBuilder reasons;

        void add(String reason) {
            if (reasons == null) {
                reasons = new StringBuilder(reason);
            } else {
                reasons.append("; ").append(reason);
            }
        }

        String reason() {
            return reasons == null ? null : reasons.toString();
        }
    }
}
