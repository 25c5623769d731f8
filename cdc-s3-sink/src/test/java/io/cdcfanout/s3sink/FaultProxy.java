package io.cdcfanout.s3sink;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Predicate;

/**
 * An HTTP/1.1 proxy on loopback in front of the S3 stand-in that injects faults on the wire: a 503
 * SlowDown, a 500, or a connection dropped halfway through the request body. Each injected fault
 * serves the first request that matches it, once; everything else is forwarded untouched (one request
 * per connection), so signatures stay valid.
 */
final class FaultProxy implements AutoCloseable {

    /** What a matched request gets. */
    enum Fault {
        /** 503 SlowDown, S3's throttling answer; the body is read and discarded, nothing is stored. */
        SLOW_DOWN,
        /** 500 InternalError; nothing is stored. */
        INTERNAL_ERROR,
        /** Half the body is read, then the connection is reset; nothing is stored. */
        DROP_MID_BODY
    }

    private record Rule(String method, Predicate<String> target, Fault fault) {
    }

    private final int upstream;
    private final ServerSocket server;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "s3-fault-proxy");
        t.setDaemon(true);
        return t;
    });
    private final Deque<Rule> rules = new ArrayDeque<>();
    private final List<String> requests = new ArrayList<>();
    private final List<String> faulted = new ArrayList<>();

    FaultProxy(int upstreamPort) throws IOException {
        this.upstream = upstreamPort;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        threads.execute(this::accept);
    }

    int port() {
        return server.getLocalPort();
    }

    /** Serves {@code fault} to the next request with this method whose path and query match. */
    synchronized FaultProxy inject(String method, Predicate<String> target, Fault fault) {
        rules.add(new Rule(method, target, fault));
        return this;
    }

    /** Every request seen, as {@code METHOD /path?query}, in arrival order. */
    synchronized List<String> requests() {
        return List.copyOf(requests);
    }

    /** The requests that got a fault, as {@code FAULT METHOD /path?query}. */
    synchronized List<String> faulted() {
        return List.copyOf(faulted);
    }

    private synchronized Fault match(String method, String target) {
        requests.add(method + " " + target);
        for (Iterator<Rule> it = rules.iterator(); it.hasNext();) {
            Rule r = it.next();
            if (r.method.equals(method) && r.target.test(target)) {
                it.remove();
                faulted.add(r.fault + " " + method + " " + target);
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
            String head = readHead(in);
            if (head == null) {
                return;
            }
            String[] lines = head.split("\r\n");
            String[] requestLine = lines[0].split(" ");
            String method = requestLine[0];
            String target = requestLine[1];
            long length = 0;
            boolean expectContinue = false;
            StringBuilder forward = new StringBuilder(lines[0]).append("\r\n");
            for (int i = 1; i < lines.length; i++) {
                String line = lines[i];
                String name = line.substring(0, Math.max(0, line.indexOf(':'))).trim().toLowerCase(Locale.ROOT);
                String value = line.substring(line.indexOf(':') + 1).trim();
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
            Fault fault = match(method, target);
            if (fault == Fault.DROP_MID_BODY) {
                in.readNBytes((int) Math.min(length / 2, Integer.MAX_VALUE));
                client.setSoLinger(true, 0);
                return;
            }
            if (fault != null) {
                in.readNBytes((int) Math.min(length, Integer.MAX_VALUE));
                boolean slow = fault == Fault.SLOW_DOWN;
                String body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>"
                        + (slow ? "SlowDown" : "InternalError") + "</Code><Message>"
                        + (slow ? "Please reduce your request rate." : "We encountered an internal error.")
                        + "</Message><RequestId>fault</RequestId></Error>";
                byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
                out.write(("HTTP/1.1 " + (slow ? "503 Slow Down" : "500 Internal Server Error") + "\r\n"
                        + "Content-Type: application/xml\r\nContent-Length: " + bytes.length
                        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(bytes);
                out.flush();
                return;
            }
            try (Socket up = new Socket(InetAddress.getLoopbackAddress(), upstream)) {
                up.setTcpNoDelay(true);
                OutputStream upOut = up.getOutputStream();
                upOut.write(forward.toString().getBytes(StandardCharsets.ISO_8859_1));
                copy(in, upOut, length);
                upOut.flush();
                up.getInputStream().transferTo(out);
                out.flush();
            }
        } catch (IOException e) {
            // The client or the server went away; the client sees a broken connection and retries.
        }
    }

    private static void copy(InputStream in, OutputStream out, long length) throws IOException {
        byte[] buf = new byte[64 * 1024];
        long left = length;
        while (left > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) {
                throw new IOException("the client closed the request body early");
            }
            out.write(buf, 0, n);
            left -= n;
        }
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
