package io.cdcfanout.local;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.retry.RetryMode;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * An S3-compatible server in-process: s3proxy with its in-memory blob store, on a random loopback
 * port, reached path-style by the real SDK client. Its threads are daemons.
 */
public final class LocalS3 implements AutoCloseable {
    /** The access key its clients sign with. */
    public static final String ACCESS_KEY = "cdc-access";
    /** The secret key its clients sign with. */
    public static final String SECRET_KEY = "cdc-secret";

    private final S3Proxy proxy;
    private final List<S3Client> clients = new ArrayList<>();

    /**
     * Starts the server.
     *
     * @throws IllegalStateException if it does not start
     */
    public LocalS3() {
        proxy = S3Proxy.builder().blobStore(new TransientNio2BlobStore())
                .endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                // Real S3 checks x-amz-expected-bucket-owner; s3proxy would refuse it as unknown.
                .ignoreUnknownHeaders(true)
                .build();
        try {
            proxy.start();
        } catch (Exception e) {
            throw new IllegalStateException("s3proxy did not start", e);
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!"STARTED".equals(proxy.getState())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("s3proxy did not start: " + proxy.getState());
            }
            Thread.onSpinWait();
        }
    }

    /** The loopback port it listens on. */
    public int port() {
        return proxy.getPort();
    }

    /** A client of this server; closed with it. */
    public S3Client client(ExecutionInterceptor... interceptors) {
        return client(port(), interceptors);
    }

    /** A client that sends its requests to {@code port} (a fault proxy in front of this server, say). */
    public S3Client client(int port, ExecutionInterceptor... interceptors) {
        S3Client c = S3Client.builder()
                .endpointOverride(URI.create("http://127.0.0.1:" + port))
                .forcePathStyle(true)
                .region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY,
                        SECRET_KEY)))
                .overrideConfiguration(o -> {
                    o.retryStrategy(RetryMode.STANDARD);
                    for (ExecutionInterceptor i : interceptors) {
                        o.addExecutionInterceptor(i);
                    }
                })
                .build();
        synchronized (clients) {
            clients.add(c);
        }
        return c;
    }

    /** Creates a bucket and returns its name. */
    public String bucket(String name) {
        S3Client c = client();
        c.createBucket(b -> b.bucket(name));
        return name;
    }

    /**
     * The lines of an object as stored, gunzipped when its key ends in {@code .gz}; none for an empty
     * object.
     */
    public static List<String> lines(String key, byte[] stored) {
        byte[] plain = stored;
        if (key.endsWith(".gz")) {
            try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(stored))) {
                plain = in.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException("gunzip of " + key + " failed", e);
            }
        }
        String text = new String(plain, StandardCharsets.UTF_8);
        return text.isEmpty() ? List.of() : List.of(text.split("\n"));
    }

    /** Every object of the bucket: key to bytes as stored, in key order. */
    public TreeMap<String, byte[]> contents(String bucket) {
        S3Client c = client();
        TreeMap<String, byte[]> all = new TreeMap<>();
        for (S3Object o : c.listObjectsV2Paginator(l -> l.bucket(bucket)).contents()) {
            all.put(o.key(), c.getObjectAsBytes(g -> g.bucket(bucket).key(o.key())).asByteArray());
        }
        return all;
    }

    @Override
    public void close() {
        synchronized (clients) {
            clients.forEach(S3Client::close);
        }
        try {
            proxy.stop();
        } catch (Exception e) {
            throw new IllegalStateException("s3proxy did not stop", e);
        }
    }
}
