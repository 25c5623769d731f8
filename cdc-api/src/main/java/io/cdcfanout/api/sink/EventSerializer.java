package io.cdcfanout.api.sink;

import io.cdcfanout.api.ChangeEvent;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;

/**
 * Turns an event into the bytes of one record for an archive sink (S3, Firehose). Implementations
 * are thread-safe. They usually read {@link ChangeEvent#raw()} so that typed routes still archive the
 * full-fidelity images.
 */
public interface EventSerializer {

    /** Writes one complete record for {@code event}, including its terminator (a newline for JSON Lines). */
    void write(ChangeEvent<?> event, OutputStream out) throws IOException;

    /** One record as a new array. */
    default byte[] toBytes(ChangeEvent<?> event) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try {
            write(event, out);
        } catch (IOException e) {
            throw new UncheckedIOException("serializing event " + event.eventId() + " failed", e);
        }
        return out.toByteArray();
    }

    /**
     * The length of {@link #write}'s record for {@code event}, in bytes: what an archive's byte triggers
     * and limits count. By default the record is written to a counter, never held.
     */
    default long sizeOf(ChangeEvent<?> event) {
        long[] count = new long[1];
        OutputStream counter = new OutputStream() {
            @Override
            public void write(int b) {
                count[0]++;
            }

            @Override
            public void write(byte[] b, int off, int len) {
                count[0] += len;
            }
        };
        try {
            write(event, counter);
        } catch (IOException e) {
            throw new UncheckedIOException("serializing event " + event.eventId() + " failed", e);
        }
        return count[0];
    }

    /** The MIME type of a sequence of records. */
    default String contentType() {
        return "application/x-ndjson";
    }

    /** The file name extension for a sequence of records, without a dot. */
    default String fileExtension() {
        return "jsonl";
    }
}
