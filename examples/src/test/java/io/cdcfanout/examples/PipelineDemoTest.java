package io.cdcfanout.examples;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Runs the demo, and checks from the module path that only the API packages are exported. */
class PipelineDemoTest {

    @Test
    void theDemoRunsAndEveryBatchIsAcknowledged() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        boolean ok = PipelineDemo.run(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(ok, out);
        assertTrue(out.contains("events submitted:        500 (acknowledged 500)"), out);
        assertTrue(out.contains("welcome emails sent:     120"), out);
        // evt-77 is poison; the three later events of its key follow it (the key is parked).
        assertTrue(out.contains("dead letters:            4"), out);
        assertTrue(out.contains("evt-77 on route archive after 1 attempt(s): record is larger than the archive accepts"),
                out);
        assertTrue(out.contains("evt-197 on route archive after 0 attempt(s): key parked"), out);
        assertTrue(out.contains("archived:                496 events"), out);
    }

    @Test
    void theApiIsANamedModuleThatExportsOnlyItsApiPackages() {
        Module api = ChangeEvent.class.getModule();
        assertTrue(api.isNamed(), "cdc-api is on the module path as a named module");
        assertTrue(api.isExported("io.cdcfanout.api"));
        assertTrue(api.isExported("io.cdcfanout.api.sink"));
        assertTrue(api.isExported("io.cdcfanout.api.pipeline"));
        assertTrue(api.getPackages().stream().allMatch(p -> api.isExported(p)),
                "every package of cdc-api is API; implementations are package-private");
        assertFalse(api.getDescriptor().requires().stream().anyMatch(r -> r.name().contains("awssdk")),
                "cdc-api requires no AWS module");
    }
}
