package io.cdcfanout.dynamodb.snapshot;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where a snapshot keeps each unit's progress (a Scan segment's last acknowledged key), so that a
 * restarted snapshot resumes each unit where it left off. Implementations are thread-safe.
 */
public interface SnapshotCheckpoints {
    /** The token stored for {@code unit}, if any: a resume point, or {@link #DONE}. */
    Optional<String> load(String unit);

    /** Stores {@code token} for {@code unit}, replacing what was there. */
    void save(String unit, String token);

    /** The token of a unit read to its end. */
    String DONE = "DONE";

    /** Progress in this process's memory: a restarted process starts over. */
    static SnapshotCheckpoints inMemory() {
        Map<String, String> tokens = new ConcurrentHashMap<>();
        return new SnapshotCheckpoints() {
            @Override
            public Optional<String> load(String unit) {
                return Optional.ofNullable(tokens.get(Objects.requireNonNull(unit, "unit must not be null")));
            }

            @Override
            public void save(String unit, String token) {
                tokens.put(Objects.requireNonNull(unit, "unit must not be null"),
                        Objects.requireNonNull(token, "token must not be null"));
            }
        };
    }

    /**
     * Progress in files under {@code directory}, one per unit, each replaced atomically, so a killed
     * process resumes from its last saved page.
     */
    static SnapshotCheckpoints directory(Path directory) {
        Objects.requireNonNull(directory, "directory must not be null");
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the snapshot checkpoint directory " + directory, e);
        }
        return new SnapshotCheckpoints() {
            private Path file(String unit) {
                return directory.resolve(HexFormat.of().formatHex(unit.getBytes(StandardCharsets.UTF_8)) + ".ckpt");
            }

            @Override
            public Optional<String> load(String unit) {
                Path f = file(Objects.requireNonNull(unit, "unit must not be null"));
                try {
                    return Files.exists(f) ? Optional.of(Files.readString(f)) : Optional.empty();
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read the snapshot checkpoint " + f, e);
                }
            }

            @Override
            public synchronized void save(String unit, String token) {
                Path f = file(Objects.requireNonNull(unit, "unit must not be null"));
                Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
                try {
                    Files.writeString(tmp, Objects.requireNonNull(token, "token must not be null"));
                    try {
                        Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                    } catch (AtomicMoveNotSupportedException e) {
                        Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot write the snapshot checkpoint " + f, e);
                }
            }
        };
    }
}
