package io.cdcfanout.examples.welcome;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Sends a welcome email for each new customer. Only INSERTs send (a MODIFY or a TTL delete never does),
 * and the event id is the email's idempotency key, so a replayed INSERT is not sent twice.
 */
public final class WelcomeEmailSink implements Sink<Customer> {
    private final EmailSender sender;
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong duplicates = new AtomicLong();

    public WelcomeEmailSink(EmailSender sender) {
        this.sender = sender;
    }

    @Override
    public SinkResult write(SinkBatch<? extends Customer> batch) {
        SinkResult.Builder result = SinkResult.builder(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            ChangeEvent<? extends Customer> e = batch.events().get(i);
            if (e.operation() != Operation.INSERT || e.ttlExpiry()) {
                continue;
            }
            Customer c = e.after().orElseThrow();
            if (c.getEmail() == null || c.getEmail().isBlank()) {
                result.fail(i, "customer " + c.getCustomerId() + " has no email attribute", false);
                continue;
            }
            Email email = new Email(e.eventId(), c.getEmail(), "Welcome, " + c.getName() + "!",
                    "Hello " + c.getName() + ", thank you for signing up.");
            try {
                if (sender.send(email)) {
                    sent.incrementAndGet();
                } else {
                    duplicates.incrementAndGet();
                }
            } catch (RuntimeException ex) {
                result.fail(i, "sending the welcome email failed: " + ex.getMessage(), true);
            }
        }
        return result.build();
    }

    /** Emails this sink sent. */
    public long sent() {
        return sent.get();
    }

    /** Emails the sender refused as already sent. */
    public long duplicates() {
        return duplicates.get();
    }
}
