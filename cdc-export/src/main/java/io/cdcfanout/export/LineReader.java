package io.cdcfanout.export;

import java.io.IOException;
import java.io.Reader;

/**
 * Reads lines of at most a given length: a longer line (a broken or hostile file) is skipped to its end
 * and reported as {@link #TOO_LONG}, so one line can never take the whole heap. Line ends are '\n', with
 * an optional '\r' before it. Not thread-safe.
 */
final class LineReader {
    /** What {@link #next} returns for a line longer than the limit (compare by identity). */
    static final String TOO_LONG = new String("<too long>");

    private final Reader in;
    private final int maxChars;
    private final char[] buffer = new char[1 << 16];
    private int pos;
    private int end;
    private boolean eof;

    LineReader(Reader in, int maxChars) {
        this.in = in;
        this.maxChars = maxChars;
    }

    /** The next line without its end, {@link #TOO_LONG}, or null at the end of the input. */
    String next() throws IOException {
        StringBuilder line = null;
        boolean tooLong = false;
        while (true) {
            if (pos == end) {
                if (eof || !fill()) {
                    if (line == null && !tooLong) {
                        return null;
                    }
                    return tooLong ? TOO_LONG : strip(line);
                }
            }
            int start = pos;
            while (pos < end && buffer[pos] != '\n') {
                pos++;
            }
            int length = pos - start;
            if (!tooLong) {
                int have = line == null ? 0 : line.length();
                if (have + length > maxChars) {
                    tooLong = true;
                    line = null;
                } else {
                    line = line == null ? new StringBuilder(Math.max(16, length)) : line;
                    line.append(buffer, start, length);
                }
            }
            if (pos < end) { // at '\n'
                pos++;
                return tooLong ? TOO_LONG : strip(line == null ? new StringBuilder() : line);
            }
        }
    }

    private boolean fill() throws IOException {
        int n = in.read(buffer, 0, buffer.length);
        if (n <= 0) {
            eof = true;
            pos = 0;
            end = 0;
            return false;
        }
        pos = 0;
        end = n;
        return true;
    }

    private static String strip(StringBuilder line) {
        int n = line.length();
        return n > 0 && line.charAt(n - 1) == '\r' ? line.substring(0, n - 1) : line.toString();
    }
}
