package io.cdcfanout.s3sink;

import io.cdcfanout.api.Position;
import java.util.Map;
import java.util.TreeMap;

/**
 * The sequence ranges of one partition and shard that objects in the bucket already hold. A shard's
 * live objects cover disjoint ranges, so the range that starts at or before a number is the only one
 * that can hold it. Not thread-safe.
 */
final class ArchivedRanges {
    private final TreeMap<String, String> byFirst = new TreeMap<>(Position::compareSequenceNumbers);

    /** Records an object holding the events from {@code first} to {@code last}. */
    void add(String first, String last) {
        byFirst.merge(first, last, (a, b) -> Position.compareSequenceNumbers(a, b) >= 0 ? a : b);
    }

    /** Whether an object's range holds {@code sequenceNumber}. */
    boolean contains(String sequenceNumber) {
        Map.Entry<String, String> floor = byFirst.floorEntry(sequenceNumber);
        return floor != null && Position.compareSequenceNumbers(sequenceNumber, floor.getValue()) <= 0;
    }

    int size() {
        return byFirst.size();
    }
}
