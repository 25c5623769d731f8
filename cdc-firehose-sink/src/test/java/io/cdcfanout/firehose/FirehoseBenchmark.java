package io.cdcfanout.firehose;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.local.LocalFirehose;
import io.cdcfanout.testkit.TestEvents;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.firehose.FirehoseClient;

/**
 * Calls and billed bytes for 100,000 events of about 200 bytes: one PutRecord per event (the naive
 * Lambda) against {@link FirehoseSink} with and without packing, on the loopback stand-in. Billed
 * bytes are Firehose's: each record rounded up to 5 KB. Not a test.
 *
 * <pre>
 * mvn -B -q -pl cdc-firehose-sink -am install -DskipTests
 * mvn -B -q -pl cdc-firehose-sink exec:exec -Dexec.executable=java -Dexec.classpathScope=test \
 *     -Dexec.args="-cp %classpath io.cdcfanout.firehose.FirehoseBenchmark"
 * </pre>
 */
public final class FirehoseBenchmark {
    private static final int EVENTS = 100_000;

    private FirehoseBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        JsonLinesSerializer json = JsonLinesSerializer.plain();
        TestEvents events = TestEvents.forTable("Invoices", "id");
        List<ChangeEvent<Map<String, Object>>> batch = new ArrayList<>(EVENTS);
        long payload = 0;
        for (int i = 0; i < EVENTS; i++) {
            ChangeEvent<Map<String, Object>> e = events.insert("inv-" + i, Map.of("amount", i, "cur", "EUR"));
            batch.add(e);
            payload += json.toBytes(e).length;
        }
        System.out.printf("%d events, %d payload bytes (%.0f bytes each)%n", EVENTS, payload, payload / (double) EVENTS);

        long[] naive = naive(json, batch);
        long[] unpacked = viaSink(json, batch, false);
        long[] packed = viaSink(json, batch, true);
        System.out.printf("naive PutRecord per event: %d calls, %d billed bytes (%.1fx payload), %d ms%n", naive[0],
                naive[1], naive[1] / (double) payload, naive[2]);
        System.out.printf("sink, no packing:          %d calls, %d billed bytes (%.1fx payload), %d ms%n", unpacked[0],
                unpacked[1], unpacked[1] / (double) payload, unpacked[2]);
        System.out.printf("sink, packing (default):   %d calls, %d billed bytes (%.3fx payload), %d ms%n", packed[0],
                packed[1], packed[1] / (double) payload, packed[2]);
        System.out.printf("ratios, naive / packed sink: %.0fx fewer calls, %.1fx fewer billed bytes%n",
                naive[0] / (double) packed[0], naive[1] / (double) packed[1]);
    }

    private static long[] naive(JsonLinesSerializer json, List<ChangeEvent<Map<String, Object>>> batch)
            throws Exception {
        try (LocalFirehose firehose = new LocalFirehose(); FirehoseClient client = firehose.client()) {
            long start = System.nanoTime();
            long billed = 0;
            for (ChangeEvent<Map<String, Object>> e : batch) {
                byte[] data = json.toBytes(e);
                client.putRecord(r -> r.deliveryStreamName("invoices").record(x -> x.data(SdkBytes.fromByteArray(data))));
                billed += units(data.length) * FirehoseSink.BILLING_STEP;
            }
            return new long[] {firehose.calls(), billed, (System.nanoTime() - start) / 1_000_000};
        }
    }

    private static long[] viaSink(JsonLinesSerializer json, List<ChangeEvent<Map<String, Object>>> batch,
            boolean packing) throws Exception {
        try (LocalFirehose firehose = new LocalFirehose(); FirehoseClient client = firehose.client()) {
            FirehoseSink sink = FirehoseSink.builder().client(client).deliveryStream("invoices").serializer(json)
                    .packing(packing).build();
            long start = System.nanoTime();
            long billed = 0;
            // 500 events a flush, as a pipeline buffer of maxEvents 500 hands them over.
            for (int i = 0; i < batch.size(); i += 500) {
                SinkResult r = sink.write(SinkBatch.of("firehose", 1, batch.subList(i, Math.min(batch.size(), i + 500))));
                billed += r.counters().get("firehose.billedUnits") * FirehoseSink.BILLING_STEP;
            }
            return new long[] {firehose.calls(), billed, (System.nanoTime() - start) / 1_000_000};
        }
    }

    private static long units(int bytes) {
        return (bytes + FirehoseSink.BILLING_STEP - 1) / FirehoseSink.BILLING_STEP;
    }
}
