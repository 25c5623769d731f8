package io.cdcfanout.s3sink;

import io.cdcfanout.api.Position;
import java.nio.charset.StandardCharsets;

/**
 * The object key scheme. Keys are built from the data alone, and parsed back when the sink learns what
 * a partition already holds:
 * <ul>
 *   <li>a named shard: {@code <prefix>/<partition>/<shard>-<firstSeq>-<lastSeq>[-redrive].<ext>};
 *   <li>no named shard (Lambda): {@code <prefix>/<partition>/unknown-shard-<firstSeq>-<lastSeq>-<digest>.<ext>},
 *       where the digest (16 hex digits of SHA-256) is of the member events' ids, with a manifest of those
 *       ids beside it, {@code <prefix>/<partition>/_unknown-shard-...-<digest>.ids} (Athena, like Hive,
 *       skips files whose names start with '_');
 *   <li>redriven events: {@code <prefix>/<partition>/<shard>-<firstSeq>-<lastSeq>-<digest>-redrive.<ext>}.
 * </ul>
 * Snapshot events ({@code Operation.SNAPSHOT}, shard {@code snapshot}, sequence number 0) take the
 * members form under the sink's fixed snapshot partition.
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

    /**
     * {@code prefix} if it is usable as a key prefix (none, or path segments without a leading or trailing
     * '/'), named {@code setting} in the message otherwise.
     *
     * @throws IllegalArgumentException naming the setting and the broken rule
     */
    static String checkPrefix(String setting, String prefix) {
        java.util.Objects.requireNonNull(prefix, setting + " must not be null");
        String broken = prefix.isEmpty() ? null : checkPartition(prefix);
        if (broken != null) {
            throw new IllegalArgumentException(setting + " " + broken + " (was '" + prefix + "')");
        }
        return prefix;
    }

    /** The key prefix every object of one partition and shard starts with. */
    static String groupPrefix(String prefix, String partition, String shardId) {
        return (prefix.isEmpty() ? "" : prefix + "/") + partition + "/" + encode(shardId) + "-";
    }

    /** The full key of an object holding the events from {@code first} to {@code last}. */
    static String key(String groupPrefix, String first, String last, boolean redrive, String extension) {
        return groupPrefix + first + "-" + last + (redrive ? REDRIVE : "") + "." + extension;
    }

    /** The key of an object of events without a named shard: range and digest of its members. */
    static String memberKey(String groupPrefix, String first, String last, String digest, String extension) {
        return groupPrefix + first + "-" + last + "-" + digest + "." + extension;
    }

    /**
     * The key of an object of redriven events: range and digest of its members, then {@code -redrive};
     * neither index reads it, so a redriven event is never skipped and never hides another.
     */
    static String redriveKey(String groupPrefix, String first, String last, String digest, String extension) {
        return groupPrefix + first + "-" + last + "-" + digest + REDRIVE + "." + extension;
    }

    /** The key of the manifest of the object {@code dataKey}: the same name, '_' in front, {@code .ids}. */
    static String manifestKey(String dataKey, String extension) {
        int slash = dataKey.lastIndexOf('/');
        String base = dataKey.substring(0, dataKey.length() - extension.length() - 1);
        return base.substring(0, slash + 1) + "_" + base.substring(slash + 1) + ".ids";
    }

    /**
     * The range {@code {first, last}} of an object of events without a named shard, or null when the key
     * is not one of them (a redrive object, a foreign file, an older object without a digest).
     */
    static String[] memberRange(String groupPrefix, String key, String extension) {
        if (!key.startsWith(groupPrefix) || !key.endsWith("." + extension)) {
            return null;
        }
        String[] parts = key.substring(groupPrefix.length(), key.length() - extension.length() - 1).split("-");
        if (parts.length != 3 || !digits(parts[0]) || !digits(parts[1]) || !parts[2].matches("[0-9a-f]{16}")
                || Position.compareSequenceNumbers(parts[0], parts[1]) > 0) {
            return null;
        }
        return new String[] {parts[0], parts[1]};
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
