package io.cdcfanout.s3sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.local.LocalS3;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** Dead letters kept in s3proxy, read back by route and time range, and redriven to delivery. */
class S3DeadLetterRedriveTest {
    private static LocalS3 s3;

    @BeforeAll
    static void start() {
        s3 = new LocalS3();
    }

    @AfterAll
    static void stop() {
        s3.close();
    }

    private static ChangeEvent<Map<String, AttributeValue>> event(int i) {
        Source source = new Source("Users", "eu-west-1", "arn:aws:dynamodb:eu-west-1:1:table/Users/stream/x");
        return ChangeEvent.<Map<String, AttributeValue>>builder().operation(Operation.INSERT).source(source)
                .position(new Position("shardId-1", Integer.toString(100 + i)))
                .creationTime(Instant.parse("2026-11-30T10:00:00Z")).eventId("ev-" + i)
                .key(EventKey.of("Users", "id", "u" + i))
                .after(Map.of("id", AttributeValue.fromS("u" + i), "n", AttributeValue.fromN(Integer.toString(i)),
                        "tags", AttributeValue.fromSs(List.of("a", "b"))))
                .build();
    }

    @Test
    void lettersGoToS3AndComeBackByRouteAndTimeForARedriveThatDelivers() {
        String bucket = s3.bucket("dead-letters-1");
        S3DeadLetterSink letters = S3DeadLetterSink.builder().client(s3.client()).bucket(bucket).prefix("dlq").build();
        AtomicBoolean broken = new AtomicBoolean(true);
        List<ChangeEvent<?>> delivered = new CopyOnWriteArrayList<>();
        Instant before = Instant.now().minusSeconds(1);
        List<ChangeEvent<Map<String, AttributeValue>>> events = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            events.add(event(i));
        }
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("mail").sink(batch -> {
                    SinkResult.Builder r = SinkResult.builder(batch.size());
                    for (int i = 0; i < batch.size(); i++) {
                        ChangeEvent<? extends Map<String, AttributeValue>> e = batch.events().get(i);
                        if (broken.get() && Integer.parseInt(e.after().orElseThrow().get("n").n()) % 2 == 1) {
                            r.fail(i, "mailbox of " + e.after().orElseThrow().get("id").s() + " is full", false);
                        } else {
                            delivered.add(e);
                        }
                    }
                    return r.build();
                }).build())
                .route(Route.<Map<String, AttributeValue>>builder("audit").sink(batch -> {
                    SinkResult.Builder r = SinkResult.builder(batch.size());
                    r.fail(0, "audit refused", false);
                    for (int i = 1; i < batch.size(); i++) {
                        delivered.add(batch.events().get(i));
                    }
                    return r.build();
                }).build())
                .deadLetterSink(letters).build()) {
            BatchResult<Map<String, AttributeValue>> first = pipeline.submit(events).join();
            assertEquals(3, first.deadLettered(), "two on mail, one on audit");
            Instant after = Instant.now().plusSeconds(1);

            List<DeadLetter> mail = S3DeadLetterSink.read(s3.client(), bucket, "dlq", "mail", before, after);
            assertEquals(List.of("ev-1", "ev-3"), mail.stream().map(l -> l.event().eventId()).toList());
            DeadLetter one = mail.get(0);
            assertEquals("mail", one.route());
            assertEquals("mailbox of u1 is full", one.reason());
            assertEquals(1, one.attempts());
            assertEquals(events.get(1).after(), one.event().after(), "the full event, with its types");
            assertEquals(events.get(1).key(), one.event().key());
            assertEquals(events.get(1).source(), one.event().source());
            assertEquals(events.get(1).position(), one.event().position());
            assertEquals(List.of(), S3DeadLetterSink.read(s3.client(), bucket, "dlq", "mail",
                    before.minus(Duration.ofDays(2)), before), "another time range");
            assertEquals(1, S3DeadLetterSink.read(s3.client(), bucket, "dlq", "audit", before, after).size());

            broken.set(false);
            delivered.clear();
            BatchResult<Map<String, AttributeValue>> again = pipeline.redrive(mail).join();
            assertTrue(again.succeeded());
            assertEquals(Set.of("ev-1", "ev-3"), delivered.stream().map(ChangeEvent::eventId).collect(Collectors.toSet()),
                    "only the mail route's letters, on the mail route");
        }
        assertTrue(s3.contents(bucket).keySet().stream().allMatch(k -> k.matches(
                "dlq/route=(mail|audit)/dt=\\d{4}-\\d{2}-\\d{2}/\\d+-[0-9a-f]{16}\\.jsonl\\.gz")), s3.contents(bucket)::toString);
    }

    @Test
    void aRetriedStoreRewritesTheSameObjectAndABadLineNamesItsPlace() {
        String bucket = s3.bucket("dead-letters-2");
        S3DeadLetterSink letters = S3DeadLetterSink.builder().client(s3.client()).bucket(bucket).build();
        List<DeadLetter> batch = List.of(new DeadLetter("mail", event(7), "refused", 3,
                Instant.parse("2026-11-30T10:00:00Z")));
        letters.accept(batch);
        letters.accept(batch);
        assertEquals(1, s3.contents(bucket).size(), "same letters, same key and bytes");
        String key = s3.contents(bucket).firstKey();
        s3.client().putObject(r -> r.bucket(bucket).key(key.replace(".jsonl.gz", "0.jsonl.gz")),
                software.amazon.awssdk.core.sync.RequestBody.fromBytes(LocalExportLike.gzip("{\"route\":\"mail\"}\n")));
        io.cdcfanout.api.CdcException bad = assertThrows(io.cdcfanout.api.CdcException.class, () ->
                S3DeadLetterSink.read(s3.client(), bucket, "dead-letters", "mail",
                        Instant.parse("2026-11-30T00:00:00Z"), Instant.parse("2026-12-01T00:00:00Z")));
        assertTrue(bad.getMessage().endsWith("line 1 is not a dead letter: route, reason, attempts, failedAt, "
                + "source.table and event are required"), bad.getMessage());
    }

    /** Gzip for a hand-written object. */
    private static final class LocalExportLike {
        static byte[] gzip(String text) {
            return io.cdcfanout.local.LocalExport.gzip(text);
        }
    }
}
