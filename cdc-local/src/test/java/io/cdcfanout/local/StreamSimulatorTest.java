package io.cdcfanout.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ExpiredIteratorException;
import software.amazon.awssdk.services.dynamodb.model.GetRecordsResponse;
import software.amazon.awssdk.services.dynamodb.model.LimitExceededException;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.awssdk.services.dynamodb.model.Shard;
import software.amazon.awssdk.services.dynamodb.model.ShardIteratorType;
import software.amazon.awssdk.services.dynamodb.model.TrimmedDataAccessException;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/** The stream simulator through the SDK's own client: each service behaviour it claims. */
class StreamSimulatorTest {
    /** A clock the test moves. */
    static final class TestClock extends Clock {
        private volatile Instant now = Instant.parse("2026-12-01T00:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }

    private static Map<String, AttributeValue> item(String id, int v) {
        return Map.of("id", AttributeValue.fromS(id), "v", AttributeValue.fromN(Integer.toString(v)));
    }

    private static List<Record> readShard(DynamoDbStreamsClient c, String arn, String shard) {
        List<Record> out = new ArrayList<>();
        String it = c.getShardIterator(r -> r.streamArn(arn).shardId(shard)
                .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).shardIterator();
        for (int guard = 0; it != null && guard < 10_000; guard++) {
            String from = it;
            GetRecordsResponse page = c.getRecords(r -> r.shardIterator(from));
            out.addAll(page.records());
            if (page.records().isEmpty() && page.nextShardIterator() != null && open(c, arn, shard)) {
                break; // an open shard's end for now
            }
            it = page.nextShardIterator();
        }
        return out;
    }

    private static boolean open(DynamoDbStreamsClient c, String arn, String shard) {
        return c.describeStream(r -> r.streamArn(arn)).streamDescription().shards().stream()
                .filter(s -> s.shardId().equals(shard)).anyMatch(s -> s.sequenceNumberRange().endingSequenceNumber() == null);
    }

    @Test
    void shardsRollOverAndSplitWithLineageAndAnItemsChangesFollowItsKey() {
        TestClock clock = new TestClock();
        try (StreamSimulator sim = StreamSimulator.builder().clock(clock).seed(7).partitions(1).splitEvery(2).build();
                DynamoDbStreamsClient c = sim.client("reader-a")) {
            Map<String, Integer> versions = new HashMap<>();
            for (int hour = 0; hour < 20; hour++) {
                for (int k = 0; k < 5; k++) {
                    int v = versions.merge("k" + k, 1, Integer::sum);
                    sim.put(item("k" + k, v));
                }
                clock.advance(Duration.ofHours(1));
            }
            List<Shard> shards = c.describeStream(r -> r.streamArn(sim.streamArn())).streamDescription().shards();
            assertTrue(shards.size() >= 5, "about one shard per 4 hours: " + shards.size());
            assertNull(shards.get(0).parentShardId());
            Map<String, Shard> byId = new HashMap<>();
            shards.forEach(s -> byId.put(s.shardId(), s));
            long children = shards.stream().filter(s -> s.parentShardId() != null).count();
            assertEquals(shards.size() - 1, children, "every later shard names its parent");
            assertTrue(shards.stream().filter(s -> s.parentShardId() != null).collect(
                    java.util.stream.Collectors.groupingBy(Shard::parentShardId,
                    java.util.stream.Collectors.counting())).values().stream().anyMatch(n -> n == 2), "a split");
            // Reading parents before children gives each item's versions in order.
            Map<String, List<Integer>> seen = new HashMap<>();
            for (Shard s : shards) {
                for (Record r : readShard(c, sim.streamArn(), s.shardId())) {
                    seen.computeIfAbsent(r.dynamodb().keys().get("id").s(), x -> new ArrayList<>())
                            .add(Integer.parseInt(r.dynamodb().newImage().get("v").n()));
                }
            }
            for (int k = 0; k < 5; k++) {
                List<Integer> expected = new ArrayList<>();
                for (int v = 1; v <= 20; v++) {
                    expected.add(v);
                }
                assertEquals(expected, seen.get("k" + k), "k" + k);
            }
        }
    }

    @Test
    void recordsAreTrimmedAfterADayAndAStalePositionIsRefused() {
        TestClock clock = new TestClock();
        try (StreamSimulator sim = StreamSimulator.builder().clock(clock).partitions(1).rolloverEvery(Duration.ofDays(30))
                .build(); DynamoDbStreamsClient c = sim.client("r")) {
            sim.put(item("a", 1));
            clock.advance(Duration.ofHours(12));
            sim.put(item("a", 2));
            String shard = c.describeStream(r -> r.streamArn(sim.streamArn())).streamDescription().shards().get(0)
                    .shardId();
            String firstSeq = readShard(c, sim.streamArn(), shard).get(0).dynamodb().sequenceNumber();
            clock.advance(Duration.ofHours(13)); // the first record is 25 hours old
            assertEquals(1, readShard(c, sim.streamArn(), shard).size(), "only the newer record is left");
            assertThrows(TrimmedDataAccessException.class, () -> c.getShardIterator(r -> r.streamArn(sim.streamArn())
                    .shardId(shard).shardIteratorType(ShardIteratorType.AT_SEQUENCE_NUMBER).sequenceNumber(firstSeq)));
            assertEquals(1, sim.stats().recordsTrimmed());
        }
    }

    @Test
    void iteratorsExpireAfterFifteenMinutes() {
        TestClock clock = new TestClock();
        try (StreamSimulator sim = StreamSimulator.builder().clock(clock).partitions(1).build();
                DynamoDbStreamsClient c = sim.client("r")) {
            String shard = c.describeStream(r -> r.streamArn(sim.streamArn())).streamDescription().shards().get(0)
                    .shardId();
            String it = c.getShardIterator(r -> r.streamArn(sim.streamArn()).shardId(shard)
                    .shardIteratorType(ShardIteratorType.LATEST)).shardIterator();
            clock.advance(Duration.ofMinutes(14));
            String next = c.getRecords(r -> r.shardIterator(it)).nextShardIterator();
            assertNotNull(next, "an open shard always gives a next iterator");
            clock.advance(Duration.ofMinutes(16));
            assertThrows(ExpiredIteratorException.class, () -> c.getRecords(r -> r.shardIterator(next)));
        }
    }

    @Test
    void aThirdReaderOfAShardIsThrottled() {
        TestClock clock = new TestClock();
        try (StreamSimulator sim = StreamSimulator.builder().clock(clock).partitions(1).build();
                DynamoDbStreamsClient a = sim.client("a");
                DynamoDbStreamsClient b = sim.client("b");
                DynamoDbStreamsClient third = sim.client("c")) {
            String shard = a.describeStream(r -> r.streamArn(sim.streamArn())).streamDescription().shards().get(0)
                    .shardId();
            for (DynamoDbStreamsClient c : List.of(a, b)) {
                String it = c.getShardIterator(r -> r.streamArn(sim.streamArn()).shardId(shard)
                        .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).shardIterator();
                c.getRecords(r -> r.shardIterator(it));
            }
            String it = third.getShardIterator(r -> r.streamArn(sim.streamArn()).shardId(shard)
                    .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).shardIterator();
            LimitExceededException e = assertThrows(LimitExceededException.class,
                    () -> third.getRecords(r -> r.shardIterator(it)));
            assertTrue(e.getMessage().contains("more than two processes"), e.getMessage());
            clock.advance(Duration.ofSeconds(11));
            assertEquals(0, third.getRecords(r -> r.shardIterator(it)).records().size(), "the others went quiet");
        }
    }

    @Test
    void pagesHoldAtMostAThousandRecordsAndAMegabyteAndAClosedShardEnds() {
        TestClock clock = new TestClock();
        try (StreamSimulator sim = StreamSimulator.builder().clock(clock).partitions(1).splitEvery(0)
                .rolloverEvery(Duration.ofHours(1)).build(); DynamoDbStreamsClient c = sim.client("r")) {
            for (int i = 0; i < 2_500; i++) {
                sim.put(item("k" + i, 1));
            }
            byte[] big = new byte[390_000];
            for (int i = 0; i < 5; i++) {
                sim.put(Map.of("id", AttributeValue.fromS("big" + i), "blob", AttributeValue.fromB(SdkBytes.fromByteArray(big))));
            }
            clock.advance(Duration.ofHours(2)); // the shard closes
            String shard = c.describeStream(r -> r.streamArn(sim.streamArn())).streamDescription().shards().get(0)
                    .shardId();
            List<Integer> sizes = new ArrayList<>();
            String it = c.getShardIterator(r -> r.streamArn(sim.streamArn()).shardId(shard)
                    .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).shardIterator();
            while (it != null) {
                String from = it;
                GetRecordsResponse page = c.getRecords(r -> r.shardIterator(from));
                sizes.add(page.records().size());
                it = page.nextShardIterator();
            }
            assertEquals(List.of(1000, 1000, 502, 2, 1), sizes,
                    "1,000 records a page, items near 400 KB two to a megabyte, and the closed shard's end");
            assertEquals(2_505, sizes.stream().mapToInt(Integer::intValue).sum());
        }
    }
}
