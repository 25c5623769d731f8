package io.cdcfanout.api.pipeline;

/** Why a route's buffer was sent to its sink. */
public enum FlushCause {
    /** The buffer reached {@link BufferPolicy#maxEvents()}. */
    COUNT,
    /** The buffer reached {@link BufferPolicy#maxBytes()}. */
    BYTES,
    /** The oldest buffered event reached {@link BufferPolicy#maxAge()}. */
    AGE,
    /** {@link Pipeline#flush()} was called, or the route is draining after a halt. */
    FLUSH,
    /** {@link Pipeline#close()} is draining the buffer. */
    CLOSE
}
