package io.cdcfanout.local;

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
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;
import java.util.zip.GZIPOutputStream;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.firehose.FirehoseClient;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A Firehose stand-in on loopback, speaking the JSON 1.1 protocol of PutRecordBatch (and PutRecord) to
 * the real SDK client. It records every accepted record and answers from a script: per-record
 * failures, an HTTP error for the whole call, a dropped connection or a late answer. With
 * {@link #deliverTo} it also delivers what it accepts to S3 the way Firehose does: buffered by size and
 * interval, concatenated, gzip-compressed if asked, under {@code <prefix>YYYY/MM/DD/HH/}. Thread-safe.
 */
public final class LocalFirehose implements AutoCloseable {
    /** What the next call gets. */
    public sealed interface Reply permits Ok, FailRecords, Status, Drop, Slow {
    }

    public record Ok() implements Reply {
    }

    /** Accept the call but fail the records whose position matches. */
    public record FailRecords(IntPredicate which) implements Reply {
    }

    /** Answer the whole call with an HTTP status and an error type. */
    public record Status(int code, String errorType) implements Reply {
    }

    /** Close the connection without an answer, the records not taken. */
    public record Drop() implements Reply {
    }

    /**
     * Take the records but answer only once the next call has come in, that is, after the client
     * gave up waiting: a server under load.
     */
    public record Slow() implements Reply {
    }

    private static final JsonFactory JSON = new JsonFactory();

    static {
        // Without TCP_NODELAY each answer waits for the client's delayed ACK (about 40 ms).
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    private static final DateTimeFormatter PATH = DateTimeFormatter.ofPattern("yyyy/MM/dd/HH/");
    private static final DateTimeFormatter NAME = DateTimeFormatter.ofPattern("yyyy-MM-dd-HH-mm-ss");

    private final Object deliveryLock = new Object();
    private final Map<String, Pending> pending = new LinkedHashMap<>();
    private final List<String> deliveredKeys = new ArrayList<>();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "local-firehose-delivery");
        t.setDaemon(true);
        return t;
    });
    private Delivery delivery;
    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "local-firehose");
        t.setDaemon(true);
        return t;
    });
    private final Deque<Reply> script = new ArrayDeque<>();
    private final List<byte[]> accepted = new ArrayList<>();
    private final List<Integer> callSizes = new ArrayList<>();
    private int calls;

    /**
     * Starts the server.
     *
     * @throws IOException if it cannot bind a loopback port
     */
    public LocalFirehose() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(executor); // a slow answer must not hold up the next call
        server.start();
    }

    /** Queues the answer to a later call; calls with nothing queued get {@link Ok}. */
    public synchronized LocalFirehose then(Reply reply) {
        script.add(reply);
        return this;
    }

    /** A client of this server whose attempts time out after 10 s; it makes one attempt a call. */
    public FirehoseClient client() {
        return client(Duration.ofSeconds(10));
    }

    /** A client whose attempts time out after {@code timeout}. */
    public FirehoseClient client(Duration timeout) {
        return FirehoseClient.builder()
                .endpointOverride(URI.create("http://127.0.0.1:" + server.getAddress().getPort()))
                .region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("local", "local")))
                .overrideConfiguration(c -> c.retryStrategy(b -> b.maxAttempts(1)) // the pipeline retries
                        .apiCallAttemptTimeout(timeout))
                .build();
    }

    /** Every accepted record, in order. */
    public synchronized List<byte[]> accepted() {
        return List.copyOf(accepted);
    }

    /** PutRecordBatch and PutRecord calls so far. */
    public synchronized int calls() {
        return calls;
    }

    /** The record count of each call. */
    public synchronized List<Integer> callSizes() {
        return List.copyOf(callSizes);
    }

    /** Every accepted record's bytes, concatenated in order. */
    public synchronized byte[] concatenated() {
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
            String stream = streamName(body);
            one.forEach(r -> buffer(stream, r));
            respond(exchange, 200, "{\"RecordId\":\"r\",\"Encrypted\":false}");
            return;
        }
        if (!"Firehose_20150804.PutRecordBatch".equals(target)) {
            respond(exchange, 400, error("UnknownOperationException", "not served: " + target));
            return;
        }
        List<byte[]> records = parse(body);
        String stream = streamName(body);
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
                buffer(stream, records.get(i));
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

    /**
     * From now on, delivers accepted records to {@code bucket} as Firehose does: per delivery stream, an
     * object once {@code bufferBytes} have come in or the oldest record is {@code bufferInterval} old,
     * whichever is first. Keys are {@code <prefix>YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>}
     * (UTC arrival time) plus {@code .gz} when {@code gzip}. Failed deliveries are kept and tried again.
     */
    public LocalFirehose deliverTo(S3Client s3, String bucket, String prefix, int bufferBytes,
            Duration bufferInterval, boolean gzip) {
        Objects.requireNonNull(s3, "s3 must not be null");
        Objects.requireNonNull(bucket, "bucket must not be null");
        Objects.requireNonNull(prefix, "prefix must not be null");
        if (bufferBytes < 1) {
            throw new IllegalArgumentException("bufferBytes must be at least 1 (was " + bufferBytes + ")");
        }
        if (bufferInterval.isNegative() || bufferInterval.isZero()) {
            throw new IllegalArgumentException("bufferInterval must be positive (was " + bufferInterval + ")");
        }
        synchronized (deliveryLock) {
            delivery = new Delivery(s3, bucket, prefix, bufferBytes, bufferInterval, gzip);
            long tick = Math.max(10, Math.min(1000, bufferInterval.toMillis() / 4));
            timer.scheduleWithFixedDelay(() -> deliverDue(false), tick, tick, TimeUnit.MILLISECONDS);
        }
        return this;
    }

    /** Where and how records go to S3. */
    private record Delivery(S3Client s3, String bucket, String prefix, int bufferBytes, Duration interval,
            boolean gzip) {
    }

    /** One delivery stream's records not yet delivered. */
    private static final class Pending {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        long oldest;
    }

    private void buffer(String stream, byte[] record) {
        boolean full;
        synchronized (deliveryLock) {
            if (delivery == null) {
                return;
            }
            Pending p = pending.computeIfAbsent(stream, k -> new Pending());
            if (p.bytes.size() == 0) {
                p.oldest = System.nanoTime();
            }
            p.bytes.writeBytes(record);
            full = p.bytes.size() >= delivery.bufferBytes();
        }
        if (full) {
            deliverDue(false);
        }
    }

    /** Delivers every buffered record now. */
    public void flushDeliveries() {
        deliverDue(true);
    }

    /**
     * Waits until {@code count} objects have been delivered in all.
     *
     * @return whether they were, before the timeout
     */
    public boolean awaitDeliveries(int count, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (deliveryLock) {
            while (deliveredKeys.size() < count) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(deliveryLock, left);
            }
            return true;
        }
    }

    /** The S3 keys delivered so far, in order. */
    public List<String> deliveredKeys() {
        synchronized (deliveryLock) {
            return List.copyOf(deliveredKeys);
        }
    }

    private void deliverDue(boolean all) {
        synchronized (deliveryLock) {
            if (delivery == null) {
                return;
            }
            for (Map.Entry<String, Pending> e : pending.entrySet()) {
                Pending p = e.getValue();
                boolean due = p.bytes.size() > 0 && (all || p.bytes.size() >= delivery.bufferBytes()
                        || System.nanoTime() - p.oldest >= delivery.interval().toNanos());
                if (!due) {
                    continue;
                }
                ZonedDateTime now = ZonedDateTime.now(ZoneOffset.UTC);
                String key = delivery.prefix() + PATH.format(now) + e.getKey() + "-1-" + NAME.format(now) + "-"
                        + UUID.randomUUID() + (delivery.gzip() ? ".gz" : "");
                byte[] body = p.bytes.toByteArray();
                try {
                    if (delivery.gzip()) {
                        ByteArrayOutputStream z = new ByteArrayOutputStream();
                        try (GZIPOutputStream gz = new GZIPOutputStream(z)) {
                            gz.write(body);
                        }
                        body = z.toByteArray();
                    }
                    delivery.s3().putObject(b -> b.bucket(delivery.bucket()).key(key), RequestBody.fromBytes(body));
                } catch (IOException | RuntimeException ex) {
                    // Firehose retries delivery too; the records stay buffered for the next tick.
                    continue;
                }
                deliveredKeys.add(key);
                p.bytes.reset();
                deliveryLock.notifyAll();
            }
        }
    }

    private static String streamName(byte[] body) throws IOException {
        try (JsonParser p = JSON.createParser(body)) {
            while (p.nextToken() != null) {
                if (p.currentToken() == JsonToken.FIELD_NAME && "DeliveryStreamName".equals(p.currentName())) {
                    p.nextToken();
                    return p.getText();
                }
            }
        }
        return "unknown";
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
        flushDeliveries();
        timer.shutdownNow();
    }
}
