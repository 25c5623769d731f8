package io.cdcfanout.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.awssdk.services.firehose.FirehoseClient;
import software.amazon.awssdk.services.firehose.model.Record;

/** The stand-ins start, serve the real SDK clients, and the Firehose one delivers to S3 like Firehose. */
class LocalStandInsTest {

    private static List<Record> lines(int from, int to) {
        List<Record> records = new ArrayList<>();
        for (int i = from; i < to; i++) {
            records.add(Record.builder().data(SdkBytes.fromUtf8String("{\"n\":" + i + "}\n")).build());
        }
        return records;
    }

    @Test
    void firehoseDeliversToS3OnSizeThenOnInterval() throws Exception {
        try (LocalS3 s3 = new LocalS3(); LocalFirehose firehose = new LocalFirehose()) {
            String bucket = s3.bucket("delivery");
            // 10 records of 9 bytes: a 45-byte buffer fills after 5 of them.
            firehose.deliverTo(s3.client(), bucket, "raw/", 45, Duration.ofMillis(200), true);
            FirehoseClient client = firehose.client();
            client.putRecordBatch(r -> r.deliveryStreamName("invoices").records(lines(0, 10)));
            assertTrue(firehose.awaitDeliveries(1, Duration.ofSeconds(10)), "the size trigger delivers");
            client.putRecordBatch(r -> r.deliveryStreamName("invoices").records(lines(10, 12)));
            assertTrue(firehose.awaitDeliveries(2, Duration.ofSeconds(10)), "the interval trigger delivers");

            Map<String, byte[]> objects = s3.contents(bucket);
            assertEquals(firehose.deliveredKeys().size(), objects.size());
            StringBuilder all = new StringBuilder();
            for (String key : firehose.deliveredKeys()) {
                assertTrue(key.matches("raw/\\d{4}/\\d{2}/\\d{2}/\\d{2}/invoices-1-\\d{4}(-\\d{2}){5}-[0-9a-f-]{36}\\.gz"),
                        key);
                LocalS3.lines(key, objects.get(key)).forEach(line -> all.append(line).append('\n'));
            }
            StringBuilder expected = new StringBuilder();
            for (int i = 0; i < 12; i++) {
                expected.append("{\"n\":").append(i).append("}\n");
            }
            assertEquals(expected.toString(), all.toString(), "every record once, in order");
        }
    }

    @Test
    void dynamoDbLocalServesTablesAndStreamsPerRegion() {
        LocalDynamoDb local = LocalDynamoDb.get();
        DynamoDbClient west = local.client("eu-west-1");
        String table = LocalDynamoDb.uniqueName("Standins");
        String arn = LocalDynamoDb.createTable(west, table, StreamViewType.NEW_AND_OLD_IMAGES, "id:S");
        west.putItem(p -> p.tableName(table).item(Map.of("id", LocalDynamoDb.s("a"))));
        assertEquals(1, west.scan(s -> s.tableName(table)).count());
        assertTrue(!local.client("eu-central-1").listTables().tableNames().contains(table),
                "regions are separate databases");
        assertEquals(1, local.streams("eu-west-1").describeStream(d -> d.streamArn(arn)).streamDescription().shards()
                .size());
    }

    /** Regression: DynamoDB Local listened on every interface ({@code *:port}). */
    @Test
    void dynamoDbLocalListensOnLoopbackOnly() throws Exception {
        LocalDynamoDb local = LocalDynamoDb.get();
        assertEquals(List.of("127.0.0.1:" + local.endpoint().getPort()), local.listeningOn());
        String port = String.format(":%04X", local.endpoint().getPort());
        List<String> listeners = new ArrayList<>();
        for (String file : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            java.nio.file.Path table = java.nio.file.Path.of(file);
            if (java.nio.file.Files.isReadable(table)) {
                java.nio.file.Files.readAllLines(table).stream().skip(1).map(String::trim).map(l -> l.split("\\s+"))
                        .filter(f -> f[3].equals("0A") && f[1].endsWith(port)).forEach(f -> listeners.add(f[1]));
            }
        }
        if (java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/net/tcp"))) {
            assertEquals(1, listeners.size(), "one listening socket: " + listeners);
            assertTrue(listeners.get(0).equals("0100007F" + port)
                    || listeners.get(0).equals("0000000000000000FFFF00000100007F" + port),
                    "the kernel's view of the listening socket is 127.0.0.1: " + listeners);
        }
    }
}
