package io.cdcfanout.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The demo, that is every example flow, runs on the embedded default and every check of its summary holds. */
class DemoTest {

    @Test
    void everyFlowRunsAndEveryCheckHolds() {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(new Tee(captured, System.out), true, StandardCharsets.UTF_8);
        List<Demo.Line> summary = Demo.run(out);
        String text = captured.toString(StandardCharsets.UTF_8);

        assertEquals(List.of("movies", "invoices", "lag", "welcome", "replication", "metrics", "friends",
                "backfill", "dead letters"), summary.stream().map(Demo.Line::flow).toList());
        summary.forEach(line -> assertTrue(line.ok(), line.flow() + ": " + line.text()));
        // What a reader of the output is promised.
        assertTrue(text.contains("event: INSERT Movies (2013, \"Rush\")"), "the Movies events are shown");
        assertTrue(text.contains("event: REMOVE Movies (2015, \"The Big New Movie\")"), "Step 3's delete is shown");
        assertTrue(text.contains("s3://cdc-archive/archive/table=Invoices/dt="), "the S3 archive's objects are listed");
        assertTrue(text.contains("s3://cdc-archive/firehose/"), "Firehose's deliveries are listed");
        assertTrue(text.contains("replica in eu-west-1 equal to the source: yes"), text);
        assertTrue(text.contains("Events per route"), "events per route are summarized");
        assertTrue(text.contains("    ... "), "progress is printed while the flows run");
    }

    /** Writes to two streams. */
    private static final class Tee extends OutputStream {
        private final ByteArrayOutputStream a;
        private final PrintStream b;

        Tee(ByteArrayOutputStream a, PrintStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int c) {
            write(new byte[] {(byte) c}, 0, 1);
        }

        @Override
        public void write(byte[] bytes, int off, int len) {
            a.write(bytes, off, len);
            b.write(bytes, off, len);
        }
    }
}
