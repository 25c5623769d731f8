package io.cdcfanout.examples.invoices;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.api.sink.DeadLetterSink;
import io.cdcfanout.api.sink.EventSerializer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Keeps dead letters in S3, one JSON object each at {@code <prefix>/<route>/<eventId>.json}: the route,
 * the reason, the attempts, the time, and the full event as the serializer writes it. Redrive reads
 * them back. A failure to store one is thrown (retryable), so nothing is acknowledged without it.
 */
public final class S3DeadLetters implements DeadLetterSink {
    private static final JsonFactory JSON = new JsonFactory();

    private final S3Client s3;
    private final String bucket;
    private final String prefix;
    private final EventSerializer serializer;

    public S3DeadLetters(S3Client s3, String bucket, String prefix, EventSerializer serializer) {
        this.s3 = s3;
        this.bucket = bucket;
        this.prefix = prefix;
        this.serializer = serializer;
    }

    @Override
    public void accept(List<DeadLetter> letters) {
        for (DeadLetter letter : letters) {
            String key = prefix + "/" + letter.route() + "/" + letter.event().eventId() + ".json";
            try {
                s3.putObject(p -> p.bucket(bucket).key(key).contentType("application/json"),
                        RequestBody.fromBytes(json(letter)));
            } catch (SdkException e) {
                throw new CdcException("storing dead letter s3://" + bucket + "/" + key + " failed: " + e.getMessage(),
                        e, true);
            }
        }
    }

    private byte[] json(DeadLetter letter) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("route", letter.route());
            g.writeStringField("reason", letter.reason());
            g.writeNumberField("attempts", letter.attempts());
            g.writeStringField("failedAt", letter.failedAt().toString());
            g.writeFieldName("event");
            String line = new String(serializer.toBytes(letter.event()), StandardCharsets.UTF_8).strip();
            g.writeRawValue(line);
            g.writeEndObject();
        } catch (IOException e) {
            throw new CdcException("writing dead letter of event " + letter.event().eventId() + " failed", e, false);
        }
        return out.toByteArray();
    }
}
