package io.cdcfanout.s3sink;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * What the bucket holds of each named shard: per partition and shard, the sequence ranges of its
 * objects, listed once on first use and kept up to date as the sink writes. Exact for a named shard
 * because its events reach the sink in order from one writer, and an object holds every event of its
 * range that the route sent: an event inside a range was written there or dead-lettered. Keeps
 * {@value #MAX_GROUPS} groups; one evicted is listed again when needed. Not thread-safe.
 */
final class ShardRanges {
    static final int MAX_GROUPS = 4096;

    private final S3Client client;
    private final S3Sink.Settings settings;
    private final String extension;
    private final Map<String, ArchivedRanges> groups = new LinkedHashMap<>(64, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, ArchivedRanges> eldest) {
            return size() > MAX_GROUPS;
        }
    };

    ShardRanges(S3Client client, S3Sink.Settings settings, String extension) {
        this.client = client;
        this.settings = settings;
        this.extension = extension;
    }

    /** The archived ranges of a group, listing the bucket if it is not known yet; counts LIST calls. */
    ArchivedRanges of(String groupPrefix, Runnable onList) {
        ArchivedRanges ranges = groups.get(groupPrefix);
        if (ranges != null) {
            return ranges;
        }
        ArchivedRanges listed = new ArchivedRanges();
        list(client, settings, groupPrefix, onList, key -> {
            String[] range = ObjectNames.range(groupPrefix, key, extension);
            if (range != null) {
                listed.add(range[0], range[1]);
            }
        });
        groups.put(groupPrefix, listed);
        return listed;
    }

    /** Every key under {@code prefix}, page by page. */
    static void list(S3Client client, S3Sink.Settings settings, String prefix, Runnable onList,
            Consumer<String> keys) {
        String token = null;
        do {
            String next = token;
            onList.run();
            var page = client.listObjectsV2(l -> l.bucket(settings.bucket()).prefix(prefix)
                    .continuationToken(next).expectedBucketOwner(settings.expectedBucketOwner()));
            for (S3Object o : page.contents()) {
                keys.accept(o.key());
            }
            token = Boolean.TRUE.equals(page.isTruncated()) ? page.nextContinuationToken() : null;
        } while (token != null);
    }
}
