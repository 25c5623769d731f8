package io.cdcfanout.examples.migration;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.firehose.FirehoseClient;
import software.amazon.awssdk.services.firehose.model.Record;

/**
 * The "before" of docs/migrating.md: a typical hand-written stream handler. It compiles and runs, and
 * it loses data; the comments say where. Do not copy it.
 */
public final class HandWrittenHandler implements RequestHandler<DynamodbEvent, Void> {
    private final FirehoseClient firehose = FirehoseClient.create();

    // DOC:begin
    @Override
    public Void handleRequest(DynamodbEvent event, Context context) {
        List<Record> records = new ArrayList<>();
        for (DynamodbEvent.DynamodbStreamRecord r : event.getRecords()) {
            // (1) toString() of the Lambda model is not JSON, and drops types (numbers, sets, binary).
            String line = r.getEventName() + " " + r.getDynamodb().getNewImage() + "\n";
            records.add(Record.builder().data(SdkBytes.fromUtf8String(line)).build());
            // (2) Item contents in the logs: PII in CloudWatch.
            context.getLogger().log("archiving " + line);
            if ("INSERT".equals(r.getEventName())) {
                // (3) Sent inline: a retry of the batch sends the email again.
                sendWelcomeEmail(r);
            }
        }
        // (4) More than 500 records or 4 MiB and the call fails; (5) FailedPutCount is never read,
        // so throttled records are dropped silently; (6) one record per event: billed 5 KB each.
        firehose.putRecordBatch(b -> b.deliveryStreamName("invoice-archive").records(records));
        return null; // (7) success: the whole batch is checkpointed, delivered or not
    }
    // DOC:end

    private static void sendWelcomeEmail(DynamodbEvent.DynamodbStreamRecord r) {
        // an SES call would go here
    }
}
