/** The Amazon Data Firehose sink (filled by the Firehose issue). */
module io.cdcfanout.firehose {
    requires transitive io.cdcfanout.api;
}
