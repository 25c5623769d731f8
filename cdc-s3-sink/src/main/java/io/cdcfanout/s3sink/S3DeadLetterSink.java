package io.cdcfanout.s3sink;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Source;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.api.sink.DeadLetterSink;
import io.cdcfanout.aws.internal.AwsErrors;
import io.cdcfanout.dynamodb.JsonLinesReader;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ServerSideEncryption;

/**
 * Keeps dead letters in S3 as gzipped JSON Lines, one object per route for each call:
 * {@code <prefix>/route=<route>/dt=<yyyy-MM-dd>/<first failedAt, epoch ms>-<digest>.jsonl.gz}. Each line
 * holds the route, the reason, the attempts, the time it failed, the source, and the full event with
 * DynamoDB-typed images, so that {@link #read} gives back letters that {@code Pipeline.redrive} sends
 * again. An object's name and bytes depend on its letters alone, so a retried call rewrites the same
 * object. A failure to store is thrown as retryable, so nothing is acknowledged without it. Item data
 * goes to S3 only, never to a log. Thread-safe.
 */
public final class S3DeadLetterSink implements DeadLetterSink {
    private static final JsonFactory JSON = new JsonFactory();
    private static final JsonLinesSerializer EVENTS = JsonLinesSerializer.of(JsonLinesSerializer.Format.DYNAMODB_JSON);

    private final S3Client client;
    private final String bucket;
    private final String prefix;
    private final String kmsKeyId;

    private S3DeadLetterSink(Builder b) {
        this.client = b.client;
        this.bucket = b.bucket;
        this.prefix = b.prefix;
        this.kmsKeyId = b.kmsKeyId;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void accept(List<DeadLetter> letters) {
        Map<String, List<DeadLetter>> byRoute = new LinkedHashMap<>();
        for (DeadLetter l : letters) {
            byRoute.computeIfAbsent(l.route(), r -> new ArrayList<>()).add(l);
        }
        byRoute.forEach(this::store);
    }

    private void store(String route, List<DeadLetter> letters) {
        byte[] body = gzip(letters);
        Instant first = letters.stream().map(DeadLetter::failedAt).min(Instant::compareTo).orElseThrow();
        String key = routePrefix(prefix, route) + "dt=" + LocalDate.ofInstant(first, ZoneOffset.UTC) + "/"
                + first.toEpochMilli() + "-" + digest(body) + ".jsonl.gz";
        try {
            client.putObject(p -> {
                p.bucket(bucket).key(key).contentType("application/x-ndjson").contentEncoding("gzip");
                if (kmsKeyId != null) {
                    p.serverSideEncryption(ServerSideEncryption.AWS_KMS).ssekmsKeyId(kmsKeyId);
                }
            }, RequestBody.fromBytes(body));
        } catch (SdkException e) {
            throw new CdcException("storing " + letters.size() + " dead letters at s3://" + bucket + "/" + key
                    + " failed: " + AwsErrors.describe(e), e, true);
        }
    }

    private static String routePrefix(String prefix, String route) {
        return (prefix.isEmpty() ? "" : prefix + "/") + "route=" + ObjectNames.encode(route) + "/";
    }

    private static byte[] gzip(List<DeadLetter> letters) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream gz = new GZIPOutputStream(bytes) {
            {
                def.setLevel(6);
            }
        }) {
            for (DeadLetter l : letters) {
                gz.write(line(l));
                gz.write('\n');
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static byte[] line(DeadLetter l) throws IOException {
        ChangeEvent<?> e = l.event().raw();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("route", l.route());
            g.writeStringField("reason", l.reason());
            g.writeNumberField("attempts", l.attempts());
            g.writeStringField("failedAt", l.failedAt().toString());
            g.writeObjectFieldStart("source");
            g.writeStringField("table", e.source().table());
            g.writeStringField("region", e.source().region());
            g.writeStringField("streamArn", e.source().streamArn());
            g.writeEndObject();
            g.writeFieldName("event");
            g.writeRawValue(new String(EVENTS.toBytes(e), StandardCharsets.UTF_8).strip());
            g.writeEndObject();
        }
        return out.toByteArray();
    }

    private static String digest(byte[] body) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body), 0, 8);
        } catch (NoSuchAlgorithmException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    /**
     * The letters of {@code route} that failed at or after {@code from} and before {@code to}, oldest first,
     * as stored under {@code prefix} in {@code bucket}; hand them to {@code Pipeline.redrive}.
     *
     * @throws CdcException if listing or reading fails, or a stored line is not a dead letter (naming the
     *     object and line)
     */
    public static List<DeadLetter> read(S3Client client, String bucket, String prefix, String route, Instant from,
            Instant to) {
        Objects.requireNonNull(route, "route must not be null");
        if (!from.isBefore(to)) {
            throw new IllegalArgumentException("from must be before to (was " + from + " and " + to + ")");
        }
        List<DeadLetter> out = new ArrayList<>();
        for (LocalDate day = LocalDate.ofInstant(from, ZoneOffset.UTC); !day.isAfter(LocalDate.ofInstant(to,
                ZoneOffset.UTC)); day = day.plusDays(1)) {
            String dayPrefix = routePrefix(prefix, route) + "dt=" + day + "/";
            List<String> keys = new ArrayList<>();
            try {
                client.listObjectsV2Paginator(r -> r.bucket(bucket).prefix(dayPrefix)).contents()
                        .forEach(o -> keys.add(o.key()));
            } catch (SdkException e) {
                throw new CdcException("listing s3://" + bucket + "/" + dayPrefix + " failed: " + AwsErrors.describe(e),
                        e, AwsErrors.retryable(e));
            }
            for (String key : keys) {
                if (key.endsWith(".jsonl.gz")) {
                    readObject(client, bucket, key, from, to, out);
                }
            }
        }
        out.sort(java.util.Comparator.comparing(DeadLetter::failedAt));
        return out;
    }

    private static void readObject(S3Client client, String bucket, String key, Instant from, Instant to,
            List<DeadLetter> out) {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(new GZIPInputStream(
                client.getObject(r -> r.bucket(bucket).key(key))), StandardCharsets.UTF_8))) {
            String text;
            int n = 0;
            while ((text = lines.readLine()) != null) {
                n++;
                if (text.isBlank()) {
                    continue;
                }
                DeadLetter letter;
                try {
                    letter = parse(text);
                } catch (IllegalArgumentException e) {
                    throw new CdcException("s3://" + bucket + "/" + key + " line " + n + " is not a dead letter: "
                            + e.getMessage(), e, false);
                }
                if (!letter.failedAt().isBefore(from) && letter.failedAt().isBefore(to)) {
                    out.add(letter);
                }
            }
        } catch (SdkException e) {
            throw new CdcException("reading s3://" + bucket + "/" + key + " failed: " + AwsErrors.describe(e), e,
                    AwsErrors.retryable(e));
        } catch (IOException e) {
            throw new CdcException("reading s3://" + bucket + "/" + key + " failed: " + e.getClass().getSimpleName(), e,
                    true);
        }
    }

    /** One stored line back into its letter. */
    static DeadLetter parse(String text) throws IOException {
        try (JsonParser p = JSON.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException("a dead letter must be a JSON object");
            }
            String route = null;
            String reason = null;
            Integer attempts = null;
            Instant failedAt = null;
            String table = null;
            String region = "";
            String streamArn = "";
            String event = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                switch (field) {
                    case "route" -> route = p.getText();
                    case "reason" -> reason = p.getText();
                    case "attempts" -> attempts = t == JsonToken.VALUE_NUMBER_INT ? p.getIntValue() : null;
                    case "failedAt" -> failedAt = Instant.parse(p.getText());
                    case "source" -> {
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String name = p.currentName();
                            p.nextToken();
                            switch (name) {
                                case "table" -> table = p.getText();
                                case "region" -> region = p.getText();
                                case "streamArn" -> streamArn = p.getText();
                                default -> p.skipChildren();
                            }
                        }
                    }
                    case "event" -> {
                        long start = p.currentTokenLocation().getCharOffset();
                        p.skipChildren();
                        long end = p.currentTokenLocation().getCharOffset() + 1;
                        event = text.substring((int) start, (int) end);
                    }
                    default -> p.skipChildren();
                }
            }
            if (route == null || reason == null || attempts == null || failedAt == null || table == null
                    || event == null) {
                throw new IllegalArgumentException("route, reason, attempts, failedAt, source.table and event are "
                        + "required");
            }
            return new DeadLetter(route, JsonLinesReader.read(event, new Source(table, region, streamArn)), reason,
                    attempts, failedAt);
        } catch (java.time.format.DateTimeParseException e) {
            throw new IllegalArgumentException("failedAt must be an ISO-8601 instant");
        }
    }

    /** Builds an {@link S3DeadLetterSink}; the client and the bucket are required. */
    public static final class Builder {
        private S3Client client;
        private String bucket;
        private String prefix = "dead-letters";
        private String kmsKeyId;

        private Builder() {
        }

        /** The S3 client; the sink does not close it. */
        public Builder client(S3Client client) {
            this.client = Objects.requireNonNull(client, "client must not be null");
            return this;
        }

        public Builder bucket(String bucket) {
            this.bucket = Objects.requireNonNull(bucket, "bucket must not be null");
            return this;
        }

        /** The key prefix, without a leading or trailing '/'; {@code dead-letters} by default. */
        public Builder prefix(String prefix) {
            this.prefix = ObjectNames.checkPrefix("prefix", prefix);
            return this;
        }

        /** Server-side encryption with this KMS key; the bucket's default otherwise. */
        public Builder sseKms(String kmsKeyId) {
            this.kmsKeyId = Objects.requireNonNull(kmsKeyId, "kmsKeyId must not be null");
            return this;
        }

        /** @throws IllegalStateException naming the first missing setting */
        public S3DeadLetterSink build() {
            if (client == null) {
                throw new IllegalStateException("client is required");
            }
            if (bucket == null) {
                throw new IllegalStateException("bucket is required");
            }
            return new S3DeadLetterSink(this);
        }
    }
}
