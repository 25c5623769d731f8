package io.cdcfanout.s3sink;

import io.cdcfanout.api.Position;
import java.nio.charset.StandardCharsets;

/**
 * The object key scheme: {@code <prefix>/<partition>/<shard>-<firstSeq>-<lastSeq>[-redrive].<ext>}. Keys are
 * built from the data alone, and parsed back when the sink learns what a partition already holds.
 */
final class ObjectNames {
    /** Marks objects of redriven events, which the replay index leaves out. */
    static final String REDRIVE = "-redrive";

    private ObjectNames() {
    }

    /** Percent-encodes (UTF-8) everything outside {@code A-Z a-z 0-9 . _ -}. */
    static String encode(String value) {
        StringBuilder out = new StringBuilder(value.length());
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_'
                    || c == '-') {
                out.append((char) c);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            }
        }
        return out.toString();
    }

    /**
     * Checks a partitioner's output; null when it is usable, else the broken rule.
     */
    static String checkPartition(String partition) {
        if (partition == null || partition.isEmpty()) {
            return "is empty";
        }
        if (partition.startsWith("/") || partition.endsWith("/") || partition.contains("//")) {
            return "must not start or end with '/' or hold an empty segment";
        }
        if (partition.length() > 512) {
            return "is longer than 512 characters";
        }
        for (int i = 0; i < partition.length(); i++) {
            char c = partition.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '\\') {
                return "holds a control character or a backslash at index " + i;
            }
        }
        for (String segment : partition.split("/")) {
            if (segment.equals(".") || segment.equals("..")) {
                return "holds a '.' or '..' segment";
            }
        }
        return null;
    }

    /** The key prefix every object of one partition and shard starts with. */
    static String groupPrefix(String prefix, String partition, String shardId) {
        return (prefix.isEmpty() ? "" : prefix + "/") + partition + "/" + encode(shardId) + "-";
    }

    /** The full key of an object holding the events from {@code first} to {@code last}. */
    static String key(String groupPrefix, String first, String last, boolean redrive, String extension) {
        return groupPrefix + first + "-" + last + (redrive ? REDRIVE : "") + "." + extension;
    }

    /**
     * The sequence range {@code {first, last}} named by a key under {@code groupPrefix}, or null when the
     * key is not one of the sink's objects for that group (another shard whose id extends this one, a
     * redrive object, a foreign file).
     */
    static String[] range(String groupPrefix, String key, String extension) {
        if (!key.startsWith(groupPrefix) || !key.endsWith("." + extension)) {
            return null;
        }
        String rest = key.substring(groupPrefix.length(), key.length() - extension.length() - 1);
        int dash = rest.indexOf('-');
        if (dash <= 0 || dash == rest.length() - 1) {
            return null;
        }
        String first = rest.substring(0, dash);
        String last = rest.substring(dash + 1);
        if (!digits(first) || !digits(last) || Position.compareSequenceNumbers(first, last) > 0) {
            return null;
        }
        return new String[] {first, last};
    }

    private static boolean digits(String s) {
        if (s.isEmpty() || s.length() > 64) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }
}
