package io.cdcfanout.testkit;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.api.sink.DeadLetterSink;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** A dead-letter sink that keeps letters in memory; it can be told to fail its next calls. Thread-safe. */
public final class RecordingDeadLetterSink implements DeadLetterSink {
    private final List<DeadLetter> letters = new ArrayList<>();
    private final AtomicInteger failuresLeft = new AtomicInteger();
    private final AtomicInteger calls = new AtomicInteger();

    /** An empty sink that accepts every call. */
    public RecordingDeadLetterSink() {
    }

    @Override
    public void accept(List<DeadLetter> batch) {
        calls.incrementAndGet();
        if (failuresLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw CdcException.retryable("scripted dead-letter sink failure", null);
        }
        synchronized (this) {
            letters.addAll(batch);
        }
    }

    /** The next {@code calls} calls throw a retryable {@link CdcException}. */
    public RecordingDeadLetterSink failNext(int calls) {
        failuresLeft.set(calls);
        return this;
    }

    /** Every accepted letter, in order; a copy. */
    public synchronized List<DeadLetter> letters() {
        return List.copyOf(letters);
    }

    /** The ids of the dead-lettered events, in order. */
    public synchronized List<String> eventIds() {
        return letters.stream().map(l -> l.event().eventId()).toList();
    }

    /** How many times {@link #accept} was called. */
    public int calls() {
        return calls.get();
    }

    /** Forgets the letters. */
    public synchronized void clear() {
        letters.clear();
    }
}
