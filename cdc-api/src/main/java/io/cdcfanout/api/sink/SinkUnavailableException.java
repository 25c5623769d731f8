package io.cdcfanout.api.sink;

import io.cdcfanout.api.CdcException;

/**
 * Thrown by {@link Sink#write} when the destination itself is unusable (it does not exist, access
 * is denied, a key is disabled), so no event could succeed. The route halts at once: its events are
 * neither retried nor dead-lettered but stay unacknowledged, and the source stops checkpointing past
 * them until the cause is fixed and {@code Pipeline.resume(route)} is called. Always fatal.
 */
public class SinkUnavailableException extends CdcException {
    private static final long serialVersionUID = 1L;

    /** The message names the destination and what is wrong with it. */
    public SinkUnavailableException(String message, Throwable cause) {
        super(message, cause, false);
    }
}
