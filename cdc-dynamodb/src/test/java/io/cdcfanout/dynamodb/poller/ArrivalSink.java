package io.cdcfanout.dynamodb.poller;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** Records every delivered event with its arrival time, and lets a test wait for a count. */
final class ArrivalSink implements Sink<Map<String, AttributeValue>> {
    record Arrival(ChangeEvent<? extends Map<String, AttributeValue>> event, long atMillis) {
    }

    private final List<Arrival> arrivals = new ArrayList<>();

    @Override
    public synchronized SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
        long now = System.currentTimeMillis();
        for (ChangeEvent<? extends Map<String, AttributeValue>> e : batch.events()) {
            arrivals.add(new Arrival(e, now));
        }
        notifyAll();
        return SinkResult.allDelivered(batch.size());
    }

    /** Waits until at least {@code n} events arrived; false on timeout. */
    synchronized boolean await(int n, Duration timeout) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeout.toMillis();
        while (arrivals.size() < n) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                return false;
            }
            wait(left);
        }
        return true;
    }

    synchronized List<Arrival> arrivals() {
        return List.copyOf(arrivals);
    }

    synchronized int size() {
        return arrivals.size();
    }
}
