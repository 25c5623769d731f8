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

    /**
     * Progress in a DynamoDB table (partition key {@code unit}, type S), for snapshots whose processes
     * have no durable disk: Lambda functions, or the tasks of a Step Functions distributed map. Several
     * snapshots may share the table; {@link #createDynamoDbTable} makes one.
     */
    static SnapshotCheckpoints dynamoDb(software.amazon.awssdk.services.dynamodb.DynamoDbClient client, String table) {
        Objects.requireNonNull(client, "client must not be null");
        Objects.requireNonNull(table, "table must not be null");
        return new SnapshotCheckpoints() {
            @Override
            public Optional<String> load(String unit) {
                Map<String, software.amazon.awssdk.services.dynamodb.model.AttributeValue> item = client.getItem(r -> r
                        .tableName(table).key(Map.of("unit", text(Objects.requireNonNull(unit, "unit must not be null"))))
                        .consistentRead(true)).item();
                return item == null || !item.containsKey("token") ? Optional.empty() : Optional.of(item.get("token").s());
            }

            @Override
            public void save(String unit, String token) {
                client.putItem(r -> r.tableName(table).item(Map.of(
                        "unit", text(Objects.requireNonNull(unit, "unit must not be null")),
                        "token", text(Objects.requireNonNull(token, "token must not be null")))));
            }

            private software.amazon.awssdk.services.dynamodb.model.AttributeValue text(String s) {
                return software.amazon.awssdk.services.dynamodb.model.AttributeValue.builder().s(s).build();
            }
        };
    }

    /** Creates an on-demand table for {@link #dynamoDb} (partition key {@code unit}, S) and waits until it exists. */
    static void createDynamoDbTable(software.amazon.awssdk.services.dynamodb.DynamoDbClient client, String table) {
        client.createTable(r -> r.tableName(table)
                .billingMode(software.amazon.awssdk.services.dynamodb.model.BillingMode.PAY_PER_REQUEST)
                .keySchema(software.amazon.awssdk.services.dynamodb.model.KeySchemaElement.builder().attributeName("unit")
                        .keyType(software.amazon.awssdk.services.dynamodb.model.KeyType.HASH).build())
                .attributeDefinitions(software.amazon.awssdk.services.dynamodb.model.AttributeDefinition.builder()
                        .attributeName("unit")
                        .attributeType(software.amazon.awssdk.services.dynamodb.model.ScalarAttributeType.S).build()));
        client.waiter().waitUntilTableExists(r -> r.tableName(table));
    }
}
