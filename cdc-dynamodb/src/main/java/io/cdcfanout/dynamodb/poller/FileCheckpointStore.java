package io.cdcfanout.dynamodb.poller;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.cdcfanout.api.CdcException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Checkpoints in one JSON file ({@code {"streamArn":{"shardId":"checkpoint"}}}), written to a
 * temporary file and renamed over the old one, so a crash leaves either the old or the new file.
 */
final class FileCheckpointStore extends InMemoryCheckpointStore {
    private static final JsonFactory JSON = new JsonFactory();

    private final Path path;
    private final Map<String, Map<String, String>> data = new TreeMap<>();
    private final FileChannel lockChannel;
    private final FileLock lock;

    FileCheckpointStore(Path path) {
        this.path = Objects.requireNonNull(path, "path must not be null").toAbsolutePath();
        Path lockFile = this.path.resolveSibling(this.path.getFileName() + ".lock");
        try {
            Files.createDirectories(this.path.getParent());
            lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock l;
            try {
                l = lockChannel.tryLock();
            } catch (OverlappingFileLockException e) {
                l = null;
            }
            if (l == null) {
                lockChannel.close();
                throw new CdcException("checkpoint file " + this.path + " is in use by another poller (lock file "
                        + lockFile + ")", false);
            }
            lock = l;
            if (Files.exists(this.path)) {
                read();
            }
        } catch (IOException e) {
            throw new CdcException("cannot open checkpoint file " + this.path + ": " + e.getMessage(), e, false);
        }
    }

    private void read() throws IOException {
        try (JsonParser p = JSON.createParser(this.path.toFile())) {
            expect(p, JsonToken.START_OBJECT);
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String stream = p.currentName();
                expect(p, JsonToken.START_OBJECT);
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String shard = p.currentName();
                    expect(p, JsonToken.VALUE_STRING);
                    String value = p.getText();
                    try {
                        super.save(stream, shard, null, Checkpoint.decode(value));
                    } catch (IllegalArgumentException e) {
                        throw new CdcException("checkpoint file " + path + ": shard " + shard + " has a bad checkpoint: "
                                + e.getMessage(), false);
                    }
                    data.computeIfAbsent(stream, k -> new TreeMap<>()).put(shard, value);
                }
            }
        }
    }

    private void expect(JsonParser p, JsonToken token) throws IOException {
        JsonToken t = p.nextToken();
        if (t != token) {
            throw new CdcException("checkpoint file " + path + " is not in the expected form: wanted " + token
                    + " at " + p.currentLocation() + " but found " + t, false);
        }
    }

    @Override
    public synchronized void save(String streamArn, String shardId, String owner, Checkpoint checkpoint) {
        super.save(streamArn, shardId, owner, checkpoint);
        data.computeIfAbsent(streamArn, k -> new TreeMap<>()).put(shardId, checkpoint.encode());
        write();
    }

    @Override
    public synchronized void forget(String streamArn, String shardId) {
        super.forget(streamArn, shardId);
        Map<String, String> m = data.get(streamArn);
        if (m != null && m.remove(shardId) != null) {
            write();
        }
    }

    private void write() {
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        try {
            try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE, StandardOpenOption.DSYNC);
                    JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
                g.writeStartObject();
                for (Map.Entry<String, Map<String, String>> s : data.entrySet()) {
                    g.writeObjectFieldStart(s.getKey());
                    for (Map.Entry<String, String> c : s.getValue().entrySet()) {
                        g.writeStringField(c.getKey(), c.getValue());
                    }
                    g.writeEndObject();
                }
                g.writeEndObject();
            }
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new CdcException("cannot write checkpoint file " + path + ": " + e.getMessage(), e, true);
        }
    }

    @Override
    public synchronized void close() {
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            // The lock goes with the process anyway.
        }
    }
}
