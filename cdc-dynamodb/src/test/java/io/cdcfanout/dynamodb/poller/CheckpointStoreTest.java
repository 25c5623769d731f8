package io.cdcfanout.dynamodb.poller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.testkit.ManualClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file and DynamoDB checkpoint stores, and the checkpoint value. */
class CheckpointStoreTest {
    private static final String ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/T/stream/2024";

    @Test
    void theFileStoreSurvivesARestartAndLocksOutASecondUser(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("state/checkpoints.json");
        try (CheckpointStore store = CheckpointStore.file(file)) {
            store.save(ARN, "shard-1", "w", Checkpoint.after("000000000000000000042"));
            store.save(ARN, "shard-0", "w", Checkpoint.finished("000000000000000000007"));
            CdcException locked = assertThrows(CdcException.class, () -> CheckpointStore.file(file));
            assertTrue(locked.getMessage().startsWith("checkpoint file " + file.toAbsolutePath()
                    + " is in use by another poller"), locked.getMessage());
            assertFalse(locked.retryable());
        }
        assertEquals("{\"" + ARN + "\":{\"shard-0\":\"SHARD_END:000000000000000000007\",\"shard-1\":"
                + "\"000000000000000000042\"}}", Files.readString(file, StandardCharsets.UTF_8));
        assertFalse(Files.exists(dir.resolve("state/checkpoints.json.tmp")), "replaced by an atomic rename");
        try (CheckpointStore store = CheckpointStore.file(file)) {
            assertEquals(Map.of("shard-1", Checkpoint.after("000000000000000000042"),
                    "shard-0", Checkpoint.finished("000000000000000000007")), store.load(ARN));
            assertEquals(Map.of(), store.load("arn:other"));
        }
    }

    @Test
    void aCorruptFileIsAClearError(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("cp.json");
        Files.writeString(file, "{\"" + ARN + "\":{\"shard-1\":\"12x\"}}");
        CdcException e = assertThrows(CdcException.class, () -> CheckpointStore.file(file));
        assertEquals("checkpoint file " + file.toAbsolutePath() + ": shard shard-1 has a bad checkpoint: "
                + "sequenceNumber must be 1 to 64 digits (was '12x')", e.getMessage());
    }

    @Test
    void theDynamoDbStoreGivesAShardToOneOwnerAtATime() {
        ManualClock clock = new ManualClock(Instant.parse("2024-01-01T00:00:00Z"));
        DynamoDbCheckpointStore store = DynamoDbCheckpointStore.builder().client(LocalDynamoDb.get().client())
                .table(LocalDynamoDb.uniqueName("checkpoints")).createTableIfMissing(true)
                .lease(Duration.ofSeconds(30)).clock(clock).build();
        assertTrue(store.claim(ARN, "shard-1", "a"));
        assertTrue(store.claim(ARN, "shard-1", "a"), "renewing one's own claim");
        assertFalse(store.claim(ARN, "shard-1", "b"), "a live claim keeps others out");
        store.save(ARN, "shard-1", "a", Checkpoint.after("000000000000000000100"));
        CdcException stolen = assertThrows(CdcException.class,
                () -> store.save(ARN, "shard-1", "b", Checkpoint.after("000000000000000000200")));
        assertFalse(stolen.retryable());
        assertTrue(stolen.getMessage().startsWith("shard shard-1 of " + ARN + " is no longer owned by 'b'"),
                stolen.getMessage());
        assertEquals(Map.of("shard-1", Checkpoint.after("000000000000000000100")), store.load(ARN));

        clock.advance(Duration.ofSeconds(31));
        assertTrue(store.claim(ARN, "shard-1", "b"), "a claim without heartbeat for the lease expires");
        assertThrows(CdcException.class, () -> store.save(ARN, "shard-1", "a", Checkpoint.after("000000000000000000150")),
                "the old owner is fenced off");
        store.release(ARN, "shard-1", "b");
        assertTrue(store.claim(ARN, "shard-1", "a"), "a released shard is free at once");
    }

    @Test
    void builderMessagesNameTheSetting() {
        assertEquals("table must be 3 to 255 letters, digits, '_', '-' or '.' (was 'x')",
                assertThrows(IllegalArgumentException.class, () -> DynamoDbCheckpointStore.builder().table("x"))
                        .getMessage());
        assertEquals("client is required", assertThrows(IllegalStateException.class,
                () -> DynamoDbCheckpointStore.builder().table("cps").build()).getMessage());
        assertEquals("recordsPerCall must be between 1 and 1000 (was 1001)", assertThrows(
                IllegalArgumentException.class, () -> StreamPoller.builder().recordsPerCall(1001)).getMessage());
        assertEquals("give exactly one of streamArn and table", assertThrows(IllegalStateException.class,
                () -> StreamPoller.builder().streamsClient(LocalDynamoDb.get().streams())
                        .pipeline(StreamPollerTest.pipeline(new ArrivalSink())).build()).getMessage());
        DynamoDbCheckpointStore leased = DynamoDbCheckpointStore.builder().client(LocalDynamoDb.get().client())
                .table("cps").lease(Duration.ofSeconds(9)).build();
        assertEquals("leaseRenewInterval must be at most a third of the checkpoint store's lease (lease PT9S, so at "
                + "most PT3S; was PT4S)", assertThrows(IllegalStateException.class,
                () -> StreamPoller.builder().streamsClient(LocalDynamoDb.get().streams())
                        .streamArn("arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2026-01-01T00:00:00.000")
                        .checkpointStore(leased).leaseRenewInterval(Duration.ofSeconds(4))
                        .pipeline(StreamPollerTest.pipeline(new ArrivalSink())).build()).getMessage());
        assertEquals("sequenceNumber must be 1 to 64 digits (was 'abc')",
                assertThrows(IllegalArgumentException.class, () -> Checkpoint.after("abc")).getMessage());
    }
}
