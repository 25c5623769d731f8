package io.cdcfanout.dynamodb.poller;

/** Test access to the poller's crash switch, for tests in other packages. */
public final class PollerAccess {
    private PollerAccess() {
    }

    /** Stops the poller at once, like a SIGKILL: no drain, no checkpoint, no release. */
    public static void crash(StreamPoller poller) {
        poller.abandon();
    }
}
