/**
 * DynamoDB Streams sources: record mapping to change events, typed images, a JSON Lines serializer,
 * an embedded poller with durable checkpoints, table sinks and table snapshots. The Lambda source is in
 * cdc-lambda.
 */
@SuppressWarnings("module") // the modules it exports internals to are built after it
module io.cdcfanout.dynamodb {
    requires transitive io.cdcfanout.api;
    requires io.cdcfanout.aws;
    requires transitive software.amazon.awssdk.services.dynamodb;
    requires transitive software.amazon.awssdk.enhanced.dynamodb;
    requires transitive software.amazon.awssdk.core;
    requires software.amazon.awssdk.awscore;
    requires com.fasterxml.jackson.core;
    requires org.slf4j;

    exports io.cdcfanout.dynamodb;
    exports io.cdcfanout.dynamodb.poller;
    exports io.cdcfanout.dynamodb.sink;
    exports io.cdcfanout.dynamodb.snapshot;
    exports io.cdcfanout.dynamodb.internal to io.cdcfanout.export;
}
