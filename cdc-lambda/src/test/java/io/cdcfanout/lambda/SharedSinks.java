package io.cdcfanout.lambda;

import io.cdcfanout.testkit.RecordingSink;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** Sinks that outlive a simulated container: in a package the containers do not load afresh. */
public final class SharedSinks {
    public static final RecordingSink<Map<String, AttributeValue>> ARCHIVE = new RecordingSink<>();
    public static final RecordingSink<Map<String, AttributeValue>> REPLICA = new RecordingSink<>();

    private SharedSinks() {
    }
}
