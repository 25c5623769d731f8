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

    /** Reads one EMF document and checks it against the specification's rules; returns its metric values. */
    static Map<String, Long> emf(String line) throws Exception {
        Map<String, Long> values = new java.util.HashMap<>();
        java.util.Set<String> declared = new java.util.HashSet<>();
        java.util.Set<String> dimensions = new java.util.HashSet<>();
        java.util.Map<String, String> strings = new java.util.HashMap<>();
        long[] timestamp = {-1};
        String[] namespace = {null};
        try (com.fasterxml.jackson.core.JsonParser p = new com.fasterxml.jackson.core.JsonFactory().createParser(line)) {
            assertEquals(com.fasterxml.jackson.core.JsonToken.START_OBJECT, p.nextToken());
            while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
                String name = p.currentName();
                com.fasterxml.jackson.core.JsonToken t = p.nextToken();
                if (name.equals("_aws")) {
                    while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
                        String f = p.currentName();
                        p.nextToken();
                        if (f.equals("Timestamp")) {
                            timestamp[0] = p.getLongValue();
                        } else if (f.equals("CloudWatchMetrics")) {
                            while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
                                while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
                                    String d = p.currentName();
                                    p.nextToken();
                                    if (d.equals("Namespace")) {
                                        namespace[0] = p.getText();
                                    } else if (d.equals("Dimensions")) {
                                        while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.START_ARRAY) {
                                            while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.VALUE_STRING) {
                                                dimensions.add(p.getText());
                                            }
                                        }
                                    } else if (d.equals("Metrics")) {
                                        while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
                                            while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
                                                String m = p.currentName();
                                                p.nextToken();
                                                if (m.equals("Name")) {
                                                    declared.add(p.getText());
                                                }
                                            }
                                        }
                                    } else {
                                        p.skipChildren();
                                    }
                                }
                            }
                        } else {
                            p.skipChildren();
                        }
                    }
                } else if (t == com.fasterxml.jackson.core.JsonToken.VALUE_NUMBER_INT) {
                    values.put(name, p.getLongValue());
                } else if (t == com.fasterxml.jackson.core.JsonToken.VALUE_STRING) {
                    strings.put(name, p.getText());
                } else {
                    p.skipChildren();
                }
            }
        }
        assertTrue(timestamp[0] > 0, "_aws.Timestamp in epoch milliseconds");
        assertEquals("cdc-fanout", namespace[0]);
        assertEquals(java.util.Set.of("Service", "Route"), dimensions);
        assertTrue(strings.keySet().containsAll(dimensions), "every dimension is a top-level member");
        assertEquals(declared, values.keySet(), "every declared metric has a value, and only those");
        values.put("__route", (long) strings.get("Route").hashCode());
        return values;
    }

    @Test
    void eachInvocationWritesItsMetricsAsEmbeddedMetricFormatWithoutItemData() throws Exception {
        try (Embedded env = new Embedded()) {
            java.io.ByteArrayOutputStream log = new java.io.ByteArrayOutputStream();
            InvoiceArchiveHandler handler = new InvoiceArchiveHandler(env.s3(), env.firehose(), Embedded.BUCKET,
                    InvoiceArchiveExample.DELIVERY_STREAM, new java.io.PrintStream(log, true, "UTF-8"));
            handler.handleRequest(batch(40), null);
            List<String> lines = new String(log.toByteArray(), java.nio.charset.StandardCharsets.UTF_8).lines().toList();
            assertEquals(2, lines.size(), "one document per route: " + lines);
            for (String line : lines) {
                Map<String, Long> values = emf(line);
                assertEquals(40L, values.get("EventsIn"), line);
                assertEquals(40L, values.get("Delivered"), line);
                assertTrue(!line.contains("INV-L0"), "no item data in the metrics");
            }
            assertTrue(lines.stream().anyMatch(l -> l.contains("\"firehose.billedUnits\"")), "billed units per sink");
        }
    }

    /** The seed's 7-year archive "for compliance or audit requirements", as the template deploys it. */
    @Test
    void theTemplateKeepsTheArchiveLockedRetainedAndWatched() throws Exception {
        String template = Files.readString(Path.of("deploy/template.yaml"));
        for (String setting : List.of("ObjectLockEnabled: true", "Mode: COMPLIANCE", "Years: 7",
                "VersioningConfiguration:", "LoggingConfiguration:", "SnapStart:", "ApplyOn: PublishedVersions",
                "ReservedConcurrentExecutions:", "FunctionName: !Ref FunctionAlias", "AWS::CloudWatch::Dashboard",
                "IteratorAge", "DeadLettered", "RoutesHalted", "Retries", "firehose.billedUnits", "DataLoss")) {
            assertTrue(template.contains(setting), "template.yaml sets " + setting);
        }
        for (String resource : List.of("InvoicesTable", "ArchiveKey", "ArchiveBucket", "FailedBatches")) {
            int at = template.indexOf("  " + resource + ":\n");
            assertTrue(at >= 0, resource);
            String head = template.substring(at, template.indexOf("Properties:", at));
            assertTrue(head.contains("DeletionPolicy: Retain") && head.contains("UpdateReplacePolicy: Retain"),
                    resource + " is retained");
        }
        assertTrue(!template.contains("arn:aws:"), "ARNs use ${AWS::Partition}");
    }
}
