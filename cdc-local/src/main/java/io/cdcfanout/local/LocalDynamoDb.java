package io.cdcfanout.local;

import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import com.amazonaws.services.dynamodbv2.local.server.LocalDynamoDBRequestHandler;
import com.amazonaws.services.dynamodbv2.local.server.LocalDynamoDBServerHandler;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.net.InetAddress;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeDefinition;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.BillingMode;
import software.amazon.awssdk.services.dynamodb.model.KeySchemaElement;
import software.amazon.awssdk.services.dynamodb.model.KeyType;
import software.amazon.awssdk.services.dynamodb.model.ScalarAttributeType;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.awssdk.services.dynamodb.streams.DynamoDbStreamsClient;

/**
 * DynamoDB Local in-process: in memory, on a random loopback port, with its test controls (shard
 * rollover, time dilation) switched on, and clients for it. Each region is a separate database.
 * DynamoDB Local's threads are not daemons and outlive {@code close()}: a {@code main} that uses it
 * ends with {@code System.exit}.
 */
public final class LocalDynamoDb {
    private static final AtomicInteger TABLES = new AtomicInteger();
    private static LocalDynamoDb instance;

    private final DynamoDBProxyServer server;
    private final URI endpoint;
    private final DynamoDbClient client;
    private final DynamoDbStreamsClient streams;

    private LocalDynamoDb() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        // The command line turns telemetry off; its server is discarded because only the package-private
        // constructor of the request handler can enable the [TEST_CONTROL] actions (ROLLOVER, DILATE_TIME).
        ServerRunner.createServerFromCommandLineArgs(new String[] {
            "-inMemory", "-port", Integer.toString(port), "-disableTelemetry"});
        Constructor<LocalDynamoDBRequestHandler> withTestControl = LocalDynamoDBRequestHandler.class
                .getDeclaredConstructor(int.class, boolean.class, String.class, boolean.class, boolean.class,
                        boolean.class);
        withTestControl.setAccessible(true);
        LocalDynamoDBRequestHandler handler = withTestControl.newInstance(0, true, null, false, false, true);
        server = new DynamoDBProxyServer(port, new LocalDynamoDBServerHandler(handler, null));
        bindToLoopback(server);
        server.start();
        endpoint = URI.create("http://127.0.0.1:" + port);
        client = client("us-east-1");
        streams = DynamoDbStreamsClient.builder().endpointOverride(endpoint).region(Region.US_EAST_1)
                .credentialsProvider(credentials()).build();
    }

    /**
     * Makes the server listen on 127.0.0.1 only: DynamoDB Local's Jetty connector binds every interface,
     * and its constructor takes no host, so the connector is reached through the private field.
     */
    static void bindToLoopback(DynamoDBProxyServer proxy) throws ReflectiveOperationException {
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server jetty = (Server) field.get(proxy);
        for (Connector c : jetty.getConnectors()) {
            if (c instanceof ServerConnector sc) {
                sc.setHost("127.0.0.1");
            } else {
                throw new IllegalStateException("DynamoDB Local has a connector this class cannot bind to loopback: "
                        + c.getClass().getName());
            }
        }
    }

    /** The listening host and port of the shared server's connectors, as Jetty reports them. */
    public List<String> listeningOn() {
        try {
            Field field = DynamoDBProxyServer.class.getDeclaredField("server");
            field.setAccessible(true);
            List<String> out = new ArrayList<>();
            for (Connector c : ((Server) field.get(server)).getConnectors()) {
                ServerConnector sc = (ServerConnector) c;
                out.add(sc.getHost() + ":" + sc.getLocalPort());
            }
            return out;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The shared server, started on first use. */
    public static synchronized LocalDynamoDb get() {
        if (instance == null) {
            try {
                instance = new LocalDynamoDb();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (Exception e) {
                throw new IllegalStateException("DynamoDB Local did not start", e);
            }
        }
        return instance;
    }

    private static StaticCredentialsProvider credentials() {
        return StaticCredentialsProvider.create(AwsBasicCredentials.create("local", "local"));
    }

    /** A client for {@code region}; each region of DynamoDB Local is a separate database. */
    public DynamoDbClient client(String region) {
        return DynamoDbClient.builder().endpointOverride(endpoint).region(Region.of(region))
                .credentialsProvider(credentials()).build();
    }

    /** A streams client for {@code region}. */
    public DynamoDbStreamsClient streams(String region) {
        return DynamoDbStreamsClient.builder().endpointOverride(endpoint).region(Region.of(region))
                .credentialsProvider(credentials()).build();
    }

    public DynamoDbClient client() {
        return client;
    }

    public DynamoDbStreamsClient streams() {
        return streams;
    }

    public URI endpoint() {
        return endpoint;
    }

    /** A fresh table name with {@code prefix}. */
    public static String uniqueName(String prefix) {
        return prefix + "-" + TABLES.incrementAndGet() + "-" + System.nanoTime() % 100_000;
    }

    /**
     * Creates a table with a stream of {@code view} (none if null); keys are "name:S" or "name:N" (hash, then range).
     * Returns the stream ARN.
     */
    public String createTable(String table, StreamViewType view, String... keys) {
        return createTable(client, table, view, keys);
    }

    /** {@link #createTable(String, StreamViewType, String...)} with {@code db}. */
    public static String createTable(DynamoDbClient db, String table, StreamViewType view, String... keys) {
        List<KeySchemaElement> schema = new ArrayList<>();
        List<AttributeDefinition> defs = new ArrayList<>();
        for (int i = 0; i < keys.length; i++) {
            String[] parts = keys[i].split(":");
            schema.add(KeySchemaElement.builder().attributeName(parts[0])
                    .keyType(i == 0 ? KeyType.HASH : KeyType.RANGE).build());
            defs.add(AttributeDefinition.builder().attributeName(parts[0])
                    .attributeType(ScalarAttributeType.fromValue(parts[1])).build());
        }
        return db.createTable(r -> r.tableName(table).keySchema(schema).attributeDefinitions(defs)
                .billingMode(BillingMode.PAY_PER_REQUEST)
                .streamSpecification(s -> s.streamEnabled(view != null).streamViewType(view)))
                .tableDescription().latestStreamArn();
    }

    /** Closes every open shard of every stream and opens children (DynamoDB Local's ROLLOVER control). */
    public void rollover() {
        rollover(client);
    }

    /** {@link #rollover()} in the database of {@code db}'s region. */
    public static void rollover(DynamoDbClient db) {
        db.putItem(r -> r.tableName("[TEST_CONTROL]").item(Map.of("ACTION", s("ROLLOVER"))));
    }

    /** Makes every stream record and iterator of {@code db}'s database {@code hours} older (DILATE_TIME). */
    public static void dilateTime(DynamoDbClient db, int hours) {
        db.putItem(r -> r.tableName("[TEST_CONTROL]").item(Map.of("ACTION", s("DILATE_TIME"),
                "HOURS", s(Integer.toString(hours)))));
    }

    public static AttributeValue s(String v) {
        return AttributeValue.builder().s(v).build();
    }

    public static AttributeValue n(String v) {
        return AttributeValue.builder().n(v).build();
    }
}
