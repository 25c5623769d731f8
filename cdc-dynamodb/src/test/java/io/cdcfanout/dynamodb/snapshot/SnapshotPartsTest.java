package io.cdcfanout.dynamodb.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cdcfanout.testkit.ManualClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** The snapshot's parts without a table: resume keys, the read rate and the checkpoint files. */
class SnapshotPartsTest {
    @TempDir
    Path dir;

    @Test
    void resumeKeysRoundTripEveryKeyType() {
        Map<String, AttributeValue> key = Map.of("pk", AttributeValue.builder().s("a\"b\u00e9").build(),
                "sk", AttributeValue.builder().n("-12.5E3").build(),
                "bin", AttributeValue.builder().b(SdkBytes.fromByteArray(new byte[] {0, -1, 7})).build());
        assertEquals(key, ScanKeys.decode(ScanKeys.encode(key)));
        IllegalArgumentException broken = assertThrows(IllegalArgumentException.class,
                () -> ScanKeys.decode("{\"pk\":{\"X\":\"1\"}}"));
        assertEquals("a resume key's type must be S, N or B", broken.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ScanKeys.decode("not json"));
    }

    @Test
    void theReadRateSpacesReadsByTheUnitsConsumed() {
        ManualClock clock = new ManualClock(Instant.parse("2026-01-01T00:00:00Z"));
        ReadRate rate = new ReadRate(100, clock);
        assertEquals(Duration.ZERO, rate.waitBeforeNext());
        rate.consumed(50); // half a second's budget
        assertEquals(Duration.ofMillis(500), rate.waitBeforeNext());
        rate.consumed(50); // another thread's page: queued behind the first
        assertEquals(Duration.ofSeconds(1), rate.waitBeforeNext());
        clock.advance(Duration.ofSeconds(3));
        assertEquals(Duration.ZERO, rate.waitBeforeNext());
        assertEquals(Duration.ZERO, new ReadRate(0, clock).waitBeforeNext(), "0 means no limit");
    }

    @Test
    void checkpointFilesSurviveANewStoreAndKeepTheLastToken() {
        SnapshotCheckpoints first = SnapshotCheckpoints.directory(dir);
        first.save("Customers/segment-0-of-4", "{\"id\":{\"S\":\"c7\"}}");
        first.save("Customers/segment-0-of-4", SnapshotCheckpoints.DONE);
        SnapshotCheckpoints reopened = SnapshotCheckpoints.directory(dir);
        assertEquals(Optional.of(SnapshotCheckpoints.DONE), reopened.load("Customers/segment-0-of-4"));
        assertEquals(Optional.empty(), reopened.load("Customers/segment-1-of-4"));
    }

    @Test
    void theBuilderNamesTheRule() {
        assertEquals("totalSegments must be 1 to 1,000,000 (was 0)", assertThrows(IllegalArgumentException.class,
                () -> TableSnapshot.builder().totalSegments(0)).getMessage());
        assertEquals("segments end (5) must not exceed totalSegments (4)", assertThrows(IllegalStateException.class,
                () -> TableSnapshot.builder().client(software.amazon.awssdk.services.dynamodb.DynamoDbClient.builder()
                        .region(software.amazon.awssdk.regions.Region.US_EAST_1).build()).table("T").totalSegments(4)
                        .segments(2, 5).build()).getMessage());
        assertEquals("table is required", assertThrows(IllegalStateException.class,
                () -> TableSnapshot.builder().client(software.amazon.awssdk.services.dynamodb.DynamoDbClient.builder()
                        .region(software.amazon.awssdk.regions.Region.US_EAST_1).build()).build()).getMessage());
    }
}
