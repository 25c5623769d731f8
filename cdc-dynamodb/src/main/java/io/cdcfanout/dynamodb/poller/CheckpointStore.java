package io.cdcfanout.dynamodb.poller;

import java.nio.file.Path;
import java.util.Map;

/**
 * Where a poller keeps each shard's checkpoint, and which poller owns a shard. Implementations are
 * thread-safe. A store that can be shared by processes (DynamoDB) makes ownership exclusive, so two
 * pollers never read the same shard; scaling out beyond that is the job of Lambda's event source
 * mapping or KCL, not of this library.
 */
public interface CheckpointStore extends AutoCloseable {

    /** The stream's checkpoints by shard id; empty for a stream never read. */
    Map<String, Checkpoint> load(String streamArn);

    /**
     * Claims or renews the shard for {@code owner}. Returns false when another owner holds a live
     * claim; the caller must then leave the shard alone.
     */
    boolean claim(String streamArn, String shardId, String owner);

    /**
     * Stores a checkpoint, which must not go backwards.
     *
     * @throws io.cdcfanout.api.CdcException (fatal) if another owner has taken the shard; (retryable)
     *     if the store is unreachable
     */
    void save(String streamArn, String shardId, String owner, Checkpoint checkpoint);

    /**
     * Deletes what the store holds of a shard that has left the stream (its records trimmed after it
     * closed): nobody can read it again, and a store that kept it would grow by a row per shard for ever.
     */
    void forget(String streamArn, String shardId);

    /** Gives up the claim, if {@code owner} holds it, so another poller may take the shard at once. */
    void release(String streamArn, String shardId, String owner);

    /**
     * How long a claim lives without renewal, for a store shared by processes; empty for a store that
     * one process owns (memory, a locked file), whose claims never lapse. The poller renews its leases
     * well within it, on a timer of their own.
     */
    default java.util.Optional<java.time.Duration> lease() {
        return java.util.Optional.empty();
    }

    /** Releases what the store holds; never throws a checked exception. */
    @Override
    default void close() {
    }

    /** A store in this process's memory, for tests and for runs that may start over. */
    static CheckpointStore inMemory() {
        return new InMemoryCheckpointStore();
    }

    /**
     * A store in one local file, replaced atomically on each save; a lock file next to it keeps a
     * second process from using it.
     *
     * @throws io.cdcfanout.api.CdcException (fatal) if the file cannot be read or is locked by another
     *     process
     */
    static CheckpointStore file(Path path) {
        return new FileCheckpointStore(path);
    }
}
