package io.cdcfanout.examples.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.EventKey;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.examples.Embedded;
import io.cdcfanout.examples.invoices.InvoiceArchiveExample;
import io.cdcfanout.s3sink.S3DeadLetterSink;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** The one-command redrive: letters in the dead-letter store, selected by route and time, delivered again. */
class RedriveTest {

    @Test
    void theLettersOfOneRouteAndTimeRangeAreDeliveredAgain() {
        try (Embedded env = new Embedded()) {
            Source source = new Source("Invoices", "us-east-1", "arn:aws:dynamodb:us-east-1:1:table/Invoices/stream/x");
            List<DeadLetter> letters = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                ChangeEvent<Map<String, AttributeValue>> e = ChangeEvent.<Map<String, AttributeValue>>builder()
                        .operation(Operation.INSERT).source(source).position(new Position("shardId-1", "" + (500 + i)))
                        .creationTime(Instant.parse("2026-11-30T09:00:00Z")).eventId("dl-" + i)
                        .key(EventKey.of("Invoices", "invoiceId", "INV-R" + i))
                        .after(Map.of("invoiceId", AttributeValue.fromS("INV-R" + i), "amount", AttributeValue.fromN("5")))
                        .build();
                letters.add(new DeadLetter(i == 2 ? "firehose" : "s3", e, "bucket policy denied", 4,
                        Instant.parse("2026-11-30T09:0" + i + ":00Z")));
            }
            S3DeadLetterSink.builder().client(env.s3()).bucket(Embedded.BUCKET).prefix("dead-letters").build()
                    .accept(letters);
            ByteArrayOutputStream text = new ByteArrayOutputStream();
            int failed = Redrive.run(env.s3(), env.firehose(), Embedded.BUCKET, InvoiceArchiveExample.DELIVERY_STREAM,
                    "s3", Instant.parse("2026-11-30T09:00:00Z"), Instant.parse("2026-11-30T09:01:30Z"),
                    new PrintStream(text, true, StandardCharsets.UTF_8));
            assertEquals(0, failed);
            assertTrue(text.toString(StandardCharsets.UTF_8).contains("2 dead letters of route 's3'"), text.toString());
            long redriven = env.s3StandIn().contents(Embedded.BUCKET).keySet().stream()
                    .filter(k -> k.startsWith("archive/") && k.endsWith("-redrive.jsonl.gz")).count();
            assertTrue(redriven >= 1, env.s3StandIn().contents(Embedded.BUCKET).keySet().toString());
        }
    }
}
