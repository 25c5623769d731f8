package io.cdcfanout.s3sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.local.LocalS3;
import io.cdcfanout.testkit.ManualClock;
import io.cdcfanout.testkit.TestEvents;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.http.SdkHttpRequest;

/**
 * The archive on a bucket with S3 Object Lock (compliance mode, as the deployment template sets it):
 * a version can't be replaced or deleted for 7 years, so the sink must never try to overwrite a key it
 * wrote, and every upload must carry a checksum. s3proxy has no Object Lock, so the test watches the
 * requests on the wire: across first runs and replays, on a named shard (poller, KCL) and without one
 * (Lambda), no PUT goes to a key written before, and every PutObject carries a checksum.
 */
class S3SinkObjectLockTest {
    private static final Instant T0 = Instant.parse("2026-11-24T19:10:00Z");
    private static LocalS3 s3;

    @BeforeAll
    static void start() {
        s3 = new LocalS3();
    }

    @AfterAll
    static void stop() {
        s3.close();
    }

    /** The PUTs on the wire: key and whether a checksum header came with it. */
    private static final class Puts implements ExecutionInterceptor {
        final List<String> keys = new CopyOnWriteArrayList<>();
        final List<String> unchecked = new CopyOnWriteArrayList<>();

        @Override
        public void beforeTransmission(Context.BeforeTransmission context, ExecutionAttributes attributes) {
            SdkHttpRequest r = context.httpRequest();
            if (r.method().name().equals("PUT") && !r.rawQueryParameters().containsKey("uploadId")) {
                String key = r.encodedPath();
                keys.add(key);
                boolean checksum = r.headers().keySet().stream().anyMatch(h -> h.equalsIgnoreCase("Content-MD5")
                        || h.toLowerCase(java.util.Locale.ROOT).startsWith("x-amz-checksum-")
                        || h.equalsIgnoreCase("x-amz-sdk-checksum-algorithm")
                        || h.equalsIgnoreCase("x-amz-trailer"));
                if (!checksum) {
                    unchecked.add(key);
                }
            }
        }
    }

    private static List<ChangeEvent<Map<String, Object>>> events(String shard, long from, int n) {
        TestEvents t = TestEvents.forTable("Invoices", "id").shard(shard).nextSequence(from).clock(new ManualClock(T0));
        List<ChangeEvent<Map<String, Object>>> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(t.insert("inv-" + shard + "-" + i, Map.of("amount", i)));
        }
        return out;
    }

    @Test
    void replaysOnAnyPathNeverPutToAKeyWrittenBeforeAndEveryUploadCarriesAChecksum() {
        String bucket = s3.bucket("locked-archive");
        Puts puts = new Puts();
        List<ChangeEvent<Map<String, Object>>> named = events("shardId-1", 100, 30);
        List<ChangeEvent<Map<String, Object>>> lambda = events(Position.UNKNOWN_SHARD, 500, 30);
        for (int run = 0; run < 3; run++) {
            // Each run is a new process (a new sink) replaying from an older checkpoint, with some new events.
            S3Sink sink = S3Sink.builder().client(s3.client(puts)).bucket(bucket).prefix("archive")
                    .serializer(JsonLinesSerializer.plain()).build();
            int upTo = 10 + run * 10;
            SinkResult a = sink.write(SinkBatch.of("archive", 1, named.subList(0, upTo)));
            SinkResult b = sink.write(SinkBatch.of("archive", 1, lambda.subList(0, upTo)));
            assertTrue(a.allDelivered() && b.allDelivered());
            if (run > 0) {
                assertEquals((long) upTo - 10, a.counters().get("s3.skipped"), "the replayed part is skipped");
                assertEquals((long) upTo - 10, b.counters().get("s3.skipped"));
            }
        }
        assertEquals(puts.keys.size(), java.util.Set.copyOf(puts.keys).size(), "a PUT went to a key written before: "
                + puts.keys);
        assertEquals(List.of(), puts.unchecked, "uploads without a checksum, which Object Lock refuses");
        assertTrue(puts.keys.size() >= 6, puts.keys.toString());
    }
}
