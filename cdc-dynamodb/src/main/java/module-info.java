/** DynamoDB Streams sources, record mapping and the table sink (filled by the DynamoDB issues). */
module io.cdcfanout.dynamodb {
    requires transitive io.cdcfanout.api;
}
