package io.cdcfanout.firehose;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.sink.EventSerializer;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.api.sink.SinkUnavailableException;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import io.cdcfanout.aws.internal.AwsErrors;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.firehose.FirehoseClient;
import software.amazon.awssdk.services.firehose.model.PutRecordBatchResponse;
import software.amazon.awssdk.services.firehose.model.PutRecordBatchResponseEntry;
import software.amazon.awssdk.services.firehose.model.Record;

/**
 * Delivers events to an Amazon Data Firehose delivery stream with PutRecordBatch, within its limits:
 * {@value #MAX_CALL_RECORDS} records and {@value #MAX_CALL_BYTES} bytes a call, {@value #MAX_RECORD_BYTES}
 * bytes a record. Records are cut greedily in order, which gives the fewest calls for the bytes.
 *
 * <p><b>Packing.</b> Firehose bills each record in 5 KB steps, so by default consecutive serialized
 * events (each newline-terminated) share a record up to {@link Builder#packTo} bytes; the
 * destination receives byte-identical JSON Lines. Without packing each event is one record.
 *
 * <p><b>Failures.</b> When a call succeeds with {@code FailedPutCount > 0}, only the events of the
 * failed records fail (retryable), so the pipeline resends just those, with backoff. Throttling,
 * 5xx, timeouts and dropped connections fail the call's events as retryable. A missing delivery
 * stream, denied access, an invalid argument or a KMS error halts the route
 * ({@link SinkUnavailableException}) with a message naming the stream. An event whose serialized
 * form exceeds a record is failed for good (dead-lettered), never truncated.
 *
 * <p>Counters: {@code firehose.requests}, {@code firehose.records}, {@code firehose.bytes} and
 * {@code firehose.billedUnits} (5 KB steps). Thread-safe if the serializer is.
 */
public final class FirehoseSink implements Sink<Object> {
    /** Records per PutRecordBatch call. */
    public static final int MAX_CALL_RECORDS = 500;
    /** Bytes per PutRecordBatch call (4 MiB). */
    public static final int MAX_CALL_BYTES = 4 * 1024 * 1024;
    /** Bytes per record (1000 KiB). */
    public static final int MAX_RECORD_BYTES = 1000 * 1024;
    /** Firehose's billing step per record, in bytes. */
    public static final int BILLING_STEP = 5 * 1024;

    private static final Set<String> STREAM_ERRORS = Set.of("ResourceNotFoundException", "AccessDeniedException",
            "InvalidArgumentException", "InvalidKMSResourceException", "KMSAccessDeniedException",
            "KMSDisabledException", "KMSNotFoundException", "KMSInvalidStateException", "KMSOptInRequired",
            "UnrecognizedClientException");

    private final FirehoseClient client;
    private final String stream;
    private final EventSerializer serializer;
    private volatile boolean closed;
    private final int packTo;
    private final boolean ownsClient;

    private FirehoseSink(Builder b) {
        this.ownsClient = b.client == null;
        this.client = ownsClient ? FirehoseClient.create() : b.client;
        this.stream = b.stream;
        this.serializer = b.serializer;
        this.packTo = b.packing ? b.packTo : 0;
    }

    /** Closes the client if the sink built it. */
    @Override
    public void close() {
        closed = true;
        if (ownsClient) {
            client.close();
        }
    }

    /** A builder; the delivery stream is required. */
    public static Builder builder() {
        return new Builder();
    }

    /** One Firehose record: its bytes and the batch indexes of the events in it. */
    private record Packed(byte[] data, List<Integer> events) {
    }

    /**
     * Large calls, since packing puts many events in a record: up to 10,000 events or 5 seconds (capacity
     * 20,000); the call limits (500 records, 4 MiB) still apply. Firehose buffers again on its side.
     */
    @Override
    public io.cdcfanout.api.pipeline.BufferPolicy defaultBuffer() {
        return io.cdcfanout.api.pipeline.BufferPolicy.builder().maxEvents(10_000)
                .maxAge(java.time.Duration.ofSeconds(5)).capacity(20_000).build();
    }

    /** The event's serialized record: byte triggers and the 4 MiB call limit count what is sent. */
    @Override
    public long estimateSize(io.cdcfanout.api.ChangeEvent<?> event) {
        try {
            return serializer.sizeOf(event);
        } catch (RuntimeException e) {
            return event.sizeBytes(); // the write fails this event, with the serializer's reason
        }
    }

    /** Thread-safe: a route may keep this many PutRecordBatch calls in flight. */
    @Override
    public int maxConcurrentCalls() {
        return 4;
    }

    @Override
    public SinkResult write(SinkBatch<?> batch) {
        if (closed) {
            throw new io.cdcfanout.api.sink.SinkUnavailableException("the Firehose sink of delivery stream '" + stream + "'" + " is closed: a pipeline closes its sinks when "
                    + "it closes; build a new sink for a new pipeline", null);
        }
        List<? extends ChangeEvent<?>> events = batch.events();
        SinkResult.Builder result = SinkResult.builder(events.size());
        List<Packed> records = pack(events, result);
        long requests = 0;
        long sentRecords = 0;
        long bytes = 0;
        long units = 0;
        int from = 0;
        while (from < records.size()) {
            int to = from;
            long callBytes = 0;
            while (to < records.size() && to - from < MAX_CALL_RECORDS
                    && callBytes + records.get(to).data.length <= MAX_CALL_BYTES) {
                callBytes += records.get(to).data.length;
                to++;
            }
            List<Packed> call = records.subList(from, to);
            List<Record> request = new ArrayList<>(call.size());
            for (Packed p : call) {
                request.add(Record.builder().data(SdkBytes.fromByteArrayUnsafe(p.data)).build());
            }
            requests++;
            try {
                PutRecordBatchResponse response = client.putRecordBatch(r -> r.deliveryStreamName(stream)
                        .records(request));
                List<PutRecordBatchResponseEntry> entries = response.requestResponses();
                for (int j = 0; j < call.size(); j++) {
                    PutRecordBatchResponseEntry entry = j < entries.size() ? entries.get(j) : null;
                    Packed p = call.get(j);
                    if (entry == null || entry.errorCode() != null) {
                        String reason = entry == null ? "Firehose returned no outcome for the record"
                                : "Firehose " + entry.errorCode() + " for a record of delivery stream '" + stream
                                        + "': " + entry.errorMessage();
                        for (int i : p.events) {
                            result.fail(i, reason, true);
                        }
                    } else {
                        sentRecords++;
                        bytes += p.data.length;
                        units += (p.data.length + BILLING_STEP - 1) / BILLING_STEP;
                    }
                }
            } catch (SdkException e) {
                String code = e instanceof AwsServiceException ase && ase.awsErrorDetails() != null
                        ? ase.awsErrorDetails().errorCode() : null;
                if (code != null && STREAM_ERRORS.contains(code)) {
                    throw new SinkUnavailableException("Firehose delivery stream '" + stream + "' cannot take records: "
                            + code + ": " + ((AwsServiceException) e).awsErrorDetails().errorMessage(), e);
                }
                // Unknown refusals are fatal; throttling, 5xx, timeouts and dropped connections are not.
                boolean retryable = AwsErrors.retryable(e);
                String reason = "PutRecordBatch to delivery stream '" + stream + "' failed: "
                        + (code != null ? code + ": " : "") + e.getMessage();
                for (Packed p : call) {
                    for (int i : p.events) {
                        result.fail(i, reason, retryable);
                    }
                }
            }
            from = to;
        }
        return result.count("firehose.requests", requests).count("firehose.records", sentRecords)
                .count("firehose.bytes", bytes).count("firehose.billedUnits", units).build();
    }

    /** Serializes and packs the events in order; oversize events fail for good and are left out. */
    private List<Packed> pack(List<? extends ChangeEvent<?>> events, SinkResult.Builder result) {
        List<Packed> records = new ArrayList<>();
        ByteArrayOutputStream current = new ByteArrayOutputStream();
        List<Integer> members = new ArrayList<>();
        for (int i = 0; i < events.size(); i++) {
            byte[] data;
            try {
                data = serializer.toBytes(events.get(i));
            } catch (RuntimeException e) {
                result.fail(i, "the serializer failed: " + e.getClass().getName() + ": " + e.getMessage(), false);
                continue;
            }
            if (data.length > MAX_RECORD_BYTES) {
                result.fail(i, "event " + events.get(i).eventId() + " serializes to " + data.length
                        + " bytes, over Firehose's limit of " + MAX_RECORD_BYTES + " bytes per record", false);
                continue;
            }
            if (packTo == 0) {
                records.add(new Packed(data, List.of(i)));
                continue;
            }
            if (current.size() > 0 && current.size() + data.length > packTo) {
                records.add(new Packed(current.toByteArray(), List.copyOf(members)));
                current.reset();
                members.clear();
            }
            current.write(data, 0, data.length);
            members.add(i);
        }
        if (current.size() > 0) {
            records.add(new Packed(current.toByteArray(), List.copyOf(members)));
        }
        return records;
    }

    /** Builds a {@link FirehoseSink}; reusable. */
    public static final class Builder {
        private FirehoseClient client;
        private String stream;
        private EventSerializer serializer;
        private boolean packing = true;
        private int packTo = MAX_RECORD_BYTES;

        private Builder() {
        }

        /**
         * The Firehose client, which the sink does not close. By default the sink builds one from the
         * default region and credentials chains, and closes it.
         */
        public Builder client(FirehoseClient client) {
            this.client = Objects.requireNonNull(client, "client must not be null");
            return this;
        }

        /** The delivery stream's name: 1 to 64 letters, digits, '_', '.' or '-'. */
        public Builder deliveryStream(String stream) {
            Objects.requireNonNull(stream, "deliveryStream must not be null");
            if (!stream.matches("[a-zA-Z0-9_.-]{1,64}")) {
                throw new IllegalArgumentException("deliveryStream must be 1 to 64 letters, digits, '_', '.' or '-' "
                        + "(was '" + stream + "')");
            }
            this.stream = stream;
            return this;
        }

        /** How events become bytes; by default {@code JsonLinesSerializer.plain()}, JSON Lines of DynamoDB events. */
        public Builder serializer(EventSerializer serializer) {
            this.serializer = Objects.requireNonNull(serializer, "serializer must not be null");
            return this;
        }

        /** Whether consecutive events share records; true by default. */
        public Builder packing(boolean packing) {
            this.packing = packing;
            return this;
        }

        /** The size a packed record grows to: 1 to {@value FirehoseSink#MAX_RECORD_BYTES} bytes; the maximum by default. */
        public Builder packTo(int bytes) {
            if (bytes < 1 || bytes > MAX_RECORD_BYTES) {
                throw new IllegalArgumentException("packTo must be between 1 and " + MAX_RECORD_BYTES
                        + " bytes, Firehose's record limit (was " + bytes + ")");
            }
            this.packTo = bytes;
            return this;
        }

        /**
         * A sink.
         *
         * @throws IllegalStateException if deliveryStream or serializer is missing
         */
        public FirehoseSink build() {
            if (stream == null) {
                throw new IllegalStateException("deliveryStream is required");
            }
            if (serializer == null) {
                serializer = io.cdcfanout.dynamodb.JsonLinesSerializer.plain();
            }
            return new FirehoseSink(this);
        }
    }
}
