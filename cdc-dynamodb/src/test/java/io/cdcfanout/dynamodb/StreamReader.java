package io.cdcfanout.dynamodb;

import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.services.dynamodb.model.GetRecordsResponse;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.awssdk.services.dynamodb.model.Shard;
import software.amazon.awssdk.services.dynamodb.model.ShardIteratorType;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/** Reads a whole stream with the raw SDK, for tests of the mapping. */
public final class StreamReader {
    private StreamReader() {
    }

    /** A record with the shard it came from. */
    public record ShardRecord(String shardId, Record record) {
    }

    /** Every record now in the stream, shard by shard in DescribeStream order. */
    public static List<ShardRecord> readAll(DynamoDbStreamsClient streams, String streamArn) {
        List<ShardRecord> out = new ArrayList<>();
        for (Shard shard : streams.describeStream(r -> r.streamArn(streamArn)).streamDescription().shards()) {
            String it = streams.getShardIterator(r -> r.streamArn(streamArn).shardId(shard.shardId())
                    .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).shardIterator();
            while (it != null) {
                String current = it;
                GetRecordsResponse resp = streams.getRecords(r -> r.shardIterator(current));
                resp.records().forEach(rec -> out.add(new ShardRecord(shard.shardId(), rec)));
                if (resp.records().isEmpty()) {
                    break;
                }
                it = resp.nextShardIterator();
            }
        }
        return out;
    }
}
