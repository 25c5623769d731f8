package io.cdcfanout.dynamodb.poller;

/**
 * Records that can no longer be read: the stream trimmed them (older than 24 hours) or the shard
 * expired before the poller finished it.
 *
 * @param streamArn the stream
 * @param shardId the shard
 * @param lastCheckpoint the last sequence number acknowledged in that shard, or null if none
 * @param reason what the stream said, naming the exception or the missing shard
 */
public record DataLoss(String streamArn, String shardId, String lastCheckpoint, String reason) {
}
