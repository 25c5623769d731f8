/**
 * The Amazon S3 archive sink (JSON Lines objects with replay-safe names, gzip, SSE and multipart) and an S3
 * dead-letter sink whose letters can be read back for redrive.
 */
module io.cdcfanout.s3sink {
    requires transitive io.cdcfanout.api;
    requires io.cdcfanout.dynamodb;
    requires io.cdcfanout.aws;
    requires transitive software.amazon.awssdk.services.s3;
    requires software.amazon.awssdk.core;
    requires software.amazon.awssdk.awscore;
    requires org.slf4j;
    requires com.fasterxml.jackson.core;

    exports io.cdcfanout.s3sink;
}
