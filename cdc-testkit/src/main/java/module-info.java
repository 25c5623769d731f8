/** Test helpers for code that uses cdc-fanout: recording and scripted sinks, manual time, synthetic events. */
module io.cdcfanout.testkit {
    requires transitive io.cdcfanout.api;

    exports io.cdcfanout.testkit;
}
