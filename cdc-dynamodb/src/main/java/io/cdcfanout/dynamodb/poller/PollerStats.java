package io.cdcfanout.dynamodb.poller;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * What a poller holds now, per shard it knows, for gauges; refreshed by the reading thread on each pass.
 *
 * @param shards the shards this poller knows, in stream order
 */
public record PollerStats(List<ShardStats> shards) {
    public PollerStats {
        shards = List.copyOf(shards);
    }

    /** How many shards this poller reads now. */
    public int ownedShards() {
        return (int) shards.stream().filter(ShardStats::owned).count();
    }

    /**
     * One shard now.
     *
     * @param shardId the shard
     * @param owned whether this poller holds its lease and reads it
     * @param finished whether it was read to its end
     * @param recordsInFlight records submitted to the pipeline and not yet acknowledged
     * @param checkpointAge time since its checkpoint was last stored; empty before the first
     * @param iteratorAge now minus the creation time of the last record read (the stream's iterator
     *     age, as seen by this poller); empty before the first records
     */
    public record ShardStats(String shardId, boolean owned, boolean finished, int recordsInFlight,
            Optional<Duration> checkpointAge, Optional<Duration> iteratorAge) {
    }
}
