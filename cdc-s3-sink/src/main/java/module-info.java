/** The Amazon S3 archive sink (filled by the S3 issue). */
module io.cdcfanout.s3sink {
    requires transitive io.cdcfanout.api;
}
