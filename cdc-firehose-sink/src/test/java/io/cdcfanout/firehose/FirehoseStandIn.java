package io.cdcfanout.firehose;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.time.Duration;
import java.util.Base64;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.IntPredicate;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.firehose.FirehoseClient;

/**
 * A Firehose stand-in on loopback speaking the JSON 1.1 protocol of PutRecordBatch to the real SDK
 * client (and PutRecord, for the naive baseline). It records every accepted record and answers from a script: per-record failures, a 503
 * throttle, or a 400 error for the whole call.
 */
final class FirehoseStandIn implements AutoCloseable {
    /** What the next call gets. */
    sealed interface Reply permits Ok, FailRecords, Status, Drop, Slow {
    }

    record Ok() implements Reply {
    }

    /** Accept the call but fail the records whose position matches. */
    record FailRecords(IntPredicate which) implements Reply {
    }

    /** Answer the whole call with an HTTP status and an error type. */
    record Status(int code, String errorType) implements Reply {
    }

    /** Close the connection without an answer, the records not taken. */
    record Drop() implements Reply {
    }

    /**
     * Take the records but answer only once the next call has come in, that is, after the client
     * gave up waiting: a server under load.
     */
    record Slow() implements Reply {
    }

    private static final JsonFactory JSON = new JsonFactory();

    static {
        // Without TCP_NODELAY each answer waits for the client's delayed ACK (about 40 ms).
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool();
    private final Deque<Reply> script = new ArrayDeque<>();
    private final List<byte[]> accepted = new ArrayList<>();
    private final List<Integer> callSizes = new ArrayList<>();
    private int calls;

    FirehoseStandIn() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(executor); // a slow answer must not hold up the next call
        server.start();
    }

    synchronized FirehoseStandIn then(Reply reply) {
        script.add(reply);
        return this;
    }

    FirehoseClient client() {
        return client(Duration.ofSeconds(10));
    }

    /** A client whose attempts time out after {@code timeout}. */
    FirehoseClient client(Duration timeout) {
        return FirehoseClient.builder()
                .endpointOverride(URI.create("http://127.0.0.1:" + server.getAddress().getPort()))
                .region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("local", "local")))
                .overrideConfiguration(c -> c.retryStrategy(b -> b.maxAttempts(1)) // the pipeline retries
                        .apiCallAttemptTimeout(timeout))
                .build();
    }

    synchronized List<byte[]> accepted() {
        return List.copyOf(accepted);
    }

    synchronized int calls() {
        return calls;
    }

    synchronized List<Integer> callSizes() {
        return List.copyOf(callSizes);
    }

    /** Every accepted record's bytes, concatenated in order. */
    synchronized byte[] concatenated() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        accepted.forEach(out::writeBytes);
        return out.toByteArray();
    }

    private void handle(HttpExchange exchange) throws IOException {
        String target = exchange.getRequestHeaders().getFirst("X-Amz-Target");
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
            body = in.readAllBytes();
        }
        if ("Firehose_20150804.PutRecord".equals(target)) {
            List<byte[]> one = parse(body);
            synchronized (this) {
                calls++;
                callSizes.add(one.size());
                accepted.addAll(one);
            }
            respond(exchange, 200, "{\"RecordId\":\"r\",\"Encrypted\":false}");
            return;
        }
        if (!"Firehose_20150804.PutRecordBatch".equals(target)) {
            respond(exchange, 400, error("UnknownOperationException", "not served: " + target));
            return;
        }
        List<byte[]> records = parse(body);
        Reply reply;
        int callNumber;
        synchronized (this) {
            callNumber = ++calls;
            callSizes.add(records.size());
            reply = script.isEmpty() ? new Ok() : script.poll();
            notifyAll();
        }
        if (reply instanceof Drop) { // no answer at all: the connection is closed
            exchange.close();
            return;
        }
        if (reply instanceof Slow) {
            awaitCallAfter(callNumber);
        }
        if (reply instanceof Status s) {
            respond(exchange, s.code(), error(s.errorType(), "injected " + s.errorType()));
            return;
        }
        IntPredicate fail = reply instanceof FailRecords f ? f.which() : i -> false;
        StringBuilder out = new StringBuilder();
        int failed = 0;
        StringBuilder entries = new StringBuilder();
        for (int i = 0; i < records.size(); i++) {
            if (i > 0) {
                entries.append(',');
            }
            if (fail.test(i)) {
                failed++;
                entries.append("{\"ErrorCode\":\"ServiceUnavailableException\",\"ErrorMessage\":\"Slow down.\"}");
            } else {
                synchronized (this) {
                    accepted.add(records.get(i));
                }
                entries.append("{\"RecordId\":\"r-").append(i).append("\"}");
            }
        }
        out.append("{\"FailedPutCount\":").append(failed).append(",\"Encrypted\":false,\"RequestResponses\":[")
                .append(entries).append("]}");
        respond(exchange, 200, out.toString());
    }

    /** Waits (at most 30 s) until a call after {@code call} has arrived. */
    private synchronized void awaitCallAfter(int call) {
        long deadline = System.nanoTime() + 30_000_000_000L;
        try {
            while (calls <= call && System.nanoTime() < deadline) {
                wait(1_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String error(String type, String message) {
        return "{\"__type\":\"" + type + "\",\"message\":\"" + message + "\"}";
    }

    private static List<byte[]> parse(byte[] body) throws IOException {
        List<byte[]> records = new ArrayList<>();
        try (JsonParser p = JSON.createParser(body)) {
            while (p.nextToken() != null) {
                if (p.currentToken() == JsonToken.FIELD_NAME && "Data".equals(p.currentName())) {
                    p.nextToken();
                    records.add(Base64.getDecoder().decode(p.getText()));
                }
            }
        }
        return records;
    }

    private static void respond(HttpExchange exchange, int status, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/x-amz-json-1.1");
        if (status >= 400) {
            String type = json.substring(json.indexOf(":\"") + 2, json.indexOf("\","));
            exchange.getResponseHeaders().set("x-amzn-ErrorType", type);
        }
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
