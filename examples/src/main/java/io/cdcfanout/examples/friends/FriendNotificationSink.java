package io.cdcfanout.examples.friends;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkBatch;
import io.cdcfanout.api.sink.SinkResult;
import java.util.Map;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * A user-defined sink: for each picture posted to a group, one notification for every other member.
 * Notifications are keyed by (friend, picture), so writing one again, after a retry or a replay, changes
 * nothing. A group that doesn't exist is a poison event: it goes to the dead-letter sink.
 */
public final class FriendNotificationSink implements Sink<Map<String, AttributeValue>> {
    private final DynamoDbClient db;
    private final String groups;
    private final String notifications;

    public FriendNotificationSink(DynamoDbClient db, String groups, String notifications) {
        this.db = db;
        this.groups = groups;
        this.notifications = notifications;
    }

    @Override
    public SinkResult write(SinkBatch<? extends Map<String, AttributeValue>> batch) {
        SinkResult.Builder result = SinkResult.builder(batch.size());
        long writes = 0;
        for (int i = 0; i < batch.size(); i++) {
            ChangeEvent<? extends Map<String, AttributeValue>> e = batch.events().get(i);
            Map<String, AttributeValue> picture = e.after().orElseThrow();
            String group = picture.get("groupId").s();
            String owner = picture.get("owner").s();
            try {
                Map<String, AttributeValue> g = db.getItem(r -> r.tableName(groups)
                        .key(Map.of("groupId", AttributeValue.fromS(group))).consistentRead(true)).item();
                if (g == null || g.isEmpty()) {
                    result.fail(i, "group '" + group + "' of picture " + picture.get("pictureId").s()
                            + " does not exist", false);
                    continue;
                }
                for (String friend : g.get("members").ss()) {
                    if (friend.equals(owner)) {
                        continue;
                    }
                    db.putItem(r -> r.tableName(notifications).item(Map.of(
                            "friend", AttributeValue.fromS(friend),
                            "pictureId", picture.get("pictureId"),
                            "from", AttributeValue.fromS(owner),
                            "groupId", AttributeValue.fromS(group))));
                    writes++;
                }
            } catch (SdkException ex) {
                result.fail(i, "notifying group '" + group + "' failed: " + ex.getMessage(), ex.retryable());
            }
        }
        return result.count("notifications.writes", writes).build();
    }
}
