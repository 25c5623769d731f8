package io.cdcfanout.s3sink;

/** How an object's bytes are stored. */
public enum Compression {
    /** Plain lines; Content-Encoding is not set. */
    NONE,
    /** gzip, with {@code Content-Encoding: gzip} and a {@code .gz} extension; Athena reads it as is. */
    GZIP
}
