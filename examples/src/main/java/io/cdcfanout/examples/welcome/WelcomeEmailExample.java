package io.cdcfanout.examples.welcome;

import io.cdcfanout.api.Operation;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.DynamoDbImages;
import io.cdcfanout.dynamodb.poller.CheckpointStore;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.examples.Embedded;
import io.cdcfanout.examples.Flows;
import io.cdcfanout.local.LocalDynamoDb;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import software.amazon.awssdk.enhanced.dynamodb.TableSchema;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Welcome emails: customers sign up (INSERT), some change their name (MODIFY), one leaves (REMOVE).
 * Only sign-ups send. Then the whole stream is read again from the start, as after a lost checkpoint:
 * the outbox refuses every second copy.
 */
public final class WelcomeEmailExample {
    /** The customers table. */
    public static final String TABLE = "Customers";
    /** The outbox table. */
    public static final String OUTBOX = "Outbox";

    /**
     * Customers created, emails sent on the first pass, emails sent on the replay, copies refused, outbox
     * rows, TTL expiries seen.
     */
    public record Result(int customers, long sent, long sentOnReplay, long refusedOnReplay, int outbox,
            long ttlExpiries) {
    }

    private WelcomeEmailExample() {
    }

    public static void main(String[] args) {
        Embedded.runAndExit(env -> run(env, System.out));
    }

    public static Result run(Embedded env, PrintStream out) {
        DynamoDbClient db = env.dynamoDb();
        LocalDynamoDb.createTable(db, TABLE, StreamViewType.NEW_AND_OLD_IMAGES, "customerId:S");
        LocalDynamoDb.createTable(db, OUTBOX, null, "messageId:S");
        // Trial accounts expire through DynamoDB's TTL; an expiry is a REMOVE by the service.
        db.updateTimeToLive(r -> r.tableName(TABLE)
                .timeToLiveSpecification(t -> t.enabled(true).attributeName("expiresAt")));
        EmailSender outbox = new OutboxEmailSender(db, OUTBOX);

        String[][] people = {{"Ada", "ada@example.com"}, {"Grace", "grace@example.com"},
            {"Linus", "linus@example.com"}, {"Barbara", "barbara@example.com"}, {"Ken", "ken@example.com"},
            {"Trial", "trial@example.com"}};
        WelcomeEmailSink first = new WelcomeEmailSink(outbox);
        long ttlExpiries;
        Flows.Progress progress = env.progress(out);
        try (Pipeline<Map<String, AttributeValue>> pipeline = pipeline(first, progress);
                StreamPoller poller = StreamPoller.builder().streamsClient(env.streams(env.home())).table(TABLE, db)
                        .pipeline(pipeline).pollInterval(Duration.ofMillis(20)).build().start()) {
            for (int i = 0; i < people.length; i++) {
                String id = "C-" + (i + 1);
                String[] p = people[i];
                Map<String, AttributeValue> item = new HashMap<>(Map.of("customerId", AttributeValue.fromS(id),
                        "name", AttributeValue.fromS(p[0]), "email", AttributeValue.fromS(p[1])));
                if (p[0].equals("Trial")) { // expired an hour ago: the TTL sweeper removes it soon
                    item.put("expiresAt", AttributeValue.fromN(Long.toString(Instant.now().getEpochSecond() - 3600)));
                }
                db.putItem(r -> r.tableName(TABLE).item(item));
            }
            db.updateItem(u -> u.tableName(TABLE).key(Map.of("customerId", AttributeValue.fromS("C-1")))
                    .updateExpression("SET #n = :n").expressionAttributeNames(Map.of("#n", "name"))
                    .expressionAttributeValues(Map.of(":n", AttributeValue.fromS("Ada Lovelace"))));
            db.deleteItem(d -> d.tableName(TABLE).key(Map.of("customerId", AttributeValue.fromS("C-5"))));
            out.println("  " + people.length + " sign-ups (one a trial that has expired), 1 name change, 1 account closed");
            progress.await(() -> first.sent() >= people.length && progress.count("ttl-expiries.delivered") >= 1,
                    poller, Duration.ofSeconds(60), "the welcome emails and the trial's TTL expiry");
        }
        ttlExpiries = progress.count("ttl-expiries.delivered");
        out.println("  sent " + first.sent() + " welcome emails; the MODIFY, the REMOVE and the TTL expiry ("
                + progress.count("ttl-expiries.delivered") + ") sent none");

        // A replay from the start of the stream, as after a lost checkpoint: a new poller, a new store.
        WelcomeEmailSink replay = new WelcomeEmailSink(outbox);
        Flows.Progress again = env.progress(out);
        try (Pipeline<Map<String, AttributeValue>> pipeline = pipeline(replay, again);
                StreamPoller poller = StreamPoller.builder().streamsClient(env.streams(env.home())).table(TABLE, db)
                        .checkpointStore(CheckpointStore.inMemory()).pipeline(pipeline)
                        .pollInterval(Duration.ofMillis(20)).build().start()) {
            again.await(() -> replay.sent() + replay.duplicates() >= people.length, poller, Duration.ofSeconds(60),
                    "the replayed sign-ups");
        }
        int rows = db.scan(s -> s.tableName(OUTBOX)).count();
        out.println("  replayed the stream: " + replay.sent() + " sent, " + replay.duplicates()
                + " refused as already sent; the outbox holds " + rows + " emails");
        return new Result(people.length, first.sent(), replay.sent(), replay.duplicates(), rows, ttlExpiries);
    }

    private static Pipeline<Map<String, AttributeValue>> pipeline(WelcomeEmailSink sink, Flows.Progress progress) {
        return Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("welcome")
                        .operations(Operation.INSERT)
                        .transform(DynamoDbImages.typed(TableSchema.fromBean(Customer.class)))
                        .sink(sink)
                        .buffer(BufferPolicy.builder().maxEvents(25).maxAge(Duration.ofMillis(100)).build())
                        .build())
                .route(Route.<Map<String, AttributeValue>>builder("ttl-expiries")   // counted, never mailed
                        .filter(e -> e.ttlExpiry())
                        .sink(batch -> SinkResult.allDelivered(batch.size()))
                        .build())
                .listener(progress)
                .build();
    }
}
