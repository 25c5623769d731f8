package io.cdcfanout.api.sink;

import java.util.List;

/**
 * Where poison events go. An event is acknowledged once this sink has accepted it, so
 * {@link #accept} must make the letters durable before it returns, and throw if it cannot: the
 * pipeline then retries, and halts the route rather than lose them.
 */
public interface DeadLetterSink extends AutoCloseable {

    /** Stores the letters durably, or throws. */
    void accept(List<DeadLetter> letters);

    @Override
    default void close() {
    }
}
