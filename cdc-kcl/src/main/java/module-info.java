/** Runs a pipeline under KCL 3 with the DynamoDB Streams Kinesis Adapter. */
module io.cdcfanout.kcl {
    requires transitive io.cdcfanout.dynamodb;
    requires transitive amazon.kinesis.client;
    requires dynamodb.streams.kinesis.adapter;
    requires org.slf4j;

    exports io.cdcfanout.kcl;
}
