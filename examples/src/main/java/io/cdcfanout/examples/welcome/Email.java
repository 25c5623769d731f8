package io.cdcfanout.examples.welcome;

import java.util.Objects;

/**
 * One email. {@code idempotencyKey} is the same for every attempt to send the same message (here the
 * change event's id), so a sender can refuse a second copy.
 */
public record Email(String idempotencyKey, String to, String subject, String body) {
    public Email {
        Objects.requireNonNull(idempotencyKey, "idempotencyKey must not be null");
        Objects.requireNonNull(to, "to must not be null");
        Objects.requireNonNull(subject, "subject must not be null");
        Objects.requireNonNull(body, "body must not be null");
    }

    /** The address with the local part masked, for logs: {@code a***@example.com}. */
    public String maskedTo() {
        int at = to.indexOf('@');
        return at <= 0 ? "***" : to.charAt(0) + "***" + to.substring(at);
    }
}
