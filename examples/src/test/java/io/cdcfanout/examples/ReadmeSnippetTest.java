package io.cdcfanout.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Position;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import io.cdcfanout.testkit.RecordingSink;
import io.cdcfanout.testkit.TestEvents;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The README shows code that compiles and runs: the snippet is QuickStart's, line for line. */
class ReadmeSnippetTest {

    private static String between(String text, String begin, String end) {
        int from = text.indexOf(begin);
        int to = text.indexOf(end, from);
        assertTrue(from >= 0 && to > from, "markers " + begin + " .. " + end + " not found");
        String block = text.substring(from + begin.length(), to);
        return block.lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("```")
                && !l.startsWith("//") && !l.startsWith("<!--")).reduce("", (a, b) -> a + b + "\n");
    }

    @Test
    void theReadmeSnippetIsTheCompiledQuickStart() throws IOException {
        String source = Files.readString(Path.of("src/main/java/io/cdcfanout/examples/QuickStart.java"));
        String readme = Files.readString(Path.of("../README.md"));
        assertEquals(between(source, "// README:begin", "// README:end"),
                between(readme, "<!-- snippet:QuickStart:begin -->", "<!-- snippet:QuickStart:end -->"));
    }

    @Test
    void theQuickStartRuns() {
        RecordingSink<Map<String, Object>> emails = new RecordingSink<>();
        RecordingSink<Object> archive = new RecordingSink<>();
        TestEvents events = TestEvents.forTable("Customers", "id");
        List<ChangeEvent<Map<String, Object>>> batch = List.of(events.insert("c-1", Map.of("name", "Ada")),
                events.modify("c-1", Map.of("name", "Ada"), Map.of("name", "Ada L.")));
        BatchResult<Map<String, Object>> result = QuickStart.run(emails, archive, new RecordingDeadLetterSink(), batch);
        assertTrue(result.succeeded());
        assertEquals(List.of("evt-1"), emails.eventIds());
        assertEquals(List.of("evt-1", "evt-2"), archive.eventIds());
        assertEquals(new Position("shardId-000001", "101"), result.checkpoints().get("shardId-000001"));
    }
}
