package io.cdcfanout.firehose;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.local.LocalFirehose;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import io.cdcfanout.testkit.RecordingListener;
import io.cdcfanout.testkit.TestEvents;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The Firehose sink against a loopback Firehose stand-in, through the real SDK client. */
class FirehoseSinkTest {
    private static final JsonLinesSerializer JSON_LINES = JsonLinesSerializer.plain();

    private final TestEvents events = TestEvents.forTable("Invoices", "id");
    private final RecordingListener listener = new RecordingListener();
    private final RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();

    private List<ChangeEvent<Map<String, Object>>> invoices(int n, int payloadBytes) {
        List<ChangeEvent<Map<String, Object>>> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(events.insert("inv-" + i, Map.of("amount", i, "note", "x".repeat(payloadBytes))));
        }
        return list;
    }

    private BatchResult<Map<String, Object>> run(FirehoseSink sink, List<ChangeEvent<Map<String, Object>>> batch) {
        try (Pipeline<Map<String, Object>> p = Pipeline.<Map<String, Object>>builder()
                .route(Route.<Map<String, Object>>builder("firehose").sink(sink)
                        .retry(RetryPolicy.builder().initialBackoff(Duration.ofMillis(1)).maxAttempts(5).build())
                        .buffer(BufferPolicy.builder().maxEvents(batch.size() + 1).maxBytes(Long.MAX_VALUE / 2)
                                .capacity(batch.size() + 1).build())
                        .build())
                .listener(listener).deadLetterSink(deadLetters).build()) {
            var done = p.submit(batch);
            p.flush().join();
            return done.join();
        }
    }

    private static Set<String> ids(List<byte[]> records) {
        Set<String> ids = new HashSet<>();
        for (byte[] r : records) {
            for (String line : new String(r, StandardCharsets.UTF_8).split("\n")) {
                String id = line.substring(line.indexOf("\"eventId\":\"") + 11);
                assertTrue(ids.add(id.substring(0, id.indexOf('"'))), "received twice: " + line);
            }
        }
        return ids;
    }

    @Test
    void onlyTheFailedRecordsAreSentAgainAndEveryEventArrivesOnce() throws Exception {
        try (LocalFirehose firehose = new LocalFirehose()) {
            firehose.then(new LocalFirehose.FailRecords(i -> i % 7 == 0)).then(new LocalFirehose.Ok())
                    .then(new LocalFirehose.FailRecords(i -> i == 3));
            FirehoseSink sink = FirehoseSink.builder().client(firehose.client()).deliveryStream("invoices")
                    .serializer(JSON_LINES).packing(false).build();
            List<ChangeEvent<Map<String, Object>>> batch = invoices(1200, 50);
            assertTrue(run(sink, batch).succeeded());
            assertEquals(1200, ids(firehose.accepted()).size(), "every event exactly once");
            List<Integer> sizes = firehose.callSizes();
            assertEquals(List.of(500, 500, 200), sizes.subList(0, 3), "the fewest calls for 1200 records");
            int failedFirst = (500 + 6) / 7 + 1; // positions 0, 7, ... of the first call, and one of the third
            assertEquals(failedFirst, sizes.stream().skip(3).mapToInt(Integer::intValue).sum(),
                    "only failed records were sent again: " + sizes);
        }
    }

    @Test
    void packingGivesByteIdenticalJsonLinesAndBillsNearThePayload() throws Exception {
        try (LocalFirehose firehose = new LocalFirehose()) {
            FirehoseSink sink = FirehoseSink.builder().client(firehose.client()).deliveryStream("invoices")
                    .serializer(JSON_LINES).build();
            List<ChangeEvent<Map<String, Object>>> batch = invoices(3000, 100);
            assertTrue(run(sink, batch).succeeded());
            ByteArrayOutputStream expected = new ByteArrayOutputStream();
            batch.forEach(e -> expected.writeBytes(JSON_LINES.toBytes(e)));
            assertArrayEquals(expected.toByteArray(), firehose.concatenated(), "the same JSON Lines, byte for byte");
            long payload = expected.size();
            long units = listener.count("firehose.sink.firehose.billedUnits");
            assertTrue(units * FirehoseSink.BILLING_STEP <= 1.05 * payload, units + " units for " + payload + " bytes");
            assertEquals(1, firehose.calls(), "one call carries it all");
            System.out.printf("packing: %d events, %d payload bytes, %d records, %d billed units (%.3fx payload)%n",
                    batch.size(), payload, firehose.accepted().size(), units,
                    units * FirehoseSink.BILLING_STEP / (double) payload);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 499, 500, 501})
    void callsAreTheFewestAndAPartialFailureResendsOnlyItsRecord(int n) throws Exception {
        try (LocalFirehose firehose = new LocalFirehose()) {
            firehose.then(new LocalFirehose.FailRecords(i -> i == 0));
            FirehoseSink sink = FirehoseSink.builder().client(firehose.client()).deliveryStream("invoices")
                    .serializer(JSON_LINES).packing(false).build();
            assertTrue(run(sink, invoices(n, 10)).succeeded());
            int fewest = (n + 499) / 500;
            assertEquals(fewest + 1, firehose.calls(), "the fewest calls, and one more for the failed record");
            assertEquals(1, firehose.callSizes().get(fewest), "the resend carries the failed record only");
            assertEquals(n, ids(firehose.accepted()).size(), "every event exactly once");
        }
    }

    @Test
    void aKeysLaterEventsFollowItsFailedOneSoTheLastWriteArrivesLast() throws Exception {
        try (LocalFirehose firehose = new LocalFirehose()) {
            firehose.then(new LocalFirehose.FailRecords(i -> i == 0)); // the first record: inv-0 version 0
            FirehoseSink sink = FirehoseSink.builder().client(firehose.client()).deliveryStream("invoices")
                    .serializer(JSON_LINES).packing(false).build();
            List<ChangeEvent<Map<String, Object>>> batch = new ArrayList<>();
            for (int v = 0; v < 6; v++) {
                batch.add(events.insert("inv-" + (v % 3), Map.of("version", v)));
            }
            assertTrue(run(sink, batch).succeeded());
            List<String> arrivals = new ArrayList<>();
            for (byte[] r : firehose.accepted()) {
                String line = new String(r, StandardCharsets.UTF_8);
                if (line.contains("\"keys\":{\"id\":\"inv-0\"}")) {
                    arrivals.add(line.substring(line.indexOf("\"version\":") + 10, line.indexOf("\"version\":") + 11));
                }
            }
            assertEquals("3", arrivals.get(arrivals.size() - 1), "inv-0's last write arrives last: " + arrivals);
            assertTrue(arrivals.contains("0"), "the failed write was delivered on the resend");
        }
    }

    @Test
    void callsStayUnderFourMebibytesAndRecordsNearTheLimitFitOneEach() throws Exception {
        try (LocalFirehose firehose = new LocalFirehose()) {
            FirehoseSink sink = FirehoseSink.builder().client(firehose.client()).deliveryStream("invoices")
                    .serializer(JSON_LINES).build();
            List<ChangeEvent<Map<String, Object>>> batch = invoices(5, 1000 * 1024 - 300); // each just under 1000 KiB
            assertTrue(run(sink, batch).succeeded());
            assertEquals(List.of(4, 1), firehose.callSizes(), "4 records of ~1000 KiB fill a 4 MiB call");
            firehose.accepted().forEach(r -> assertTrue(r.length <= FirehoseSink.MAX_RECORD_BYTES));
        }
    }

    @Test
    void anOversizeEventIsDeadLetteredNeverTruncated() throws Exception {
        try (LocalFirehose firehose = new LocalFirehose()) {
            FirehoseSink sink = FirehoseSink.builder().client(firehose.client()).deliveryStream("invoices")
                    .serializer(JSON_LINES).build();
            List<ChangeEvent<Map<String, Object>>> batch = new ArrayList<>(invoices(3, 10));
            batch.add(1, events.insert("huge", Map.of("scan", "y".repeat(1100 * 1024))));
            BatchResult<Map<String, Object>> result = run(sink, batch);
            assertTrue(result.succeeded());
            assertEquals(1, deadLetters.letters().size());
            assertTrue(deadLetters.letters().get(0).reason().contains("over Firehose's limit of 1024000 bytes per "
                    + "record"), deadLetters.letters().get(0).reason());
            assertEquals(3, ids(firehose.accepted()).size());
        }
    }

    @Test
    void throttlingIsRetriedAndAMissingStreamHaltsTheRouteNamingIt() throws Exception {
        try (LocalFirehose firehose = new LocalFirehose()) {
            firehose.then(new LocalFirehose.Status(503, "ServiceUnavailableException"));
            FirehoseSink sink = FirehoseSink.builder().client(firehose.client()).deliveryStream("invoices")
                    .serializer(JSON_LINES).build();
            assertTrue(run(sink, invoices(10, 10)).succeeded());
            assertEquals(2, firehose.calls());
            assertEquals(10, ids(firehose.accepted()).size());
        }
        try (LocalFirehose firehose = new LocalFirehose()) {
            firehose.then(new LocalFirehose.Status(400, "ResourceNotFoundException"));
            FirehoseSink sink = FirehoseSink.builder().client(firehose.client()).deliveryStream("missing-stream")
                    .serializer(JSON_LINES).build();
            BatchResult<Map<String, Object>> result = run(sink, invoices(10, 10));
            assertEquals(10, result.failures().size(), "nothing acknowledged");
            assertEquals(1, firehose.calls(), "no endless retries");
            assertEquals(0, deadLetters.letters().size());
            assertTrue(result.failures().get(0).reason().contains("Firehose delivery stream 'missing-stream' cannot "
                    + "take records: ResourceNotFoundException"), result.failures().get(0).reason());
        }
    }

    @Test
    void aDroppedConnectionIsRetriedAndNothingIsLost() throws Exception {
        try (LocalFirehose firehose = new LocalFirehose()) {
            firehose.then(new LocalFirehose.Drop());
            FirehoseSink sink = FirehoseSink.builder().client(firehose.client()).deliveryStream("invoices")
                    .serializer(JSON_LINES).packing(false).build();
            assertTrue(run(sink, invoices(20, 10)).succeeded());
            assertEquals(2, firehose.calls());
            assertEquals(20, ids(firehose.accepted()).size(), "each event exactly once: the dropped call took none");
        }
    }

    @Test
    void aSlowAnswerTimesOutAndIsRetriedAtLeastOnce() throws Exception {
        try (LocalFirehose firehose = new LocalFirehose()) {
            firehose.then(new LocalFirehose.Slow());
            FirehoseSink sink = FirehoseSink.builder().client(firehose.client(Duration.ofMillis(300)))
                    .deliveryStream("invoices").serializer(JSON_LINES).packing(false).build();
            assertTrue(run(sink, invoices(20, 10)).succeeded());
            assertTrue(firehose.calls() >= 2, "the timed-out call was sent again");
            Set<String> distinct = new HashSet<>();
            for (byte[] r : firehose.accepted()) {
                String line = new String(r, StandardCharsets.UTF_8);
                String id = line.substring(line.indexOf("\"eventId\":\"") + 11);
                distinct.add(id.substring(0, id.indexOf('"')));
            }
            assertEquals(20, distinct.size(), "every event arrived; the slow call's records may arrive twice");
        }
    }

    @Test
    void builderMessagesNameTheLimitOrSetting() {
        assertEquals("packTo must be between 1 and 1024000 bytes, Firehose's record limit (was 1024001)",
                assertThrows(IllegalArgumentException.class,
                        () -> FirehoseSink.builder().packTo(1024001)).getMessage());
        assertEquals("deliveryStream must be 1 to 64 letters, digits, '_', '.' or '-' (was 'a b')",
                assertThrows(IllegalArgumentException.class,
                        () -> FirehoseSink.builder().deliveryStream("a b")).getMessage());
        assertEquals("deliveryStream is required", assertThrows(
                IllegalStateException.class, () -> FirehoseSink.builder().build()).getMessage());
    }
}
