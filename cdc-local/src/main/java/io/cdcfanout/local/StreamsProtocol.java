package io.cdcfanout.local;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The DynamoDB Streams API (JSON 1.0, {@code X-Amz-Target: DynamoDBStreams_20120810.<Operation>}) over
 * a {@link SimulatedStream}: ListStreams, DescribeStream, GetShardIterator, GetRecords, with the
 * service's limits and failures on the virtual clock. A reader is the access key that signed the
 * request, so each process (each client with its own key) counts once however many iterators it opens.
 */
final class StreamsProtocol implements HttpHandler {
    private static final JsonFactory JSON = new JsonFactory();
    private static final String ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#";

    /** A failure the API answers with: HTTP status, error code, message. */
    private static final class ApiError extends Exception {
        private static final long serialVersionUID = 1L;
        final int status;
        final String code;

        ApiError(int status, String code, String message) {
            super(message, null, false, false);
            this.status = status;
            this.code = code;
        }
    }

    /** One GetRecords call on a shard: who, when. For the two-reader rule and the test's checks. */
    record Read(String shardId, String reader, Instant at, long realNanos) {
    }

    private final SimulatedStream stream;
    private final Clock clock;
    private final StreamSimulator.Builder config;
    private final Random random;
    private final Map<String, Map<String, Instant>> readersByShard = new ConcurrentHashMap<>();
    private final Map<String, long[]> callsThisSecond = new ConcurrentHashMap<>();
    private final List<Read> reads = new java.util.concurrent.CopyOnWriteArrayList<>();
    final AtomicLong throttled = new AtomicLong();
    final AtomicLong refusedThirdReader = new AtomicLong();
    final AtomicLong expiredIterators = new AtomicLong();
    final AtomicLong trimmedAccesses = new AtomicLong();
    final AtomicLong emptyPages = new AtomicLong();
    final AtomicLong serverErrors = new AtomicLong();
    final AtomicLong getRecordsCalls = new AtomicLong();

    StreamsProtocol(SimulatedStream stream, Clock clock, StreamSimulator.Builder config) {
        this.stream = stream;
        this.clock = clock;
        this.config = config;
        this.random = new Random(config.seed ^ 0x5DEECE66DL);
    }

    List<Read> reads() {
        return List.copyOf(reads);
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            byte[] body = exchange.getRequestBody().readAllBytes();
            String target = exchange.getRequestHeaders().getFirst("X-Amz-Target");
            String reader = accessKey(exchange.getRequestHeaders().getFirst("Authorization"));
            byte[] answer;
            int status = 200;
            try {
                Map<String, Object> request = parse(body);
                String op = target == null ? "" : target.substring(target.indexOf('.') + 1);
                answer = switch (op) {
                    case "ListStreams" -> listStreams();
                    case "DescribeStream" -> describeStream(request);
                    case "GetShardIterator" -> getShardIterator(request, reader);
                    case "GetRecords" -> getRecords(request, reader);
                    default -> throw new ApiError(400, "UnknownOperationException", "unknown operation " + target);
                };
            } catch (ApiError e) {
                status = e.status;
                answer = error(e.code, e.getMessage());
            }
            exchange.getResponseHeaders().set("Content-Type", "application/x-amz-json-1.0");
            exchange.getResponseHeaders().set("x-amzn-RequestId", Long.toHexString(random.nextLong()));
            exchange.sendResponseHeaders(status, answer.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(answer);
            }
        }
    }

    private static String accessKey(String authorization) {
        if (authorization == null) {
            return "anonymous";
        }
        int at = authorization.indexOf("Credential=");
        if (at < 0) {
            return "anonymous";
        }
        int end = authorization.indexOf('/', at);
        return end < 0 ? authorization.substring(at + 11) : authorization.substring(at + 11, end);
    }

    // ------------------------------------------------------------------ operations

    private byte[] listStreams() throws IOException {
        return write(g -> {
            g.writeArrayFieldStart("Streams");
            g.writeStartObject();
            g.writeStringField("StreamArn", stream.streamArn);
            g.writeStringField("TableName", stream.table);
            g.writeStringField("StreamLabel", label());
            g.writeEndObject();
            g.writeEndArray();
        });
    }

    private String label() {
        return stream.streamArn.substring(stream.streamArn.lastIndexOf('/') + 1);
    }

    private byte[] describeStream(Map<String, Object> request) throws IOException, ApiError {
        checkArn(request);
        maybeServerError();
        int limit = request.get("Limit") instanceof Number n ? n.intValue() : 100;
        String after = (String) request.get("ExclusiveStartShardId");
        List<SimulatedStream.Shard> all = stream.shards();
        int start = 0;
        if (after != null) {
            for (int i = 0; i < all.size(); i++) {
                if (all.get(i).id.equals(after)) {
                    start = i + 1;
                }
            }
        }
        List<SimulatedStream.Shard> page = all.subList(start, Math.min(all.size(), start + limit));
        boolean more = start + limit < all.size();
        return write(g -> {
            g.writeObjectFieldStart("StreamDescription");
            g.writeStringField("StreamArn", stream.streamArn);
            g.writeStringField("StreamLabel", label());
            g.writeStringField("StreamStatus", "ENABLED");
            g.writeStringField("StreamViewType", "NEW_AND_OLD_IMAGES");
            g.writeStringField("TableName", stream.table);
            g.writeArrayFieldStart("KeySchema");
            for (int i = 0; i < stream.keyNames.size(); i++) {
                g.writeStartObject();
                g.writeStringField("AttributeName", stream.keyNames.get(i));
                g.writeStringField("KeyType", i == 0 ? "HASH" : "RANGE");
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("Shards");
            for (SimulatedStream.Shard s : page) {
                g.writeStartObject();
                g.writeStringField("ShardId", s.id);
                if (s.parentId != null) {
                    g.writeStringField("ParentShardId", s.parentId);
                }
                g.writeObjectFieldStart("SequenceNumberRange");
                g.writeStringField("StartingSequenceNumber", s.startingSeq);
                synchronized (stream) {
                    if (s.closed != null && s.endingSeq != null) {
                        g.writeStringField("EndingSequenceNumber", s.endingSeq);
                    }
                }
                g.writeEndObject();
                g.writeEndObject();
            }
            g.writeEndArray();
            if (more) {
                g.writeStringField("LastEvaluatedShardId", page.get(page.size() - 1).id);
            }
            g.writeEndObject();
        });
    }

    private void checkArn(Map<String, Object> request) throws ApiError {
        if (!stream.streamArn.equals(request.get("StreamArn"))) {
            throw new ApiError(400, "ResourceNotFoundException", "Requested resource not found: Stream: "
                    + request.get("StreamArn") + " not found");
        }
    }

    private SimulatedStream.Shard shard(String id) throws ApiError {
        SimulatedStream.Shard s = id == null ? null : stream.shard(id);
        if (s == null) {
            throw new ApiError(400, "ResourceNotFoundException", "Requested resource not found: Shard does not exist");
        }
        return s;
    }

    private byte[] getShardIterator(Map<String, Object> request, String reader) throws IOException, ApiError {
        checkArn(request);
        maybeServerError();
        SimulatedStream.Shard s = shard((String) request.get("ShardId"));
        String type = String.valueOf(request.get("ShardIteratorType"));
        String seq = (String) request.get("SequenceNumber");
        int index;
        synchronized (stream) {
            switch (type) {
                case "TRIM_HORIZON" -> index = s.trimmed;
                case "LATEST" -> index = s.size();
                case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER" -> {
                    if (seq == null) {
                        throw new ApiError(400, "ValidationException", "SequenceNumber is required for " + type);
                    }
                    boolean after = type.startsWith("AFTER");
                    if (stream.trimmedAway(s, seq, after)) {
                        trimmedAccesses.incrementAndGet();
                        throw new ApiError(400, "TrimmedDataAccessException", "The operation attempted to read "
                                + "past the oldest stream record in a shard.");
                    }
                    index = stream.indexOf(s, seq, after);
                }
                default -> throw new ApiError(400, "ValidationException", "invalid ShardIteratorType " + type);
            }
        }
        String iterator = iterator(s.id, index, reader);
        return write(g -> g.writeStringField("ShardIterator", iterator));
    }

    private String iterator(String shardId, int index, String reader) {
        String raw = shardId + "|" + index + "|" + clock.millis() + "|" + reader + "|" + random.nextInt();
        return Base64.getUrlEncoder().withoutPadding().encodeToString(raw.getBytes(StandardCharsets.UTF_8));
    }

    private byte[] getRecords(Map<String, Object> request, String reader) throws IOException, ApiError {
        getRecordsCalls.incrementAndGet();
        String token = (String) request.get("ShardIterator");
        String[] parts;
        try {
            parts = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8).split("\\|");
        } catch (RuntimeException e) {
            throw new ApiError(400, "ValidationException", "Invalid ShardIterator");
        }
        if (parts.length < 4) {
            throw new ApiError(400, "ValidationException", "Invalid ShardIterator");
        }
        String shardId = parts[0];
        int index = Integer.parseInt(parts[1]);
        long issued = Long.parseLong(parts[2]);
        Instant now = clock.instant();
        if (now.toEpochMilli() - issued > config.iteratorLifetime.toMillis()) {
            expiredIterators.incrementAndGet();
            throw new ApiError(400, "ExpiredIteratorException", "Iterator expired. The iterator was created at "
                    + Instant.ofEpochMilli(issued) + " but used at " + now);
        }
        throttle(shardId, reader, now);
        maybeServerError();
        SimulatedStream.Shard s = shard(shardId);
        int limit = request.get("Limit") instanceof Number n ? Math.min(1000, Math.max(1, n.intValue())) : 1000;
        List<SimulatedStream.Rec> page;
        boolean atEnd;
        int next;
        synchronized (stream) {
            stream.catchUp();
            if (index < s.trimmed) {
                trimmedAccesses.incrementAndGet();
                throw new ApiError(400, "TrimmedDataAccessException", "The operation attempted to read past the "
                        + "oldest stream record in a shard.");
            }
            boolean empty = config.emptyPageProbability > 0 && random.nextDouble() < config.emptyPageProbability;
            page = empty ? List.of() : stream.read(s, index, limit, config.maxPageBytes);
            if (empty) {
                emptyPages.incrementAndGet();
            }
            next = index + page.size();
            atEnd = s.closed != null && next >= s.size();
        }
        reads.add(new Read(shardId, reader, now, System.nanoTime()));
        String nextIterator = atEnd ? null : iterator(shardId, next, reader);
        return write(g -> {
            g.writeArrayFieldStart("Records");
            for (SimulatedStream.Rec r : page) {
                record(g, r);
            }
            g.writeEndArray();
            if (nextIterator != null) {
                g.writeStringField("NextShardIterator", nextIterator);
            }
        });
    }

    /**
     * LimitExceededException when a third reader calls within the reader window, when a shard's calls in
     * one second pass the limit, or by the seeded throttle probability.
     */
    private void throttle(String shardId, String reader, Instant now) throws ApiError {
        Map<String, Instant> readers = readersByShard.computeIfAbsent(shardId, k -> new ConcurrentHashMap<>());
        synchronized (readers) {
            readers.values().removeIf(at -> at.isBefore(now.minus(config.readerWindow)));
            if (!readers.containsKey(reader) && readers.size() >= 2) {
                refusedThirdReader.incrementAndGet();
                throttled.incrementAndGet();
                throw new ApiError(400, "LimitExceededException", "Rate exceeded for shard " + shardId
                        + ": more than two processes are reading it");
            }
            readers.put(reader, now);
        }
        if (config.maxCallsPerShardPerSecond > 0) {
            long second = now.getEpochSecond();
            long[] window = callsThisSecond.computeIfAbsent(shardId, k -> new long[2]);
            synchronized (window) {
                if (window[0] != second) {
                    window[0] = second;
                    window[1] = 0;
                }
                if (++window[1] > config.maxCallsPerShardPerSecond) {
                    throttled.incrementAndGet();
                    throw new ApiError(400, "LimitExceededException", "Rate exceeded for shard " + shardId);
                }
            }
        }
        synchronized (random) {
            if (config.throttleProbability > 0 && random.nextDouble() < config.throttleProbability) {
                throttled.incrementAndGet();
                throw new ApiError(400, "LimitExceededException", "Rate exceeded for shard " + shardId);
            }
        }
    }

    private void maybeServerError() throws ApiError {
        synchronized (random) {
            if (config.serverErrorProbability > 0 && random.nextDouble() < config.serverErrorProbability) {
                serverErrors.incrementAndGet();
                throw new ApiError(500, "InternalServerError", "simulated internal server error");
            }
        }
    }

    private void record(JsonGenerator g, SimulatedStream.Rec r) throws IOException {
        g.writeStartObject();
        g.writeStringField("eventID", r.eventId());
        g.writeStringField("eventName", r.eventName());
        g.writeStringField("eventVersion", "1.1");
        g.writeStringField("eventSource", "aws:dynamodb");
        g.writeStringField("awsRegion", stream.region);
        g.writeObjectFieldStart("dynamodb");
        // Epoch seconds, as the service sends them (a decimal number).
        g.writeNumberField("ApproximateCreationDateTime", r.created().getEpochSecond());
        g.writeFieldName("Keys");
        AttributeJson.map(g, r.keys());
        if (r.newImage() != null) {
            g.writeFieldName("NewImage");
            AttributeJson.map(g, r.newImage());
        }
        if (r.oldImage() != null) {
            g.writeFieldName("OldImage");
            AttributeJson.map(g, r.oldImage());
        }
        g.writeStringField("SequenceNumber", r.seq());
        g.writeNumberField("SizeBytes", r.sizeBytes());
        g.writeStringField("StreamViewType", "NEW_AND_OLD_IMAGES");
        g.writeEndObject();
        if (r.ttl()) {
            g.writeObjectFieldStart("userIdentity");
            g.writeStringField("type", "Service");
            g.writeStringField("principalId", "dynamodb.amazonaws.com");
            g.writeEndObject();
        }
        g.writeEndObject();
    }

    // ------------------------------------------------------------------ JSON

    private interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    private static byte[] write(Body body) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            body.write(g);
            g.writeEndObject();
        }
        return out.toByteArray();
    }

    private static byte[] error(String code, String message) throws IOException {
        return write(g -> {
            g.writeStringField("__type", ERROR_PREFIX + code);
            g.writeStringField("message", message);
        });
    }

    /** The request's top-level scalar fields. */
    private static Map<String, Object> parse(byte[] body) throws IOException, ApiError {
        Map<String, Object> fields = new HashMap<>();
        if (body.length == 0) {
            return fields;
        }
        try (JsonParser p = JSON.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new ApiError(400, "SerializationException", "the request body is not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken t = p.nextToken();
                if (t == JsonToken.VALUE_STRING) {
                    fields.put(name, p.getText());
                } else if (t == JsonToken.VALUE_NUMBER_INT) {
                    fields.put(name, p.getLongValue());
                } else if (t.isStructStart()) {
                    p.skipChildren();
                }
            }
        }
        return fields;
    }

    /** A duration for messages. */
    static String describe(Duration d) {
        return d.toString();
    }
}
