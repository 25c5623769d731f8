package io.cdcfanout.examples.welcome;

import java.io.PrintStream;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** Prints each email (the address masked) instead of sending it; remembers keys in memory only. */
public final class LogEmailSender implements EmailSender {
    private final PrintStream out;
    private final Set<String> sent = ConcurrentHashMap.newKeySet();

    public LogEmailSender(PrintStream out) {
        this.out = out;
    }

    @Override
    public boolean send(Email email) {
        if (!sent.add(email.idempotencyKey())) {
            return false;
        }
        out.println("    mail to " + email.maskedTo() + ": " + email.subject());
        return true;
    }
}
