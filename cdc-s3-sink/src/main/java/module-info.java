/** The Amazon S3 archive sink: JSON Lines objects with replay-safe names, gzip, SSE and multipart. */
module io.cdcfanout.s3sink {
    requires transitive io.cdcfanout.api;
    requires io.cdcfanout.aws;
    requires transitive software.amazon.awssdk.services.s3;
    requires software.amazon.awssdk.core;
    requires software.amazon.awssdk.awscore;
    requires org.slf4j;

    exports io.cdcfanout.s3sink;
}
