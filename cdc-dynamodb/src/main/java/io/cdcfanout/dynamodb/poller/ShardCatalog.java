package io.cdcfanout.dynamodb.poller;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import software.amazon.awssdk.services.dynamodb.model.Shard;

/**
 * The stream's shards and their lineage: which are known, which may be read now (unfinished, with
 * their parent finished or gone), and where each starts (its checkpoint, LATEST, or TRIM_HORIZON).
 * Pure bookkeeping, no I/O. Touched only by the poller thread.
 */
final class ShardCatalog {
    private final Map<String, ShardState> shards = new LinkedHashMap<>();
    private final Map<String, Checkpoint> stored;
    private final StartPosition startPosition;
    private boolean firstDiscovery = true;

    ShardCatalog(Map<String, Checkpoint> stored, StartPosition startPosition) {
        this.stored = new LinkedHashMap<>(stored);
        this.startPosition = startPosition;
    }

    /**
     * Takes in the shards DescribeStream listed: a new one starts at its stored checkpoint, or, on the
     * first discovery with LATEST, at the stream's tip (a shard closed before the start has nothing
     * new). Returns the checkpointed shards that vanished unfinished: they expired with unread records,
     * which is data loss; they are marked finished.
     */
    List<ShardState> merge(List<Shard> found) {
        Set<String> present = new HashSet<>();
        for (Shard shard : found) {
            present.add(shard.shardId());
            if (!shards.containsKey(shard.shardId())) {
                ShardState s = new ShardState(shard);
                Checkpoint cp = stored.get(shard.shardId());
                if (cp != null) {
                    s.checkpoint = cp.sequenceNumber();
                    s.finished = cp.finished();
                } else if (firstDiscovery && startPosition == StartPosition.LATEST) {
                    if (shard.sequenceNumberRange().endingSequenceNumber() != null) {
                        s.finished = true;
                    } else {
                        s.latest = true;
                    }
                }
                shards.put(shard.shardId(), s);
            }
        }
        List<ShardState> vanished = new ArrayList<>();
        for (Map.Entry<String, Checkpoint> e : stored.entrySet()) {
            if (!e.getValue().finished() && !present.contains(e.getKey()) && !shards.containsKey(e.getKey())) {
                ShardState gone = new ShardState(null, e.getKey());
                gone.checkpoint = e.getValue().sequenceNumber();
                gone.finished = true;
                shards.put(e.getKey(), gone);
                vanished.add(gone);
            }
        }
        firstDiscovery = false;
        return vanished;
    }

    /**
     * The finished shards not held by this poller that DescribeStream no longer lists: they left the
     * stream (trimmed after closing), so their checkpoints may go. A copy.
     */
    List<ShardState> departed(Collection<Shard> found) {
        Set<String> present = new HashSet<>();
        found.forEach(s -> present.add(s.shardId()));
        List<ShardState> out = new ArrayList<>();
        for (ShardState s : shards.values()) {
            if (s.finished && !s.owned && s.inFlight.isEmpty() && !present.contains(s.id)) {
                out.add(s);
            }
        }
        return out;
    }

    /** Forgets a departed shard; its children no longer wait for it. */
    void remove(String shardId) {
        shards.remove(shardId);
        stored.remove(shardId);
    }

    /** Whether the shard is unfinished and its parent finished or gone: its turn has come. */
    boolean eligible(ShardState s) {
        if (s.finished || s.shard == null) {
            return false;
        }
        String parent = s.shard.parentShardId();
        if (parent != null) {
            ShardState p = shards.get(parent);
            if (p != null && !p.finished) {
                return false;
            }
        }
        return true;
    }

    /** Whether the shard may be read now: eligible and held by this poller. */
    boolean readable(ShardState s) {
        return s.owned && eligible(s);
    }

    ShardState get(String shardId) {
        return shards.get(shardId);
    }

    /** Every known shard, in discovery order; a copy, safe to iterate while shards change. */
    List<ShardState> all() {
        return new ArrayList<>(shards.values());
    }

    Collection<ShardState> view() {
        return shards.values();
    }
}
