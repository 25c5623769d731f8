package io.cdcfanout.lambda;

import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.dynamodb.StreamRecords;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.Record;

/**
 * Maps a Lambda {@link DynamodbEvent} to change events: each record is copied, field by field, to an
 * SDK v2 {@link Record}, then mapped by {@link StreamRecords#toEvent}, so a broken record gets the same
 * precise defect on every source; the table and region come from the record's {@code eventSourceARN},
 * which the v2 type lacks. Stateless and thread-safe.
 */
public final class LambdaRecords {
    private LambdaRecords() {
    }

    /**
     * One event per record, in order. Their shard id is {@link StreamRecords#UNKNOWN_SHARD}: a Lambda
     * invocation reads one shard but is not told which.
     *
     * @throws NullPointerException if event is null
     */
    public static List<ChangeEvent<Map<String, AttributeValue>>> toEvents(DynamodbEvent event) {
        Objects.requireNonNull(event, "event must not be null");
        List<DynamodbEvent.DynamodbStreamRecord> records = event.getRecords();
        if (records == null) {
            return List.of();
        }
        List<ChangeEvent<Map<String, AttributeValue>>> events = new ArrayList<>(records.size());
        for (int i = 0; i < records.size(); i++) {
            DynamodbEvent.DynamodbStreamRecord r = records.get(i);
            events.add(r != null ? toEvent(r) : untransformable(new DynamodbEvent.DynamodbStreamRecord(),
                    Source.ofTable("unknown-table"), "Records[" + i + "] is null"));
        }
        return events;
    }

    /** The change event for one Lambda record; defective, never an exception, when it breaks a rule. */
    public static ChangeEvent<Map<String, AttributeValue>> toEvent(DynamodbEvent.DynamodbStreamRecord record) {
        Objects.requireNonNull(record, "record must not be null");
        Source source;
        String sourceProblem = null;
        if (record.getEventSourceARN() == null) {
            sourceProblem = "eventSourceARN is missing (the table name comes from it)";
            source = Source.ofTable("unknown-table");
        } else {
            try {
                source = StreamRecords.sourceOf(record.getEventSourceARN());
            } catch (IllegalArgumentException e) {
                sourceProblem = "eventSourceARN: " + e.getMessage();
                source = Source.ofTable("unknown-table");
            }
        }
        ChangeEvent<Map<String, AttributeValue>> event;
        try {
            Record v2 = LambdaToSdk.record(record);
            event = StreamRecords.toEvent(v2, source, StreamRecords.UNKNOWN_SHARD);
        } catch (RuntimeException e) {
            // Not expected: the copy judges nothing and the mapping never throws. Named, not hidden.
            return untransformable(record, source, "the record could not be mapped (" + e.getClass().getName()
                    + " in the library; please report it)" + (sourceProblem == null ? "" : "; " + sourceProblem));
        }
        if (sourceProblem == null) {
            return event;
        }
        String defect = event.defect().map(d -> d + "; ").orElse("") + sourceProblem;
        return event.toBuilder().defect(defect).build();
    }

    private static ChangeEvent<Map<String, AttributeValue>> untransformable(DynamodbEvent.DynamodbStreamRecord record,
            Source source, String reason) {
        String sequence = record.getDynamodb() == null ? null : record.getDynamodb().getSequenceNumber();
        String id = record.getEventID() == null ? "seq-" + sequence : record.getEventID();
        return ChangeEvent.<Map<String, AttributeValue>>builder()
                .operation(Operation.MODIFY)
                .source(source)
                .position(new Position(StreamRecords.UNKNOWN_SHARD,
                        sequence != null && sequence.matches("[0-9]+") ? sequence : "0"))
                .eventId(id)
                .key(EventKey.of(source.table(), "eventID", id))
                .defect(reason + "; the operation and key shown are stand-ins")
                .build();
    }
}
