/** Runnable examples of cdc-fanout. */
module io.cdcfanout.examples {
    requires transitive io.cdcfanout.api;
    requires io.cdcfanout.testkit;

    exports io.cdcfanout.examples;
}
