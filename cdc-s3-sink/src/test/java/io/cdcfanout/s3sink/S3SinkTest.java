package io.cdcfanout.s3sink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.FlushCause;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.EventSerializer;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.local.LocalS3;
import io.cdcfanout.local.WireFaults;
import io.cdcfanout.testkit.ManualClock;
import io.cdcfanout.testkit.ManualScheduler;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import io.cdcfanout.testkit.RecordingListener;
import io.cdcfanout.testkit.TestEvents;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;

/** The S3 sink against s3proxy on loopback, through the real SDK client. */
class S3SinkTest {
    private static final JsonLinesSerializer JSON_LINES = JsonLinesSerializer.plain();
    private static final Instant T0 = Instant.parse("2026-11-24T19:59:58Z");

    private static LocalS3 s3;
    private static int buckets;

    private final RecordingListener listener = new RecordingListener();
    private final RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();

    @BeforeAll
    static void start() throws Exception {
        s3 = new LocalS3();
    }

    @AfterAll
    static void stop() {
        s3.close();
    }

    private static synchronized String newBucket() {
        return s3.bucket("archive-" + ++buckets);
    }

    /** {@code n} invoices on one shard, one a second from {@code start}, sequence numbers from {@code seq}. */
    private static List<ChangeEvent<Map<String, Object>>> invoices(String shard, long seq, int n, Instant start,
            int noteBytes) {
        ManualClock clock = new ManualClock(start);
        TestEvents events = TestEvents.forTable("Invoices", "id").shard(shard).nextSequence(seq).clock(clock);
        List<ChangeEvent<Map<String, Object>>> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(events.insert("inv-" + shard + "-" + (seq + i), Map.of("amount", i, "note",
                    "n".repeat(noteBytes))));
            clock.advance(Duration.ofSeconds(1));
        }
        return list;
    }

    private static S3Sink.Builder sink(String bucket) {
        return S3Sink.builder().client(s3.client()).bucket(bucket).prefix("archive").serializer(JSON_LINES);
    }

    private Pipeline<Map<String, Object>> pipeline(S3Sink sink, BufferPolicy buffer) {
        return Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("archive").sink(sink).buffer(buffer)
                        .retry(RetryPolicy.builder().initialBackoff(Duration.ofMillis(1)).maxAttempts(5).build())
                        .build())
                .listener(listener).deadLetterSink(deadLetters).build();
    }

    private static BufferPolicy large() {
        return BufferPolicy.builder().maxEvents(100_000).maxBytes(1L << 40).capacity(100_000).build();
    }

    /** Each object's lines (gunzipped when gzip), by key. */
    private static TreeMap<String, List<String>> lines(TreeMap<String, byte[]> objects) {
        TreeMap<String, List<String>> all = new TreeMap<>();
        objects.forEach((key, bytes) -> all.put(key, LocalS3.lines(key, bytes)));
        return all;
    }

    private static String line(ChangeEvent<?> e) {
        String s = new String(JSON_LINES.toBytes(e), StandardCharsets.UTF_8);
        return s.substring(0, s.length() - 1);
    }

    /** Every line of the archive, checking that none is there twice. */
    private static List<String> archived(TreeMap<String, byte[]> objects) {
        List<String> all = new ArrayList<>();
        lines(objects).values().forEach(all::addAll);
        assertEquals(all.size(), Set.copyOf(all).size(), "an event is archived twice");
        return all;
    }

    private BatchResult<Map<String, Object>> deliver(Pipeline<Map<String, Object>> p,
            List<ChangeEvent<Map<String, Object>>> events) {
        var done = p.submit(events);
        p.flush().join();
        return done.join();
    }

    @Test
    void objectsReadBackAsTheEventsUnderHivePartitionsOfTableDayAndHour() {
        String bucket = newBucket();
        List<ChangeEvent<Map<String, Object>>> a = invoices("shardId-0001-aa", 100, 4, T0, 20);
        List<ChangeEvent<Map<String, Object>>> b = invoices("shardId-0002-bb", 500, 3, T0, 20);
        List<ChangeEvent<Map<String, Object>>> all = new ArrayList<>(a);
        all.addAll(b);
        try (Pipeline<Map<String, Object>> p = pipeline(sink(bucket).build(), large())) {
            assertTrue(deliver(p, all).succeeded());
        }
        TreeMap<String, byte[]> objects = s3.contents(bucket);
        // 19:59:58 and :59 fall in hour 19, the rest in hour 20; shards never share an object.
        assertEquals(Set.of(
                "archive/table=Invoices/dt=2026-11-24/hour=19/shardId-0001-aa-100-101.jsonl.gz",
                "archive/table=Invoices/dt=2026-11-24/hour=20/shardId-0001-aa-102-103.jsonl.gz",
                "archive/table=Invoices/dt=2026-11-24/hour=19/shardId-0002-bb-500-501.jsonl.gz",
                "archive/table=Invoices/dt=2026-11-24/hour=20/shardId-0002-bb-502-502.jsonl.gz"),
                objects.keySet());
        TreeMap<String, List<String>> lines = lines(objects);
        assertEquals(List.of(line(a.get(0)), line(a.get(1))),
                lines.get("archive/table=Invoices/dt=2026-11-24/hour=19/shardId-0001-aa-100-101.jsonl.gz"));
        assertEquals(List.of(line(b.get(2))),
                lines.get("archive/table=Invoices/dt=2026-11-24/hour=20/shardId-0002-bb-502-502.jsonl.gz"));
        assertEquals(all.size(), archived(objects).size());

        S3Client client = s3.client();
        HeadObjectResponse head = client.headObject(h -> h.bucket(bucket).key(objects.firstKey()));
        assertEquals("application/x-ndjson", head.contentType());
        assertEquals("gzip", head.contentEncoding());
        assertEquals(4, listener.count("archive.sink.s3.objects"));
        assertEquals(4, listener.count("archive.sink.s3.puts"));
        assertEquals(4, listener.count("archive.sink.s3.lists"), "one LIST per partition and shard");
        long stored = objects.values().stream().mapToLong(o -> o.length).sum();
        assertEquals(stored, listener.count("archive.sink.s3.bytes"));
    }

    /**
     * Regression: byte triggers counted DynamoDB's SizeBytes, not the serialized lines: maxBytes 1 MiB
     * with 100-byte SizeBytes and 10 KB lines wrote one object of 10 MB.
     */
    @Test
    void maxBytesCountsTheSerializedLinesNotDynamoDbSizeBytes() {
        String bucket = newBucket();
        ManualClock clock = new ManualClock(Instant.parse("2026-11-24T10:00:00Z"));
        TestEvents make = TestEvents.forTable("Invoices", "id").shard("shardId-0001").nextSequence(1).clock(clock)
                .sizeBytes(100);
        List<ChangeEvent<Map<String, Object>>> events = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            events.add(make.insert("inv-" + i, Map.of("note", "n".repeat(10_000))));
        }
        S3Sink sink = sink(bucket).compression(Compression.NONE).build();
        assertEquals(JSON_LINES.toBytes(events.get(0)).length, sink.estimateSize(events.get(0)));
        long maxBytes = 1L << 20;
        try (Pipeline<Map<String, Object>> p = pipeline(sink, BufferPolicy.builder().maxEvents(100_000)
                .maxBytes(maxBytes).maxAge(Duration.ofHours(1)).capacity(100_000).build())) {
            assertTrue(deliver(p, events).succeeded());
        }
        TreeMap<String, byte[]> objects = s3.contents(bucket);
        assertTrue(objects.size() >= 3, "about 3 MB in objects of at most 1 MiB: " + objects.keySet());
        long line = JSON_LINES.toBytes(events.get(0)).length;
        objects.forEach((key, bytes) -> assertTrue(bytes.length <= maxBytes + line, key + " holds " + bytes.length));
        assertEquals(300, archived(objects).size());
    }

    /** Regression: a sink closed by its pipeline failed obscurely when written again (its own client closed). */
    @Test
    void aClosedSinkRefusesWritesNamingItself() {
        String bucket = newBucket();
        S3Sink sink = sink(bucket).build();
        try (Pipeline<Map<String, Object>> p = pipeline(sink, large())) {
            assertTrue(deliver(p, invoices("shardId-0001", 1, 2, T0, 10)).succeeded());
        }
        io.cdcfanout.api.sink.SinkUnavailableException refused = org.junit.jupiter.api.Assertions.assertThrows(
                io.cdcfanout.api.sink.SinkUnavailableException.class, () -> sink.write(
                        io.cdcfanout.api.sink.SinkBatch.of("archive", 1, invoices("shardId-0001", 3, 1, T0, 10))));
        assertEquals("the S3 sink of bucket '" + bucket + "' is closed: a pipeline closes its sinks when it closes; "
                + "build a new sink for a new pipeline", refused.getMessage());
    }

    @Test
    void uncompressedObjectsArePlainJsonLinesWithoutContentEncoding() {
        String bucket = newBucket();
        List<ChangeEvent<Map<String, Object>>> events = invoices("shardId-0001", 7, 3, T0.plusSeconds(10), 10);
        try (Pipeline<Map<String, Object>> p = pipeline(sink(bucket).compression(Compression.NONE)
                .partitioner(Partitioner.byTableAndDay()).build(), large())) {
            assertTrue(deliver(p, events).succeeded());
        }
        String key = "archive/table=Invoices/dt=2026-11-24/shardId-0001-7-9.jsonl";
        TreeMap<String, byte[]> objects = s3.contents(bucket);
        assertEquals(Set.of(key), objects.keySet());
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        events.forEach(e -> expected.writeBytes(JSON_LINES.toBytes(e)));
        assertArrayEquals(expected.toByteArray(), objects.get(key));
        HeadObjectResponse head = s3.client().headObject(h -> h.bucket(bucket).key(key));
        assertEquals(null, head.contentEncoding());
        assertEquals("application/x-ndjson", head.contentType());
    }

    /** The buffer triggers that cut objects: count, bytes, and age driven by a manual clock. */
    enum Trigger {
        COUNT, BYTES, AGE
    }

    @ParameterizedTest
    @EnumSource(Trigger.class)
    void objectsRotateOnEachBufferTrigger(Trigger trigger) {
        String bucket = newBucket();
        ManualClock clock = new ManualClock(T0.plusSeconds(5));
        ManualScheduler scheduler = new ManualScheduler(clock);
        BufferPolicy.Builder buffer = BufferPolicy.builder().capacity(1000).maxEvents(1000).maxBytes(1L << 40)
                .maxAge(Duration.ofHours(1));
        switch (trigger) {
            case COUNT -> buffer.maxEvents(10);
            case BYTES -> buffer.maxBytes(10 * 100);
            case AGE -> buffer.maxAge(Duration.ofSeconds(5));
            default -> throw new AssertionError(trigger);
        }
        TestEvents source = TestEvents.forTable("Invoices", "id").shard("shardId-0001").nextSequence(1000)
                .clock(clock).sizeBytes(100);
        List<ChangeEvent<Map<String, Object>>> events = new ArrayList<>();
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder().clock(clock)
                .scheduler(scheduler).executor(Runnable::run)
                .route(Route.<Map<String, Object>>builder("archive").sink(sink(bucket).build())
                        .buffer(buffer.build()).build())
                .listener(listener).deadLetterSink(deadLetters).build()) {
            for (int i = 0; i < 30; i++) {
                ChangeEvent<Map<String, Object>> e = source.insert("inv-" + i, Map.of("amount", i));
                events.add(e);
                p.submit(List.of(e));
                scheduler.advance(Duration.ofSeconds(1));
            }
            p.flush().join();
        }
        TreeMap<String, List<String>> objects = lines(s3.contents(bucket));
        FlushCause cause = switch (trigger) {
            case COUNT -> FlushCause.COUNT;
            case BYTES -> FlushCause.BYTES;
            case AGE -> FlushCause.AGE;
        };
        long byTrigger = listener.flushes().stream().filter(f -> f.cause() == cause).count();
        assertTrue(byTrigger >= 2, "the trigger cut objects: " + listener.flushes());
        assertEquals(listener.flushes().stream().filter(f -> f.events() > 0).count(), objects.size(),
                "one object per flush");
        // Objects hold consecutive runs of the shard, named by their first and last sequence numbers.
        int next = 0;
        for (Map.Entry<String, List<String>> o : objects.entrySet()) {
            List<String> lines = o.getValue();
            assertEquals(events.subList(next, next + lines.size()).stream().map(S3SinkTest::line).toList(), lines);
            String first = events.get(next).position().sequenceNumber();
            String last = events.get(next + lines.size() - 1).position().sequenceNumber();
            assertTrue(o.getKey().endsWith("/shardId-0001-" + first + "-" + last + ".jsonl.gz"), o.getKey());
            next += lines.size();
        }
        assertEquals(30, next);
    }

    @Test
    void aReplayFromAnyCheckpointWithOtherFlushPointsLeavesTheSameKeysAndBytes() {
        String bucket = newBucket();
        List<ChangeEvent<Map<String, Object>>> shardA = invoices("shardId-0001", 1000, 100, T0.minusSeconds(60), 30);
        List<ChangeEvent<Map<String, Object>>> shardB = invoices("shardId-0002", 7000, 100, T0.minusSeconds(40), 30);

        // The first run flushes (as a timer would) at uneven points.
        try (Pipeline<Map<String, Object>> p = pipeline(sink(bucket).build(), large())) {
            feed(p, shardA, shardB, 0, 100, 7, 30, 31, 64);
        }
        TreeMap<String, byte[]> before = s3.contents(bucket);
        assertEquals(200, archived(before).size());

        // Restarts (a new sink, so nothing is remembered) from checkpoints inside objects, and from the
        // start, with flushes at other points: nothing is written, nothing changes.
        int[][] replays = {{20, 45, 90}, {0, 13, 26, 39, 52, 65, 78, 91}, {63, 64, 65}, {99}};
        for (int[] replay : replays) {
            RecordingListener l = new RecordingListener();
            try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder()
                    .route(Route.<Map<String, Object>>builder("archive").sink(sink(bucket).build()).buffer(large())
                            .build())
                    .listener(l).build()) {
                feed(p, shardA, shardB, replay[0], 100, java.util.Arrays.copyOfRange(replay, 1, replay.length));
            }
            TreeMap<String, byte[]> after = s3.contents(bucket);
            assertEquals(before.keySet(), after.keySet(), "replay from " + replay[0]);
            before.forEach((k, v) -> assertArrayEquals(v, after.get(k), k));
            assertEquals(0, l.count("archive.sink.s3.puts"), "a replay writes nothing");
            assertEquals(2L * (100 - replay[0]), l.count("archive.sink.s3.skipped"));
        }

        // A replay that runs on past the old end adds only the new events, once.
        List<ChangeEvent<Map<String, Object>>> longerA = invoices("shardId-0001", 1000, 130, T0.minusSeconds(60), 30);
        List<ChangeEvent<Map<String, Object>>> longerB = invoices("shardId-0002", 7000, 130, T0.minusSeconds(40), 30);
        try (Pipeline<Map<String, Object>> p = pipeline(sink(bucket).build(), large())) {
            feed(p, longerA, longerB, 50, 130, 80, 110);
        }
        TreeMap<String, byte[]> grown = s3.contents(bucket);
        before.forEach((k, v) -> assertArrayEquals(v, grown.get(k), k));
        List<String> lines = archived(grown);
        assertEquals(260, lines.size());
        assertTrue(lines.containsAll(longerA.stream().map(S3SinkTest::line).toList()));
    }

    /** Submits events {@code from} to {@code to} of both shards, interleaved, flushing after the given indexes. */
    private static void feed(Pipeline<Map<String, Object>> p, List<ChangeEvent<Map<String, Object>>> a,
            List<ChangeEvent<Map<String, Object>>> b, int from, int to, int... flushAfter) {
        List<java.util.concurrent.CompletableFuture<BatchResult<Map<String, Object>>>> done = new ArrayList<>();
        int f = 0;
        for (int i = from; i < to; i++) {
            done.add(p.submit(List.of(a.get(i), b.get(i))));
            if (f < flushAfter.length && flushAfter[f] == i + 1) {
                p.flush().join();
                f++;
            }
        }
        p.flush().join();
        done.forEach(d -> assertTrue(d.join().succeeded(), d.join().toString()));
    }

    @Test
    void largeObjectsGoUpInPartsOfAtLeastFiveMebibytes() {
        String bucket = newBucket();
        List<String> requests = new CopyOnWriteArrayList<>();
        ExecutionInterceptor recorder = new ExecutionInterceptor() {
            @Override
            public void beforeTransmission(Context.BeforeTransmission context, ExecutionAttributes attributes) {
                var r = context.httpRequest();
                requests.add(r.method() + " " + r.encodedPath() + " " + r.rawQueryParameters().keySet());
            }
        };
        S3Sink sink = S3Sink.builder().client(s3.client(recorder)).bucket(bucket).serializer(JSON_LINES)
                .compression(Compression.NONE).multipartThreshold(S3Sink.MIN_PART_SIZE).partSize(S3Sink.MIN_PART_SIZE)
                .build();
        List<ChangeEvent<Map<String, Object>>> events = invoices("shardId-0001", 1, 120, T0.plusSeconds(5), 100_000);
        try (Pipeline<Map<String, Object>> p = pipeline(sink, large())) {
            assertTrue(deliver(p, events).succeeded());
        }
        TreeMap<String, byte[]> objects = s3.contents(bucket);
        assertEquals(1, objects.size());
        byte[] stored = objects.firstEntry().getValue();
        assertTrue(stored.length > 2 * S3Sink.MIN_PART_SIZE, "three parts: " + stored.length);
        assertEquals(events.stream().map(S3SinkTest::line).toList(), lines(objects).firstEntry().getValue());
        List<String> parts = requests.stream().filter(r -> r.contains("partNumber")).toList();
        assertEquals(3, parts.size(), requests.toString());
        assertEquals(5, listener.count("archive.sink.s3.puts"), "create, three parts, complete");
        assertTrue(s3.client().listMultipartUploads(l -> l.bucket(bucket)).uploads().isEmpty());
    }

    @Test
    void slowDownAndDroppedConnectionsLoseNothingAndLeaveNoPartialObject() throws Exception {
        String bucket = newBucket();
        try (WireFaults proxy = new WireFaults(java.net.URI.create("http://127.0.0.1:" + s3.port()))) {
            // Three SlowDowns exhaust the SDK's own attempts, so the pipeline retries the object too.
            proxy.inject(r -> r.method().equals("PUT") && !r.target().contains("uploadId"),
                            WireFaults.Fault.s3Xml(503, "SlowDown"), 3)
                    .inject(r -> r.method().equals("PUT") && r.target().contains("partNumber=2"),
                            new WireFaults.Fault.DropBeforeApply(), 1)
                    .inject(r -> r.method().equals("PUT") && r.target().contains("partNumber=3"),
                            WireFaults.Fault.s3Xml(500, "InternalError"), 3);
            S3Sink sink = S3Sink.builder().client(s3.client(proxy.endpoint().getPort())).bucket(bucket)
                    .serializer(JSON_LINES)
                    .compression(Compression.NONE).multipartThreshold(S3Sink.MIN_PART_SIZE)
                    .partSize(S3Sink.MIN_PART_SIZE).build();
            List<ChangeEvent<Map<String, Object>>> small = invoices("shardId-0001", 1, 5, T0.plusSeconds(5), 10);
            List<ChangeEvent<Map<String, Object>>> large = invoices("shardId-0002", 1, 120, T0.plusSeconds(5),
                    100_000);
            try (Pipeline<Map<String, Object>> p = pipeline(sink, large())) {
                assertTrue(deliver(p, small).succeeded());
                assertTrue(deliver(p, large).succeeded());
            }
            assertEquals(7, proxy.faulted().size(), proxy.faulted().toString());
            assertTrue(proxy.requestLines().stream().anyMatch(r -> r.startsWith("DELETE ") && r.contains("uploadId")),
                    "the failed multipart upload was aborted: " + proxy.requestLines());
            TreeMap<String, byte[]> objects = s3.contents(bucket);
            assertEquals(2, objects.size(), objects.keySet().toString());
            List<String> lines = archived(objects);
            List<String> expected = new ArrayList<>();
            small.forEach(e -> expected.add(line(e)));
            large.forEach(e -> expected.add(line(e)));
            assertEquals(Set.copyOf(expected), Set.copyOf(lines));
            assertTrue(s3.client().listMultipartUploads(l -> l.bucket(bucket)).uploads().isEmpty(),
                    "no incomplete upload is left");
            assertTrue(listener.count("archive.retries") >= 2, "the pipeline retried both objects");
            assertEquals(0, deadLetters.letters().size());
        }
    }

    @Test
    void aMissingBucketHaltsTheRouteWithAMessageNamingIt() {
        S3Sink sink = S3Sink.builder().client(s3.client()).bucket("no-such-bucket").serializer(JSON_LINES).build();
        List<ChangeEvent<Map<String, Object>>> events = invoices("shardId-0001", 1, 3, T0, 10);
        try (Pipeline<Map<String, Object>> p = pipeline(sink, large())) {
            BatchResult<Map<String, Object>> result = deliver(p, events);
            assertFalse(result.succeeded());
            String reason = p.haltReason("archive").orElseThrow();
            assertTrue(reason.contains("S3 bucket 'no-such-bucket' cannot take objects: NoSuchBucket"), reason);
            assertEquals(List.of("archive"), listener.halts());
            assertEquals(0, deadLetters.letters().size(), "nothing is dead-lettered for a missing bucket");
        }
    }

    @Test
    void encryptionOwnerAndContentHeadersGoOnEveryWrite() {
        String bucket = newBucket();
        Map<String, Map<String, List<String>>> headers = new HashMap<>();
        ExecutionInterceptor recorder = new ExecutionInterceptor() {
            @Override
            public void beforeTransmission(Context.BeforeTransmission context, ExecutionAttributes attributes) {
                var r = context.httpRequest();
                synchronized (headers) {
                    headers.put(r.method() + " " + r.rawQueryParameters().keySet(), r.headers());
                }
            }
        };
        S3Sink sink = S3Sink.builder().client(s3.client(recorder)).bucket(bucket).serializer(JSON_LINES)
                .sseKms("alias/invoices").expectedBucketOwner("111122223333").multipartThreshold(S3Sink.MIN_PART_SIZE)
                .partSize(S3Sink.MIN_PART_SIZE).compression(Compression.NONE).build();
        try (Pipeline<Map<String, Object>> p = pipeline(sink, large())) {
            assertTrue(deliver(p, invoices("shardId-0001", 1, 2, T0, 10)).succeeded());
            assertTrue(deliver(p, invoices("shardId-0001", 10, 60, T0, 100_000)).succeeded());
        }
        Map<String, List<String>> put = headers.get("PUT []");
        assertEquals(List.of("aws:kms"), put.get("x-amz-server-side-encryption"));
        assertEquals(List.of("alias/invoices"), put.get("x-amz-server-side-encryption-aws-kms-key-id"));
        assertEquals(List.of("true"), put.get("x-amz-server-side-encryption-bucket-key-enabled"));
        assertEquals(List.of("111122223333"), put.get("x-amz-expected-bucket-owner"));
        assertEquals(List.of("application/x-ndjson"), put.get("Content-Type"));
        Map<String, List<String>> create = headers.get("POST [uploads]");
        assertEquals(List.of("aws:kms"), create.get("x-amz-server-side-encryption"));
        assertEquals(List.of("111122223333"), create.get("x-amz-expected-bucket-owner"));
        assertEquals(List.of("111122223333"), headers.get("PUT [partNumber, uploadId]").get("x-amz-expected-bucket-owner"));
        assertEquals(List.of("111122223333"), headers.get("POST [uploadId]").get("x-amz-expected-bucket-owner"));
        assertEquals(List.of("111122223333"), headers.get("GET [list-type, prefix]").get("x-amz-expected-bucket-owner"));

        String other = newBucket();
        headers.clear();
        S3Sink sse = S3Sink.builder().client(s3.client(recorder)).bucket(other).serializer(JSON_LINES).sseS3().build();
        try (Pipeline<Map<String, Object>> p = pipeline(sse, large())) {
            assertTrue(deliver(p, invoices("shardId-0001", 1, 2, T0, 10)).succeeded());
        }
        assertEquals(List.of("AES256"), headers.get("PUT []").get("x-amz-server-side-encryption"));
        // On the wire the SDK adds aws-chunked for its trailing checksum; S3 stores "gzip" alone.
        assertEquals("gzip", headers.get("PUT []").get("Content-Encoding").get(0));
        assertEquals(null, headers.get("PUT []").get("x-amz-expected-bucket-owner"));
    }

    @Test
    void aRedrivenEventIsWrittenEvenInsideAnArchivedRange() {
        String bucket = newBucket();
        List<ChangeEvent<Map<String, Object>>> events = invoices("shardId-0001", 1, 5, T0.plusSeconds(5), 10);
        String flakyId = events.get(2).eventId();
        boolean[] broken = {true};
        EventSerializer flaky = new EventSerializer() {
            @Override
            public void write(ChangeEvent<?> event, OutputStream out) throws IOException {
                if (broken[0] && event.eventId().equals(flakyId)) {
                    throw new IllegalStateException("serializer bug");
                }
                JSON_LINES.write(event, out);
            }
        };
        S3Sink sink = S3Sink.builder().client(s3.client()).bucket(bucket).serializer(flaky).build();
        try (Pipeline<Map<String, Object>> p = pipeline(sink, large())) {
            BatchResult<Map<String, Object>> first = deliver(p, events);
            assertEquals(1, first.deadLettered());
            assertTrue(deadLetters.letters().get(0).reason().contains("the serializer failed for event " + flakyId
                    + ": java.lang.IllegalStateException: serializer bug"), deadLetters.letters().get(0).reason());
            broken[0] = false;
            var redriven = p.redrive(deadLetters.letters());
            p.flush().join();
            assertTrue(redriven.join().succeeded());
        }
        TreeMap<String, byte[]> objects = s3.contents(bucket);
        String dir = "table=Invoices/dt=2026-11-24/hour=20/";
        String redriveKey = objects.keySet().stream().filter(k -> k.endsWith("-redrive.jsonl.gz")).findFirst().orElseThrow();
        assertTrue(redriveKey.matches(dir + "shardId-0001-3-3-[0-9a-f]{16}-redrive\\.jsonl\\.gz"), redriveKey);
        assertEquals(Set.of(dir + "shardId-0001-1-5.jsonl.gz", redriveKey), objects.keySet());
        assertEquals(5, archived(objects).size());
        assertEquals(List.of(line(events.get(2))), lines(objects).get(redriveKey));
    }

    @Test
    void aBadPartitionValueDeadLettersOnlyThatEvent() {
        String bucket = newBucket();
        TestEvents source = TestEvents.forTable("Invoices", "id").clock(new ManualClock(T0));
        List<ChangeEvent<Map<String, Object>>> events = List.of(
                source.insert("a", Map.of("region", "eu/west 1")),
                source.insert("b", Map.of()),
                source.insert("c", Map.of("region", "us-east-1")));
        Partitioner byRegion = Partitioner.field("region",
                e -> (String) ((Map<?, ?>) e.after().orElseThrow()).get("region"));
        try (Pipeline<Map<String, Object>> p = pipeline(sink(bucket).partitioner(Partitioner.byTable().then(byRegion))
                .build(), large())) {
            assertEquals(1, deliver(p, events).deadLettered());
        }
        assertTrue(deadLetters.letters().get(0).reason().contains("partition field 'region' has no value for event "
                + events.get(1).eventId()), deadLetters.letters().get(0).reason());
        assertEquals(Set.of("archive/table=Invoices/region=eu%2Fwest%201/shardId-000001-100-100.jsonl.gz",
                "archive/table=Invoices/region=us-east-1/shardId-000001-102-102.jsonl.gz"),
                s3.contents(bucket).keySet());
    }
}
