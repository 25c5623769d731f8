package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.CdcException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Checkpoints and claims in a map; see {@link CheckpointStore#inMemory()}. */
class InMemoryCheckpointStore implements CheckpointStore {
    private final Map<String, Map<String, Checkpoint>> checkpoints = new ConcurrentHashMap<>();
    private final Map<String, String> owners = new ConcurrentHashMap<>();

    @Override
    public Map<String, Checkpoint> load(String streamArn) {
        return Map.copyOf(checkpoints.getOrDefault(streamArn, Map.of()));
    }

    @Override
    public boolean claim(String streamArn, String shardId, String owner) {
        String holder = owners.putIfAbsent(streamArn + "|" + shardId, owner);
        return holder == null || holder.equals(owner);
    }

    @Override
    public synchronized void save(String streamArn, String shardId, String owner, Checkpoint checkpoint) {
        String holder = owners.get(streamArn + "|" + shardId);
        if (holder != null && !holder.equals(owner)) {
            throw new CdcException("shard " + shardId + " of " + streamArn + " is owned by '" + holder
                    + "', not by '" + owner + "'", false);
        }
        checkpoints.computeIfAbsent(streamArn, k -> new ConcurrentHashMap<>()).put(shardId, checkpoint);
    }

    @Override
    public synchronized void forget(String streamArn, String shardId) {
        Map<String, Checkpoint> m = checkpoints.get(streamArn);
        if (m != null) {
            m.remove(shardId);
        }
        owners.remove(streamArn + "|" + shardId);
    }

    @Override
    public void release(String streamArn, String shardId, String owner) {
        owners.remove(streamArn + "|" + shardId, owner);
    }
}
