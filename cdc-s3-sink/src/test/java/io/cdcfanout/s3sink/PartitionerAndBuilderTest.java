package io.cdcfanout.s3sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.testkit.ManualClock;
import io.cdcfanout.testkit.TestEvents;
import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Partition paths, key names and the builder's rules, without a server. */
class PartitionerAndBuilderTest {
    private final ChangeEvent<Map<String, Object>> event = TestEvents.forTable("Invoices", "id")
            .clock(new ManualClock(Instant.parse("2026-03-05T07:08:09Z"))).insert("a", Map.of("region", "eu west"));

    @Test
    void builtInPartitionersUseTheUtcEventTime() {
        assertEquals("table=Invoices/dt=2026-03-05/hour=07", Partitioner.byTableAndHour().partition(event));
        assertEquals("table=Invoices/dt=2026-03-05", Partitioner.byTableAndDay().partition(event));
        assertEquals("dt=2026-03-05", Partitioner.byDay().partition(event));
        assertEquals("table=Invoices", Partitioner.byTable().partition(event));
        Partitioner region = Partitioner.field("region", e -> (String) ((Map<?, ?>) e.after().orElseThrow())
                .get("region"));
        assertEquals("region=eu%20west/dt=2026-03-05", region.then(Partitioner.byDay()).partition(event));
    }

    @Test
    void fieldValuesArePercentEncodedSoTheyNeverAddASegment() {
        assertEquals("a-b_c.d", ObjectNames.encode("a-b_c.d"));
        assertEquals("a%2Fb%3D%C3%A9", ObjectNames.encode("a/b=é"));
        assertEquals("partition field name must be 1 to 64 letters, digits or '_' (was 'a/b')",
                assertThrows(IllegalArgumentException.class, () -> Partitioner.field("a/b", e -> "x")).getMessage());
    }

    @Test
    void keysParseBackToTheirRangesAndForeignKeysDoNot() {
        String group = ObjectNames.groupPrefix("p", "table=T/dt=2026-01-01", "shardId-1");
        assertEquals("p/table=T/dt=2026-01-01/shardId-1-", group);
        String key = ObjectNames.key(group, "100", "250", false, "jsonl.gz");
        assertEquals("p/table=T/dt=2026-01-01/shardId-1-100-250.jsonl.gz", key);
        assertEquals("100", ObjectNames.range(group, key, "jsonl.gz")[0]);
        assertEquals("250", ObjectNames.range(group, key, "jsonl.gz")[1]);
        // Another shard whose id starts with this one's, a redrive object, another format, a reversed range.
        assertNull(ObjectNames.range(group, "p/table=T/dt=2026-01-01/shardId-1-7-100-250.jsonl.gz", "jsonl.gz"));
        assertNull(ObjectNames.range(group, ObjectNames.key(group, "1", "2", true, "jsonl.gz"), "jsonl.gz"));
        assertNull(ObjectNames.range(group, ObjectNames.key(group, "1", "2", false, "jsonl"), "jsonl.gz"));
        assertNull(ObjectNames.range(group, ObjectNames.key(group, "9", "2", false, "jsonl.gz"), "jsonl.gz"));
    }

    @Test
    void archivedRangesCompareSequenceNumbersNumerically() {
        ArchivedRanges r = new ArchivedRanges();
        r.add("9", "120");
        r.add("1000", "1000");
        assertTrue(r.contains("9") && r.contains("99") && r.contains("120") && r.contains("1000"));
        assertTrue(!r.contains("8") && !r.contains("121") && !r.contains("999") && !r.contains("1001"));
    }

    @Test
    void partitionPathsThatWouldBreakKeysAreRefusedWithTheRule() {
        assertNull(ObjectNames.checkPartition("a=1/b=2"));
        assertEquals("must not start or end with '/' or hold an empty segment", ObjectNames.checkPartition("a//b"));
        assertEquals("holds a '.' or '..' segment", ObjectNames.checkPartition("a/../b"));
        assertEquals("is empty", ObjectNames.checkPartition(""));
    }

    private static String message(Class<? extends Throwable> type, Executable call) {
        return assertThrows(type, call).getMessage();
    }

    @Test
    void builderMessagesNameTheParameterTheRuleAndTheValue() {
        assertEquals("bucket must be 3 to 63 lowercase letters, digits, '.' or '-', starting and ending with a "
                + "letter or digit (was 'My_Bucket')", message(IllegalArgumentException.class,
                        () -> S3Sink.builder().bucket("My_Bucket")));
        assertEquals("partSize must be between 5242880 and 536870912 bytes (was 1024)",
                message(IllegalArgumentException.class, () -> S3Sink.builder().partSize(1024)));
        assertEquals("multipartThreshold must be at least 5242880 bytes, S3's smallest part (was 100)",
                message(IllegalArgumentException.class, () -> S3Sink.builder().multipartThreshold(100)));
        assertEquals("expectedBucketOwner must be a 12-digit AWS account id (was '1234')",
                message(IllegalArgumentException.class, () -> S3Sink.builder().expectedBucketOwner("1234")));
        assertEquals("prefix must not start or end with '/' or hold an empty segment (was 'cdc/')",
                message(IllegalArgumentException.class, () -> S3Sink.builder().prefix("cdc/")));
        assertEquals("kmsKeyId must not be blank", message(IllegalArgumentException.class,
                () -> S3Sink.builder().sseKms(" ")));
        assertEquals("bucket is required", message(IllegalStateException.class, () -> S3Sink.builder().build()));
        // The serializer defaults to JSON Lines of DynamoDB events.
        try (software.amazon.awssdk.services.s3.S3Client client = software.amazon.awssdk.services.s3.S3Client.builder()
                .region(software.amazon.awssdk.regions.Region.EU_WEST_1).build();
                S3Sink sink = S3Sink.builder().client(client).bucket("b-1").build()) {
            org.junit.jupiter.api.Assertions.assertNotNull(sink);
        }
        assertEquals("multipartThreshold (6291456) must be at least partSize (8388608)",
                message(IllegalStateException.class, () -> S3Sink.builder().bucket("b-1")
                        .serializer(JsonLinesSerializer.plain()).multipartThreshold(6 * 1024 * 1024).build()));
    }

    @Test
    void theModuleExportsOnlyItsApiPackage() throws IOException {
        try (InputStream in = Files.newInputStream(Path.of("target/classes/module-info.class"))) {
            ModuleDescriptor d = ModuleDescriptor.read(in);
            assertEquals("io.cdcfanout.s3sink", d.name());
            Set<String> exported = new TreeSet<>();
            d.exports().forEach(e -> exported.add(e.source()));
            assertEquals(Set.of("io.cdcfanout.s3sink"), exported);
        }
    }
}
