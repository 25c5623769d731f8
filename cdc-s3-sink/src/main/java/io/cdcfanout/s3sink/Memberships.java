package io.cdcfanout.s3sink;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Position;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;

/**
 * What the bucket holds of events whose source names no shard (Lambda). Such positions order one
 * item's changes but nothing across items: two shards, or concurrent batches of one shard
 * (ParallelizationFactor), interleave their sequence numbers under one id, so a range says nothing
 * about who is in it. Each such object therefore has a manifest of its members' event ids, written
 * before the object itself, and an event is archived already only if the manifest of an object whose
 * range holds it names it. The group is listed on every write (another container may have written
 * since), manifests are read once and kept ({@value #MAX_CACHED_IDS} ids at most). Not thread-safe.
 */
final class Memberships {
    static final int MAX_CACHED_IDS = 200_000;

    /** An object of the group: its key and range. */
    record Member(String key, String first, String last) {
        boolean covers(String seq) {
            return Position.compareSequenceNumbers(first, seq) <= 0 && Position.compareSequenceNumbers(seq, last) <= 0;
        }
    }

    private final S3Client client;
    private final S3Sink.Settings settings;
    private final String extension;
    private int cachedIds;
    private final Map<String, Set<String>> manifests = new LinkedHashMap<>(64, 0.75f, true);

    Memberships(S3Client client, S3Sink.Settings settings, String extension) {
        this.client = client;
        this.settings = settings;
        this.extension = extension;
    }

    /** The group's objects as the bucket lists them now. */
    List<Member> list(String groupPrefix, Runnable onList) {
        List<Member> members = new ArrayList<>();
        ShardRanges.list(client, settings, groupPrefix, onList, key -> {
            String[] range = ObjectNames.memberRange(groupPrefix, key, extension);
            if (range != null) {
                members.add(new Member(key, range[0], range[1]));
            }
        });
        return members;
    }

    /**
     * Whether an object of {@code members} holds the event: its range holds the event's sequence number
     * and its manifest names the event. An object without a manifest never counts as holding it.
     */
    boolean archived(List<Member> members, ChangeEvent<?> e, Runnable onGet) {
        String seq = e.position().sequenceNumber();
        String id = null;
        for (Member m : members) {
            if (m.covers(seq) && manifest(m.key(), onGet).contains(id == null ? id = identity(e) : id)) {
                return true;
            }
        }
        return false;
    }

    private Set<String> manifest(String dataKey, Runnable onGet) {
        Set<String> ids = manifests.get(dataKey);
        if (ids != null) {
            return ids;
        }
        onGet.run();
        try {
            String text = client.getObjectAsBytes(g -> g.bucket(settings.bucket())
                    .key(ObjectNames.manifestKey(dataKey, extension))
                    .expectedBucketOwner(settings.expectedBucketOwner())).asUtf8String();
            ids = new HashSet<>(List.of(text.split("\n")));
        } catch (NoSuchKeyException e) {
            ids = Set.of(); // written by an older version, or by hand: never a reason to skip
        }
        remember(dataKey, ids);
        return ids;
    }

    private void remember(String dataKey, Set<String> ids) {
        manifests.put(dataKey, ids);
        cachedIds += ids.size();
        var it = manifests.entrySet().iterator();
        while (cachedIds > MAX_CACHED_IDS && it.hasNext()) {
            var eldest = it.next();
            if (eldest.getKey().equals(dataKey)) {
                break;
            }
            cachedIds -= eldest.getValue().size();
            it.remove();
        }
    }

    /**
     * How a manifest names an event: sequence number, event id and a digest of the item key, so that
     * neither a reused event id nor a reused sequence number can make two events one.
     */
    static String identity(ChangeEvent<?> e) {
        return e.position().sequenceNumber() + " " + ObjectNames.encode(e.eventId()) + " "
                + digest(List.of(e.key().table(), e.key().canonical()));
    }

    /** Writes the manifest of the object {@code dataKey} holding {@code eventIds} (identities); one PUT. */
    void writeManifest(String dataKey, List<String> eventIds) {
        PutObjectRequest.Builder put = PutObjectRequest.builder().bucket(settings.bucket())
                .key(ObjectNames.manifestKey(dataKey, extension)).contentType("text/plain; charset=utf-8")
                .expectedBucketOwner(settings.expectedBucketOwner());
        settings.encryption().apply(put);
        client.putObject(put.build(), RequestBody.fromString(String.join("\n", eventIds), StandardCharsets.UTF_8));
        remember(dataKey, new HashSet<>(eventIds));
    }

    /** 16 hex digits of the SHA-256 of the members' event ids: two objects of one range differ by it. */
    static String digest(List<String> eventIds) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String id : eventIds) {
                sha.update(id.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) '\n');
            }
            return HexFormat.of().formatHex(sha.digest(), 0, 8);
        } catch (NoSuchAlgorithmException impossible) {
            throw new IllegalStateException(impossible);
        }
    }
}
