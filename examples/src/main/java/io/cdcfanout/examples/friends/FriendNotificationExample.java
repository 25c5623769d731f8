package io.cdcfanout.examples.friends;

import io.cdcfanout.api.Operation;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.examples.Embedded;
import io.cdcfanout.examples.Flows;
import io.cdcfanout.local.LocalDynamoDb;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Friend notifications: when a picture is posted to a group, every other member of the group gets a
 * notification, fanned out by {@link FriendNotificationSink}. A picture posted to a group that doesn't
 * exist is dead-lettered with the reason, and the others go through.
 */
public final class FriendNotificationExample {
    public static final String GROUPS = "Groups";
    public static final String PICTURES = "Pictures";
    public static final String NOTIFICATIONS = "Notifications";

    /** Pictures posted, notifications expected and found, and the dead letters. */
    public record Result(int pictures, int expected, int notifications, List<DeadLetter> deadLetters) {
    }

    private FriendNotificationExample() {
    }

    public static void main(String[] args) {
        Embedded.runAndExit(env -> run(env, System.out));
    }

    public static Result run(Embedded env, PrintStream out) {
        DynamoDbClient db = env.dynamoDb();
        LocalDynamoDb.createTable(db, GROUPS, null, "groupId:S");
        LocalDynamoDb.createTable(db, PICTURES, StreamViewType.NEW_IMAGE, "groupId:S", "pictureId:S");
        LocalDynamoDb.createTable(db, NOTIFICATIONS, null, "friend:S", "pictureId:S");
        Map<String, List<String>> groups = Map.of(
                "hiking", List.of("ann", "bob", "cem", "dia"),
                "chess", List.of("bob", "eve"));
        groups.forEach((id, members) -> db.putItem(p -> p.tableName(GROUPS).item(Map.of(
                "groupId", AttributeValue.fromS(id), "members", AttributeValue.fromSs(members)))));
        String[][] posts = {{"hiking", "ann"}, {"hiking", "bob"}, {"chess", "eve"}, {"hiking", "dia"},
            {"chess", "bob"}, {"ghosts", "zed"}};

        List<DeadLetter> deadLetters = new ArrayList<>();
        Flows.Progress progress = env.progress(out);
        int expected = 0;
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("friends")
                        .operations(Operation.INSERT)
                        .sink(new FriendNotificationSink(db, GROUPS, NOTIFICATIONS))
                        .buffer(BufferPolicy.builder().maxEvents(50).maxAge(Duration.ofMillis(50)).build())
                        .build())
                .listener(progress)
                .deadLetterSink(letters -> {
                    synchronized (deadLetters) {
                        deadLetters.addAll(letters);
                    }
                })
                .build();
                StreamPoller poller = StreamPoller.builder().streamsClient(env.streams(env.home()))
                        .table(PICTURES, db).pipeline(pipeline).pollInterval(Duration.ofMillis(20)).build().start()) {
            for (int i = 0; i < posts.length; i++) {
                String id = "pic-" + (i + 1);
                String[] post = posts[i];
                db.putItem(p -> p.tableName(PICTURES).item(Map.of("groupId", AttributeValue.fromS(post[0]),
                        "pictureId", AttributeValue.fromS(id), "owner", AttributeValue.fromS(post[1]))));
                List<String> members = groups.get(post[0]);
                expected += members == null ? 0 : members.size() - 1;
            }
            out.println("  posted " + posts.length + " pictures, one of them to a group that doesn't exist");
            progress.await(() -> progress.count("friends.delivered") + progress.count("friends.deadLettered")
                    >= posts.length, poller, Duration.ofSeconds(60), "the notifications");
        }
        int found = db.scan(s -> s.tableName(NOTIFICATIONS)).count();
        out.println("  " + found + " notifications for " + expected + " friends; dead letters: "
                + deadLetters.stream().map(DeadLetter::reason).toList());
        return new Result(posts.length, expected, found, List.copyOf(deadLetters));
    }
}
