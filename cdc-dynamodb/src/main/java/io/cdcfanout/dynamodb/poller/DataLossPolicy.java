package io.cdcfanout.dynamodb.poller;

/** What a poller does after it finds that records it had not read are gone from the stream. */
public enum DataLossPolicy {
    /** Stop the poller with a fatal error; an operator decides (for example, a backfill). The default. */
    FAIL,
    /** Report the loss and go on from the oldest record still there. */
    CONTINUE
}
