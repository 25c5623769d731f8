package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.Source;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the poller's parts share: the stream, this worker, the clock, the listener (whose exceptions
 * are contained), and when the next shard discovery is due, which any part may bring forward.
 * Touched only by the poller thread.
 */
final class PollerContext {
    private static final Logger LOG = LoggerFactory.getLogger(PollerContext.class);

    final String streamArn;
    final Source source;
    final String workerId;
    final Clock clock;
    private final PollerListener listener;
    private long nextDiscovery;

    PollerContext(String streamArn, Source source, String workerId, Clock clock, PollerListener listener) {
        this.streamArn = streamArn;
        this.source = source;
        this.workerId = workerId;
        this.clock = clock;
        this.listener = listener;
    }

    long now() {
        return clock.millis();
    }

    long nextDiscovery() {
        return nextDiscovery;
    }

    /** Sets the next discovery, after one ran. */
    void discoverAt(long at) {
        nextDiscovery = at;
    }

    /** Brings the next discovery forward to {@code at} at the latest. */
    void discoverBy(long at) {
        nextDiscovery = Math.min(nextDiscovery, at);
    }

    /** Calls the listener; an exception from it is logged and ignored. */
    void tell(java.util.function.Consumer<PollerListener> call) {
        try {
            call.accept(listener);
        } catch (RuntimeException e) {
            LOG.warn("A poller listener threw {}; ignored", e.getClass().getName());
            LOG.debug("A poller listener threw", e);
        }
    }
}
