/** The Amazon Data Firehose sink: PutRecordBatch within the service limits, packing JSON Lines. */
module io.cdcfanout.firehose {
    requires transitive io.cdcfanout.api;
    requires io.cdcfanout.dynamodb;
    requires io.cdcfanout.aws;
    requires transitive software.amazon.awssdk.services.firehose;
    requires software.amazon.awssdk.core;
    requires software.amazon.awssdk.awscore;
    requires org.slf4j;

    exports io.cdcfanout.firehose;
}
