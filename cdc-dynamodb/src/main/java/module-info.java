/**
 * DynamoDB Streams sources: record mapping to change events, typed images, a JSON Lines serializer,
 * a Lambda handler and an embedded poller with durable checkpoints.
 */
module io.cdcfanout.dynamodb {
    requires transitive io.cdcfanout.api;
    requires io.cdcfanout.aws;
    requires transitive software.amazon.awssdk.services.dynamodb;
    requires transitive software.amazon.awssdk.enhanced.dynamodb;
    requires transitive software.amazon.awssdk.core;
    requires software.amazon.awssdk.awscore;
    requires transitive aws.lambda.java.core;
    requires transitive aws.lambda.java.events;
    requires com.fasterxml.jackson.core;
    requires org.slf4j;

    exports io.cdcfanout.dynamodb;
    exports io.cdcfanout.dynamodb.lambda;
    exports io.cdcfanout.dynamodb.poller;
    exports io.cdcfanout.dynamodb.sink;
    exports io.cdcfanout.dynamodb.snapshot;
}
