package io.cdcfanout.examples.welcome;

/**
 * Sends email. Implementations: {@link OutboxEmailSender} (a DynamoDB outbox table, used by the demo),
 * {@link LogEmailSender}, and {@link SesEmailSender} for Amazon SES, which lives here in the examples so
 * that the library itself never depends on SES.
 */
@FunctionalInterface
public interface EmailSender {

    /**
     * Sends the email, or does nothing if an email with the same idempotency key was sent before.
     *
     * @return true if this call sent it, false if it had been sent already
     * @throws RuntimeException if it could not be sent; the caller retries
     */
    boolean send(Email email);
}
