package io.cdcfanout.dynamodb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.Identity;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.awssdk.services.dynamodb.model.StreamRecord;

/**
 * Seeded fuzzing of record mapping and JSON Lines: 10^5 hostile records (values with two types, numbers
 * past DynamoDB's limits or with leading zeros, exponents that overflow, negative sizes, blank shard
 * ids, empty images, images the view type can't carry, lone surrogates...). Each must map without an
 * exception, then be delivered as a line that parses, or dead-lettered with a reason.
 */
class StreamRecordsFuzzTest {
    private static final int RECORDS = 100_000;
    private static final long SEED = 20261130L;
    private static final Source SOURCE = StreamRecords.sourceOf(
            "arn:aws:dynamodb:eu-west-1:123456789012:table/Fuzz/stream/2026-11-30T00:00:00.000");
    private static final String[] NUMBERS = {"1", "-1", "0", "-0", "0.5", "12.500", "1E+5", "1e-5", "00012", "012",
        "1E+2147483648", "1E+50000000", "1E-2147483649", "1E+125", "1E+126", "9.9999999999999999999999999999999999999E+125",
        "1E-130", "1E-131", "12345678901234567890123456789012345678", "123456789012345678901234567890123456789",
        "1.000000000000000000000000000000000000000000001", "", "-", ".5", "5.", "+1", "1e", "NaN", "Infinity", "0x10",
        "1,5", " 1", "1 ", "\u0661", "0E+999999999999", "1" + "0".repeat(200), "0." + "0".repeat(200) + "1"};
    private static final String[] STRINGS = {"", "plain", "quote\"back\\slash", "ctl\u0000\u001f", "\ud800", "\udc00x",
        "emoji \ud83d\ude00", "line\nbreak", "\u2028\u2029", "<script>"};
    private static final String[] EVENT_NAMES = {"INSERT", "MODIFY", "REMOVE"};
    private static final String[] BAD_EVENT_NAMES = {"UPSERT", "", null};
    private static final String[] VIEWS = {"NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"};
    private static final String[] BAD_VIEWS = {"BOGUS", "", null};
    private static final String[] SEQUENCES = {"1", "000123", "99999999999999999999999999999999999999999", "", "12a",
        "-5", null};

    private final SplittableRandom random = new SplittableRandom(SEED);

    @Test
    void noRecordThrowsAndEveryRecordIsDeliveredAsValidJsonOrDeadLetteredWithAReason() {
        JsonLinesSerializer serializer = JsonLinesSerializer.plain();
        JsonFactory json = new JsonFactory();
        AtomicLong delivered = new AtomicLong();
        AtomicLong unparsable = new AtomicLong();
        List<String> firstUnparsable = new ArrayList<>();
        Sink<Map<String, AttributeValue>> lines = new Sink<>() {
            @Override
            public SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
                SinkResult.Builder result = SinkResult.builder(batch.size());
                for (int i = 0; i < batch.size(); i++) {
                    byte[] line;
                    try {
                        line = serializer.toBytes(batch.events().get(i));
                    } catch (RuntimeException e) {
                        result.fail(i, "the serializer refused it: " + e.getClass().getSimpleName(), false);
                        continue;
                    }
                    try (JsonParser p = json.createParser(line)) {
                        while (p.nextToken() != null) {
                            // read every token
                        }
                        delivered.incrementAndGet();
                    } catch (IOException e) {
                        unparsable.incrementAndGet();
                        if (firstUnparsable.size() < 3) {
                            firstUnparsable.add(e.getMessage());
                        }
                    }
                }
                return result.build();
            }
        };
        RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
        long thrown = 0;
        long defective = 0;
        long settledFailures = 0;
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("lines").sink(lines).build())
                .deadLetterSink(deadLetters).build()) {
            List<ChangeEvent<Map<String, AttributeValue>>> batch = new ArrayList<>();
            for (int n = 0; n < RECORDS; n++) {
                Record r = record(n);
                String shard = random.nextInt(50) == 0 ? (random.nextBoolean() ? "" : " ") : "shardId-" + (n % 3);
                ChangeEvent<Map<String, AttributeValue>> e;
                try {
                    e = StreamRecords.toEvent(r, SOURCE, shard);
                } catch (RuntimeException ex) {
                    thrown++;
                    continue;
                }
                if (e.defect().isPresent()) {
                    defective++;
                    assertTrue(!e.defect().get().isBlank());
                }
                batch.add(e);
                if (batch.size() == 1000) {
                    settledFailures += settle(pipeline, batch);
                    batch.clear();
                }
            }
            settledFailures += settle(pipeline, batch);
        }
        System.out.printf("fuzz: %d records, %d threw, %d defective, %d delivered, %d dead-lettered%n", RECORDS,
                thrown, defective, delivered.get(), deadLetters.letters().size());
        assertEquals(0, thrown, "records whose mapping threw");
        assertEquals(0, unparsable.get(), "delivered lines that are not JSON: " + firstUnparsable);
        assertEquals(0, settledFailures, "events neither delivered nor dead-lettered; first: " + FIRST_FAILURE[0]);
        assertEquals(RECORDS, delivered.get() + deadLetters.letters().size());
        assertTrue(deadLetters.letters().stream().allMatch(d -> d.reason() != null && !d.reason().isBlank()));
        assertTrue(defective > RECORDS / 10 && delivered.get() > RECORDS / 10,
                "the generator must produce both kinds (defective " + defective + ", delivered " + delivered + ")");
    }

    private static final String[] FIRST_FAILURE = new String[1];

    private static int settle(Pipeline<Map<String, AttributeValue>> pipeline,
            List<ChangeEvent<Map<String, AttributeValue>>> batch) {
        var done = pipeline.submit(List.copyOf(batch));
        pipeline.flush();
        BatchResult<Map<String, AttributeValue>> result = done.join();
        if (!result.failures().isEmpty() && FIRST_FAILURE[0] == null) {
            FIRST_FAILURE[0] = result.failures().get(0).reason();
        }
        return result.failures().size();
    }

    private Record record(int n) {
        String name = random.nextInt(40) == 0 ? pick(BAD_EVENT_NAMES) : pick(EVENT_NAMES);
        String view = random.nextInt(40) == 0 ? pick(BAD_VIEWS) : random.nextInt(3) == 0 ? pick(VIEWS)
                : "NEW_AND_OLD_IMAGES";
        boolean carriesNew = view != null && view.startsWith("NEW");
        boolean carriesOld = "OLD_IMAGE".equals(view) || "NEW_AND_OLD_IMAGES".equals(view);
        StreamRecord.Builder sr = StreamRecord.builder();
        sr.sequenceNumber(random.nextInt(40) == 0 ? pick(SEQUENCES) : Integer.toString(1000 + n));
        if (random.nextInt(10) != 0) {
            sr.approximateCreationDateTime(Instant.ofEpochSecond(1_700_000_000L + random.nextInt(1_000_000)));
        }
        if (random.nextInt(40) == 0) {
            sr.sizeBytes(random.nextBoolean() ? -1L - random.nextInt(100) : (long) random.nextInt(1000));
        } else if (random.nextBoolean()) {
            sr.sizeBytes((long) random.nextInt(4000));
        }
        if (view != null) {
            sr.streamViewType(view);
        }
        Map<String, AttributeValue> keys = new LinkedHashMap<>();
        if (random.nextInt(30) != 0) {
            keys.put("pk", random.nextInt(40) == 0 ? value(0) : random.nextBoolean()
                    ? AttributeValue.builder().s("k" + n).build()
                    : AttributeValue.builder().n(random.nextInt(20) == 0 ? pick(NUMBERS) : Integer.toString(n)).build());
            if (random.nextBoolean()) {
                keys.put("sk", AttributeValue.builder().s(pick(STRINGS)).build());
            }
        }
        sr.keys(keys);
        boolean insert = "INSERT".equals(name);
        boolean remove = "REMOVE".equals(name);
        if (carriesNew && !remove || random.nextInt(40) == 0) {
            sr.newImage(image(keys));
        }
        if (carriesOld && !insert || random.nextInt(40) == 0) {
            sr.oldImage(image(keys));
        }
        Record.Builder r = Record.builder().eventName(name).dynamodb(sr.build());
        if (random.nextInt(50) != 0) {
            r.eventID("e" + n);
        }
        if (random.nextInt(40) == 0) {
            r.userIdentity(Identity.builder().type("Service").principalId("dynamodb.amazonaws.com").build());
        }
        return r.build();
    }

    private Map<String, AttributeValue> image(Map<String, AttributeValue> keys) {
        if (random.nextInt(40) == 0) {
            return Map.of();
        }
        Map<String, AttributeValue> image = new LinkedHashMap<>(keys);
        int attributes = random.nextInt(6);
        for (int i = 0; i < attributes; i++) {
            image.put(random.nextInt(10) == 0 ? pick(STRINGS) : "a" + i, value(0));
        }
        return image;
    }

    /** Mostly well-formed values, sometimes hostile ones. */
    private AttributeValue value(int depth) {
        int kind = random.nextInt(depth > 2 ? 9 : 12);
        if ((kind == 7 || kind == 8) && random.nextInt(10) != 0) {
            kind = 0; // keep the hostile shapes rare enough that most records are valid
        }
        AttributeValue.Builder b = AttributeValue.builder();
        switch (kind) {
            case 0 -> b.s(pick(STRINGS));
            case 1 -> b.n(random.nextInt(10) == 0 ? pick(NUMBERS) : Integer.toString(random.nextInt()));
            case 2 -> b.b(SdkBytes.fromByteArray(new byte[] {(byte) random.nextInt(256), 0, -1}));
            case 3 -> b.bool(random.nextBoolean());
            case 4 -> b.nul(random.nextInt(40) != 0);
            case 5 -> b.ss(pick(STRINGS), "x" + random.nextInt(3));
            case 6 -> b.ns(random.nextInt(10) == 0 ? pick(NUMBERS) : "3.25", "7");
            case 7 -> b.s("s").n("1"); // two types at once
            case 8 -> { } // no type at all
            case 9 -> {
                Map<String, AttributeValue> m = new LinkedHashMap<>();
                for (int i = random.nextInt(3); i > 0; i--) {
                    m.put(pick(STRINGS) + i, value(depth + 1));
                }
                b.m(m);
            }
            case 10 -> {
                List<AttributeValue> l = new ArrayList<>();
                for (int i = random.nextInt(3); i > 0; i--) {
                    l.add(value(depth + 1));
                }
                b.l(l);
            }
            default -> b.bs(SdkBytes.fromByteArray(new byte[] {1}), SdkBytes.fromByteArray(new byte[0]));
        }
        return b.build();
    }

    private <T> T pick(T[] options) {
        return options[random.nextInt(options.length)];
    }
}
