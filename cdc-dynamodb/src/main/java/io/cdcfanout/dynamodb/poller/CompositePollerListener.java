package io.cdcfanout.dynamodb.poller;

import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Calls several poller listeners in turn; one that throws is logged (without its message) and skipped. */
final class CompositePollerListener implements PollerListener {
    private static final Logger LOG = LoggerFactory.getLogger(CompositePollerListener.class);

    private final List<PollerListener> listeners;

    CompositePollerListener(List<? extends PollerListener> listeners) {
        this.listeners = List.copyOf(listeners);
    }

    private void each(String method, Consumer<PollerListener> call) {
        for (PollerListener l : listeners) {
            try {
                call.accept(l);
            } catch (RuntimeException e) {
                LOG.warn("PollerListener.{} threw {}; ignored", method, e.getClass().getName());
                LOG.debug("PollerListener.{} threw", method, e);
            }
        }
    }

    @Override
    public void onShardStarted(String shardId, String from) {
        each("onShardStarted", l -> l.onShardStarted(shardId, from));
    }

    @Override
    public void onRecords(String shardId, int records, Duration lag) {
        each("onRecords", l -> l.onRecords(shardId, records, lag));
    }

    @Override
    public void onIteratorExpired(String shardId, String resumeAfter) {
        each("onIteratorExpired", l -> l.onIteratorExpired(shardId, resumeAfter));
    }

    @Override
    public void onCheckpoint(String shardId, Checkpoint checkpoint) {
        each("onCheckpoint", l -> l.onCheckpoint(shardId, checkpoint));
    }

    @Override
    public void onShardFinished(String shardId) {
        each("onShardFinished", l -> l.onShardFinished(shardId));
    }

    @Override
    public void onDataLoss(DataLoss loss) {
        each("onDataLoss", l -> l.onDataLoss(loss));
    }

    @Override
    public void onBackoff(String shardId, Duration backoff, String reason) {
        each("onBackoff", l -> l.onBackoff(shardId, backoff, reason));
    }

    @Override
    public void onRewind(String shardId, String toCheckpoint, String reason) {
        each("onRewind", l -> l.onRewind(shardId, toCheckpoint, reason));
    }

    @Override
    public void onShardLost(String shardId, String reason) {
        each("onShardLost", l -> l.onShardLost(shardId, reason));
    }

    @Override
    public void onShardForgotten(String shardId) {
        each("onShardForgotten", l -> l.onShardForgotten(shardId));
    }
}
