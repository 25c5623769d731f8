/**
 * What the AWS modules of cdc-fanout share, exported to them alone: one classification of AWS
 * errors. Not API.
 */
@SuppressWarnings("module") // the modules it exports to are built after it
module io.cdcfanout.aws {
    requires transitive software.amazon.awssdk.core;
    requires transitive software.amazon.awssdk.awscore;

    exports io.cdcfanout.aws.internal to io.cdcfanout.dynamodb, io.cdcfanout.s3sink, io.cdcfanout.firehose,
            io.cdcfanout.export;
}
