/** A snapshot source that reads a DynamoDB export to Amazon S3 (DYNAMODB_JSON), one resumable data file at a time. */
module io.cdcfanout.export {
    requires transitive io.cdcfanout.dynamodb;
    requires io.cdcfanout.aws;
    requires transitive software.amazon.awssdk.services.s3;
    requires software.amazon.awssdk.core;
    requires software.amazon.awssdk.awscore;
    requires com.fasterxml.jackson.core;
    requires org.slf4j;

    exports io.cdcfanout.export;
}
