package io.cdcfanout.api.pipeline;

/** What a route does after it dead-letters an event. */
public enum PoisonPolicy {
    /**
     * Later events of the same key follow it to the dead-letter sink, so they never overtake it;
     * other keys keep flowing. {@link Pipeline#redrive} un-parks the key.
     */
    PARK_KEY,
    /**
     * The route stops: its later events are not delivered and not acknowledged, so the source
     * does not checkpoint past them. {@link Pipeline#resume} restarts it.
     */
    HALT_ROUTE
}
