package io.cdcfanout.s3sink;

import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * One object, written as a stream: a single PutObject when it stays below the multipart threshold,
 * else a multipart upload whose parts (all but the last exactly {@code partSize}) go out as the bytes
 * come. {@link #finish} makes the object visible; {@link #abort} leaves nothing behind. SDK failures
 * are thrown as they are. Not thread-safe.
 */
final class ObjectUpload extends OutputStream {
    private static final Logger LOG = LoggerFactory.getLogger(ObjectUpload.class);

    private final S3Client client;
    private final S3Sink.Settings settings;
    private final String key;
    private byte[] buffer = new byte[64 * 1024];
    private int size;
    private String uploadId;
    private final List<CompletedPart> parts = new ArrayList<>();
    private long bytes;
    private long requests;
    private boolean failed;

    ObjectUpload(S3Client client, S3Sink.Settings settings, String key) {
        this.client = client;
        this.settings = settings;
        this.key = key;
    }

    @Override
    public void write(int b) {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] data, int off, int len) {
        if (failed) {
            return;
        }
        while (len > 0) {
            if (size == buffer.length) {
                // Never beyond the threshold (at least the part size): from there on, parts go out.
                buffer = Arrays.copyOf(buffer, Math.min(buffer.length * 2, settings.multipartThreshold()));
            }
            int n = Math.min(len, buffer.length - size);
            System.arraycopy(data, off, buffer, size, n);
            size += n;
            off += n;
            len -= n;
            try {
                drain(false);
            } catch (SdkException e) {
                failed = true;
                throw e;
            }
        }
    }

    /** Sends full parts once the object is known to be large; with {@code last}, also the rest. */
    private void drain(boolean last) {
        if (uploadId == null) {
            if (size < settings.multipartThreshold()) {
                return;
            }
            start();
        }
        int from = 0;
        while (size - from >= settings.partSize() || last && size - from > 0) {
            int n = Math.min(settings.partSize(), size - from);
            part(Arrays.copyOfRange(buffer, from, from + n));
            from += n;
        }
        System.arraycopy(buffer, from, buffer, 0, size - from);
        size -= from;
    }

    private void start() {
        CreateMultipartUploadRequest.Builder create = CreateMultipartUploadRequest.builder().bucket(settings.bucket())
                .key(key).contentType(settings.contentType()).contentEncoding(settings.contentEncoding())
                .checksumAlgorithm(ChecksumAlgorithm.CRC32).expectedBucketOwner(settings.expectedBucketOwner());
        settings.encryption().apply(create);
        requests++;
        uploadId = client.createMultipartUpload(create.build()).uploadId();
    }

    private void part(byte[] data) {
        int number = parts.size() + 1;
        requests++;
        UploadPartResponse r = client.uploadPart(p -> p.bucket(settings.bucket()).key(key).uploadId(uploadId)
                .partNumber(number).checksumAlgorithm(ChecksumAlgorithm.CRC32)
                .expectedBucketOwner(settings.expectedBucketOwner()), RequestBody.fromBytes(data));
        parts.add(CompletedPart.builder().partNumber(number).eTag(r.eTag()).checksumCRC32(r.checksumCRC32()).build());
        bytes += data.length;
    }

    /** Makes the object visible under its key. */
    void finish() {
        if (uploadId == null) {
            PutObjectRequest.Builder put = PutObjectRequest.builder().bucket(settings.bucket()).key(key)
                    .contentType(settings.contentType()).contentEncoding(settings.contentEncoding())
                    .contentLength((long) size).expectedBucketOwner(settings.expectedBucketOwner());
            settings.encryption().apply(put);
            requests++;
            client.putObject(put.build(), RequestBody.fromBytes(Arrays.copyOf(buffer, size)));
            bytes += size;
            size = 0;
            return;
        }
        drain(true);
        requests++;
        client.completeMultipartUpload(c -> c.bucket(settings.bucket()).key(key).uploadId(uploadId)
                .expectedBucketOwner(settings.expectedBucketOwner()).multipartUpload(m -> m.parts(parts)));
        uploadId = null;
    }

    /** Drops a started multipart upload, so S3 keeps no parts; a failure to do so is logged, not thrown. */
    void abort() {
        if (uploadId == null) {
            return;
        }
        String id = uploadId;
        uploadId = null;
        try {
            requests++;
            client.abortMultipartUpload(a -> a.bucket(settings.bucket()).key(key).uploadId(id)
                    .expectedBucketOwner(settings.expectedBucketOwner()));
        } catch (SdkException e) {
            LOG.warn("Could not abort multipart upload {} of s3://{}/{}; a lifecycle rule with "
                    + "AbortIncompleteMultipartUpload removes its parts: {}", id, settings.bucket(), key, e.toString());
        }
    }

    /** Whether the object went up in parts. */
    boolean multipart() {
        return !parts.isEmpty();
    }

    /** Bytes stored so far. */
    long bytes() {
        return bytes;
    }

    /** Requests sent so far, each billed as a PUT-class request. */
    long requests() {
        return requests;
    }
}
