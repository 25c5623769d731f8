package io.cdcfanout.local;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * An HTTP/1.1 proxy on 127.0.0.1 in front of a stand-in (DynamoDB Local, s3proxy, the Firehose
 * stand-in) that injects faults on the wire, for tests of what a real network does to the SDK: an
 * error status with the service's body, a connection dropped before the request reaches the server, a
 * connection dropped after the server applied it, or a stall. It can also add a fixed latency to every
 * answer, to emulate an in-region AWS round trip. Each request goes upstream on its own connection,
 * unchanged, so signatures stay valid. Thread-safe.
 */
public final class WireFaults implements AutoCloseable {

    /** A request as the proxy sees it: method, target (path and query) and headers (lower-case names). */
    public record Request(String method, String target, Map<String, String> headers) {
        /** The operation of an AWS JSON protocol request ({@code X-Amz-Target}, after the dot), or "". */
        public String operation() {
            String t = headers.getOrDefault("x-amz-target", "");
            return t.substring(t.indexOf('.') + 1);
        }
    }

    /** What a matched request gets. */
    public sealed interface Fault {
        /** An answer with this status and body; the request never reaches the server. */
        record Answer(int status, String contentType, String body) implements Fault {
        }

        /** The request is read, then the connection is reset: the server never sees it. */
        record DropBeforeApply() implements Fault {
        }

        /** The request is applied by the server, then the connection is reset before its answer. */
        record DropAfterApply() implements Fault {
        }

        /** The request waits, then goes on as usual. */
        record Stall(Duration pause) implements Fault {
        }

        /** An S3 error (XML body), such as 503 {@code SlowDown} or 500 {@code InternalError}. */
        static Fault s3Xml(int status, String code) {
            return new Answer(status, "application/xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code
                    + "</Code><Message>injected " + code + "</Message><RequestId>fault</RequestId></Error>");
        }

        /**
         * An AWS JSON protocol error (DynamoDB, DynamoDB Streams, Firehose): the status, and a body
         * naming the error type, as the services send it.
         */
        static Fault awsJson(int status, String type) {
            return new Answer(status, "application/x-amz-json-1.0",
                    "{\"__type\":\"com.amazonaws.dynamodb.v20120810#" + type + "\",\"message\":\"injected " + type
                            + "\"}");
        }
    }

    private static final class Rule {
        final Predicate<Request> matches;
        final Fault fault;
        int left;

        Rule(Predicate<Request> matches, Fault fault, int times) {
            this.matches = matches;
            this.fault = fault;
            this.left = times;
        }
    }

    private final int upstream;
    private final ServerSocket server;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "wire-faults");
        t.setDaemon(true);
        return t;
    });
    private final List<Rule> rules = new ArrayList<>();
    private final List<String> faulted = new ArrayList<>();
    private final List<String> seen = new ArrayList<>();
    private final AtomicLong requests = new AtomicLong();
    private volatile long latencyNanos;

    /**
     * A proxy to {@code upstream}, a loopback endpoint such as {@code http://127.0.0.1:8000}.
     *
     * @throws IOException if no loopback port can be bound
     */
    public WireFaults(URI upstream) throws IOException {
        Objects.requireNonNull(upstream, "upstream must not be null");
        this.upstream = upstream.getPort();
        this.server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        threads.execute(this::accept);
    }

    /** Where clients connect instead of the upstream. */
    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getLocalPort());
    }

    /** Serves {@code fault} to the next {@code times} requests that match, then lets them through. */
    public synchronized WireFaults inject(Predicate<Request> matches, Fault fault, int times) {
        rules.add(new Rule(Objects.requireNonNull(matches), Objects.requireNonNull(fault), times));
        return this;
    }

    /** Matches AWS JSON protocol requests of one operation, such as {@code GetRecords}. */
    public static Predicate<Request> operation(String name) {
        return r -> r.operation().equals(name);
    }

    /** Adds {@code latency} before every answer goes back (zero to stop); faults are not delayed. */
    public WireFaults latency(Duration latency) {
        this.latencyNanos = latency.toNanos();
        return this;
    }

    /** The faults served, as {@code FAULT OPERATION-or-TARGET}, in order. */
    public synchronized List<String> faulted() {
        return List.copyOf(faulted);
    }

    /** Whether every injected fault was served. */
    public synchronized boolean exhausted() {
        return rules.stream().allMatch(r -> r.left <= 0);
    }

    /** Waits until every injected fault was served; false if {@code timeout} passes first. */
    public synchronized boolean awaitExhausted(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!exhausted()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(left / 1_000_000 + 1);
        }
        return true;
    }

    /** How many requests came through the proxy. */
    public long requests() {
        return requests.get();
    }

    /** Every request seen, as {@code METHOD target}, in arrival order. */
    public synchronized List<String> requestLines() {
        return List.copyOf(seen);
    }

    private synchronized Fault match(Request request) {
        requests.incrementAndGet();
        seen.add(request.method() + " " + request.target());
        for (Iterator<Rule> it = rules.iterator(); it.hasNext();) {
            Rule r = it.next();
            if (r.left > 0 && r.matches.test(request)) {
                r.left--;
                notifyAll();
                String what = request.operation().isEmpty() ? request.method() + " " + request.target()
                        : request.operation();
                faulted.add(r.fault.getClass().getSimpleName() + " " + what);
                return r.fault;
            }
        }
        return null;
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                threads.execute(() -> serve(client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket client) {
        try (client) {
            client.setTcpNoDelay(true);
            InputStream in = client.getInputStream();
            OutputStream out = client.getOutputStream();
            while (true) {
                String head = readHead(in);
                if (head == null) {
                    return;
                }
                if (!exchange(head, in, out, client)) {
                    return;
                }
            }
        } catch (IOException | InterruptedException e) {
            // The client or the server went away; the client sees a broken connection and retries.
        }
    }

    /** One request and its answer; false when the connection must close. */
    private boolean exchange(String head, InputStream in, OutputStream out, Socket client)
            throws IOException, InterruptedException {
        String[] lines = head.split("\r\n");
        String[] requestLine = lines[0].split(" ");
        Map<String, String> headers = new LinkedHashMap<>();
        long length = 0;
        boolean expectContinue = false;
        StringBuilder forward = new StringBuilder(lines[0]).append("\r\n");
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            int colon = line.indexOf(':');
            String name = line.substring(0, Math.max(0, colon)).trim().toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).trim();
            headers.put(name, value);
            if (name.equals("content-length")) {
                length = Long.parseLong(value);
            } else if (name.equals("expect")) {
                expectContinue = value.equalsIgnoreCase("100-continue");
                continue;
            } else if (name.equals("connection")) {
                continue;
            }
            forward.append(line).append("\r\n");
        }
        forward.append("Connection: close\r\n\r\n");
        if (expectContinue) {
            out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }
        byte[] body = in.readNBytes((int) Math.min(length, Integer.MAX_VALUE));
        Fault fault = match(new Request(requestLine[0], requestLine[1], headers));
        if (fault instanceof Fault.DropBeforeApply) {
            client.setSoLinger(true, 0);
            return false;
        }
        if (fault instanceof Fault.Answer a) {
            byte[] bytes = a.body().getBytes(StandardCharsets.UTF_8);
            out.write(("HTTP/1.1 " + a.status() + " Injected\r\nContent-Type: " + a.contentType()
                    + "\r\nContent-Length: " + bytes.length + "\r\nx-amzn-RequestId: injected\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(bytes);
            out.flush();
            return true;
        }
        if (fault instanceof Fault.Stall s) {
            Thread.sleep(s.pause().toMillis());
        }
        byte[] answer;
        try (Socket up = new Socket(InetAddress.getLoopbackAddress(), upstream)) {
            up.setTcpNoDelay(true);
            OutputStream upOut = up.getOutputStream();
            upOut.write(forward.toString().getBytes(StandardCharsets.ISO_8859_1));
            upOut.write(body);
            upOut.flush();
            answer = up.getInputStream().readAllBytes();
        }
        if (fault instanceof Fault.DropAfterApply) {
            client.setSoLinger(true, 0);
            return false;
        }
        long latency = latencyNanos;
        if (latency > 0) {
            Thread.sleep(latency / 1_000_000, (int) (latency % 1_000_000));
        }
        out.write(answer);
        out.flush();
        return false; // the upstream answer carries "Connection: close" semantics: one exchange per connection
    }

    /** The request line and headers, without the blank line; null at end of stream. */
    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int state = 0;
        while (state < 4) {
            int b = in.read();
            if (b < 0) {
                return null;
            }
            head.write(b);
            state = b == '\r' && (state == 0 || state == 2) ? state + 1 : b == '\n' && (state == 1 || state == 3)
                    ? state + 1 : b == '\r' ? 1 : 0;
        }
        String s = head.toString(StandardCharsets.ISO_8859_1);
        return s.substring(0, s.length() - 4);
    }

    @Override
    public void close() throws IOException {
        server.close();
        threads.shutdownNow();
    }
}
