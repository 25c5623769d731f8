package io.cdcfanout.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import com.amazonaws.services.lambda.runtime.events.models.dynamodb.AttributeValue;
import com.amazonaws.services.lambda.runtime.events.models.dynamodb.StreamRecord;
import io.cdcfanout.examples.deploy.InvoiceArchiveHandler;
import io.cdcfanout.examples.invoices.InvoiceArchiveExample;
import io.cdcfanout.local.LocalS3;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The Lambda handler, invoked the way the runtime does with a stream batch, delivers to both archives on
 * the embedded default; the stack's roles grant the calls the sinks make.
 */
class InvoiceArchiveHandlerTest {

    private static DynamodbEvent batch(int n) {
        List<DynamodbEvent.DynamodbStreamRecord> records = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String id = String.format("INV-L%03d", i);
            StreamRecord r = new StreamRecord();
            r.setKeys(Map.of("invoiceId", new AttributeValue().withS(id)));
            r.setNewImage(Map.of("invoiceId", new AttributeValue().withS(id),
                    "amount", new AttributeValue().withN("12.50"), "status", new AttributeValue().withS("ISSUED")));
            r.setSequenceNumber(Long.toString(1000 + i));
            r.setSizeBytes(64L);
            r.setStreamViewType(com.amazonaws.services.lambda.runtime.events.models.dynamodb.StreamViewType.NEW_AND_OLD_IMAGES);
            r.setApproximateCreationDateTime(new Date(1_764_000_000_000L));
            DynamodbEvent.DynamodbStreamRecord record = new DynamodbEvent.DynamodbStreamRecord();
            record.setEventID("lambda-" + i);
            record.setEventName("INSERT");
            record.setEventSource("aws:dynamodb");
            record.setAwsRegion("us-east-1");
            record.setEventSourceARN("arn:aws:dynamodb:us-east-1:111122223333:table/Invoices/stream/2026-11-24T00:00:00.000");
            record.setDynamodb(r);
            records.add(record);
        }
        DynamodbEvent event = new DynamodbEvent();
        event.setRecords(records);
        return event;
    }

    @Test
    void aBatchReachesBothArchivesAndNoRecordIsReportedFailed() throws Exception {
        try (Embedded env = new Embedded()) {
            InvoiceArchiveHandler handler = new InvoiceArchiveHandler(env.s3(), env.firehose(), Embedded.BUCKET,
                    InvoiceArchiveExample.DELIVERY_STREAM);
            StreamsEventResponse response = handler.handleRequest(batch(40), null);
            assertTrue(response.getBatchItemFailures().isEmpty(), response.toString());
            env.firehoseStandIn().flushDeliveries();

            TreeMap<String, byte[]> objects = env.s3StandIn().contents(Embedded.BUCKET);
            int direct = 0;
            int firehose = 0;
            for (Map.Entry<String, byte[]> o : objects.entrySet()) {
                if (o.getKey().endsWith(".ids")) {
                    continue; // the S3 sink's manifests of Lambda objects, not data
                }
                int lines = LocalS3.lines(o.getKey(), o.getValue()).size();
                if (o.getKey().startsWith("archive/table=Invoices/dt=2025-11-24/")) {
                    direct += lines;
                } else if (o.getKey().startsWith(Embedded.FIREHOSE_PREFIX)) {
                    firehose += lines;
                }
            }
            assertEquals(40, direct, objects.keySet().toString());
            assertEquals(40, firehose, objects.keySet().toString());
        }
    }

    @Test
    void theFunctionRoleGrantsExactlyTheCallsTheSinksMake() throws Exception {
        String template = Files.readString(Path.of("deploy/template.yaml"));
        for (String action : List.of("firehose:PutRecordBatch", "s3:PutObject", "s3:AbortMultipartUpload",
                "s3:ListBucket", "s3:GetObject", "kms:GenerateDataKey", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                "dynamodb:DescribeStream", "dynamodb:ListStreams", "sqs:SendMessage", "sts:ExternalId")) {
            assertTrue(template.contains(action), "template.yaml grants " + action);
        }
        for (String setting : List.of("ReportBatchItemFailures", "BisectBatchOnFunctionError: true",
                "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "OnFailure", "CompressionFormat: GZIP",
                "BufferingHints", "SSEAlgorithm: aws:kms", "StreamViewType: NEW_AND_OLD_IMAGES",
                "InvoiceArchiveHandler::handleRequest")) {
            assertTrue(template.contains(setting), "template.yaml sets " + setting);
        }
        assertTrue(!template.contains("s3:*") && !template.contains("dynamodb:*") && !template.contains("firehose:*"),
                "no wildcard actions for the code's roles");
    }
}
