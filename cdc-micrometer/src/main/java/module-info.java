/** Micrometer metrics for cdc-fanout pipelines and pollers. */
module io.cdcfanout.micrometer {
    requires transitive io.cdcfanout.api;
    requires transitive io.cdcfanout.dynamodb;
    requires transitive micrometer.core;

    exports io.cdcfanout.micrometer;
}
