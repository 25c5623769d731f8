package io.cdcfanout.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.RetryPolicy;
import io.cdcfanout.lambda.DynamoDbStreamHandler;
import io.cdcfanout.dynamodb.poller.DynamoDbCheckpointStore;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.dynamodb.sink.ReplicationSink;
import io.cdcfanout.firehose.FirehoseSink;
import io.cdcfanout.s3sink.S3Sink;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** docs/configuration.md quotes the defaults' constants; each value there equals the constant it names. */
class ConfigurationDocTest {
    private static final Map<String, Class<?>> CLASSES = Map.ofEntries(
            Map.entry("Pipeline.Builder", Pipeline.Builder.class),
            Map.entry("BufferPolicy", BufferPolicy.class),
            Map.entry("RetryPolicy", RetryPolicy.class),
            Map.entry("Route", io.cdcfanout.api.pipeline.Route.class),
            Map.entry("StreamPoller.Builder", StreamPoller.Builder.class),
            Map.entry("DynamoDbCheckpointStore", DynamoDbCheckpointStore.class),
            Map.entry("DynamoDbStreamHandler", DynamoDbStreamHandler.class),
            Map.entry("FirehoseSink", FirehoseSink.class),
            Map.entry("S3Sink", S3Sink.class),
            Map.entry("ReplicationSink", ReplicationSink.class),
            Map.entry("MaterializedViewSink", io.cdcfanout.dynamodb.sink.MaterializedViewSink.class));
    /** Classes of modules that examples does not depend on; those modules check their own rows. */
    private static final List<String> CHECKED_ELSEWHERE = List.of("PipelineProcessorFactory");
    private static final Pattern ROW = Pattern.compile("^\\| [^|]+ \\| `([A-Za-z0-9.]+)\\.([A-Z_]+)` \\| ([0-9.]+)[^|]* \\|");

    @Test
    void everyDefaultInTheReferenceIsTheCodesConstant() throws IOException, ReflectiveOperationException {
        List<String> lines = Files.readAllLines(Path.of("../docs/configuration.md"));
        int checked = 0;
        for (String line : lines) {
            Matcher m = ROW.matcher(line);
            if (!m.find()) {
                continue;
            }
            if (CHECKED_ELSEWHERE.contains(m.group(1))) {
                continue;
            }
            Class<?> type = CLASSES.get(m.group(1));
            assertTrue(type != null, "unknown class in docs/configuration.md: " + m.group(1));
            Object value = type.getField(m.group(2)).get(null);
            assertEquals(0, new BigDecimal(value.toString()).compareTo(new BigDecimal(m.group(3))),
                    m.group(1) + "." + m.group(2) + " is " + value + " but the docs say " + m.group(3));
            checked++;
        }
        assertEquals(32, checked, "rows with a constant in docs/configuration.md");
    }
}
