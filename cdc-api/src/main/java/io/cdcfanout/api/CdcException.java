package io.cdcfanout.api;

/**
 * The root of every exception cdc-fanout throws. {@link #retryable()} tells a transient failure
 * (throttling, a timeout, a 5xx) from a fatal one (bad input, a missing resource, denied access).
 */
public class CdcException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final boolean retryable;

    public CdcException(String message, boolean retryable) {
        super(message);
        this.retryable = retryable;
    }

    public CdcException(String message, Throwable cause, boolean retryable) {
        super(message, cause);
        this.retryable = retryable;
    }

    /** A failure that may succeed when tried again. */
    public static CdcException retryable(String message, Throwable cause) {
        return new CdcException(message, cause, true);
    }

    /** A failure that will fail again however often it is tried. */
    public static CdcException fatal(String message, Throwable cause) {
        return new CdcException(message, cause, false);
    }

    /** Whether trying the same operation again may succeed. */
    public boolean retryable() {
        return retryable;
    }
}
