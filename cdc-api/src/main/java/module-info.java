/**
 * cdc-fanout's core: typed change events ({@code io.cdcfanout.api}), the sink SPI
 * ({@code io.cdcfanout.api.sink}) and the buffered fan-out pipeline ({@code io.cdcfanout.api.pipeline}).
 * It depends on no AWS artifact.
 */
module io.cdcfanout.api {
    requires org.slf4j;
    requires io.github.resilience4j.retry;
    requires io.github.resilience4j.core;

    exports io.cdcfanout.api;
    exports io.cdcfanout.api.sink;
    exports io.cdcfanout.api.pipeline;
}
