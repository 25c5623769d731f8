package io.cdcfanout.examples.backfill;

import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.dynamodb.sink.ReplicationSink;
import io.cdcfanout.dynamodb.snapshot.TableSnapshot;
import io.cdcfanout.examples.Embedded;
import io.cdcfanout.examples.Flows;
import io.cdcfanout.examples.replication.ReplicationExample;
import io.cdcfanout.local.LocalDynamoDb;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.PutRequest;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;
import software.amazon.awssdk.services.dynamodb.model.WriteRequest;

/**
 * Backfill: a replica of an existing {@code Customers} table, whose items are older than its stream.
 * The recipe: start the stream consumer first, then snapshot the table into the same pipeline while
 * the application keeps writing; stream changes supersede the snapshot's copies, so the replica ends
 * equal to the source with no deleted customer back.
 */
public final class BackfillExample {
    /** The existing table, in its own region here so that it is distinct from the welcome flow's. */
    public static final String TABLE = "Customers";
    /** The region of the existing table. */
    public static final String REGION = "ca-central-1";

    /**
     * What the run showed.
     *
     * @param loaded customers written before the stream was enabled
     * @param snapshotItems items the snapshot sent
     * @param changes writes the application made while the snapshot ran
     * @param items customers in the source at the end
     * @param replicaEqual whether the replica holds the same customers as the source
     */
    public record Result(int loaded, long snapshotItems, int changes, int items, boolean replicaEqual) {
    }

    private BackfillExample() {
    }

    public static void main(String[] args) {
        Embedded.runAndExit(env -> run(env, System.out));
    }

    public static Result run(Embedded env, PrintStream out) {
        DynamoDbClient source = env.dynamoDb(REGION);
        DynamoDbClient replica = env.dynamoDb(env.away());
        int loaded = 1_000;
        LocalDynamoDb.createTable(source, TABLE, null, "id:S");
        load(source, loaded);
        // The stream starts now; it holds none of the customers above.
        source.updateTable(r -> r.tableName(TABLE).streamSpecification(s -> s.streamEnabled(true)
                .streamViewType(StreamViewType.NEW_AND_OLD_IMAGES)));
        LocalDynamoDb.createTable(replica, TABLE, null, "id:S");
        out.println("  " + loaded + " customers in " + TABLE + " (" + REGION + "), written before its stream");

        Flows.Progress progress = env.progress(out);
        long sent;
        int changes = 200;
        boolean equal;
        int items;
        try (Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("backfill-replica")
                        .sink(ReplicationSink.builder().client(replica).table(TABLE).origin(REGION).build())
                        .buffer(BufferPolicy.builder().maxEvents(100).build())
                        .build())
                .listener(progress).build();
                // 1. The stream consumer first, so no change made from here on is missed.
                StreamPoller poller = StreamPoller.builder().streamsClient(env.streams(REGION)).table(TABLE, source)
                        .pipeline(pipeline).pollInterval(Duration.ofMillis(20)).build().start()) {
            // 2. The application keeps writing while the snapshot runs.
            Thread application = new Thread(() -> churn(source, changes, loaded));
            application.start();
            // 3. The snapshot, into the same pipeline, reporting each finished segment.
            java.util.concurrent.atomic.AtomicInteger reported = new java.util.concurrent.atomic.AtomicInteger();
            // DOC:begin
            sent = TableSnapshot.builder().client(source).table(TABLE).totalSegments(4).threads(2).pageLimit(100)
                    .progress(p -> {
                        if (p.unitsDone() > reported.getAndSet(p.unitsDone())) { // a segment finished
                            out.printf("  snapshot: %d items, %d/%d segments, %.0f items/s%n", p.items(),
                                    p.unitsDone(), p.units(), p.itemsPerSecond());
                        }
                    })
                    .build().run(pipeline);
            // DOC:end
            join(application);
            out.println("  snapshot sent " + sent + " customers; the application made " + changes + " changes meanwhile");
            progress.await(() -> ReplicationExample.items(source, TABLE).equals(ReplicationExample.items(replica, TABLE)),
                    poller, Duration.ofSeconds(60), "the backfilled replica to catch up");
            items = ReplicationExample.items(source, TABLE).size();
            equal = ReplicationExample.items(source, TABLE).equals(ReplicationExample.items(replica, TABLE));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        out.println("  replica in " + env.away() + " equal to the source: " + (equal ? "yes" : "no") + " (" + items
                + " customers)");
        return new Result(loaded, sent, changes, items, equal);
    }

    private static void load(DynamoDbClient db, int count) {
        List<WriteRequest> batch = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            batch.add(WriteRequest.builder().putRequest(PutRequest.builder().item(Map.of(
                    "id", AttributeValue.fromS("C-" + i), "name", AttributeValue.fromS("Customer " + i),
                    "visits", AttributeValue.fromN("0"))).build()).build());
            if (batch.size() == 25 || i == count - 1) {
                List<WriteRequest> chunk = List.copyOf(batch);
                db.batchWriteItem(r -> r.requestItems(Map.of(TABLE, chunk)));
                batch.clear();
            }
        }
    }

    private static void churn(DynamoDbClient db, int changes, int loaded) {
        Random random = new Random(5);
        for (int i = 0; i < changes; i++) {
            String id = "C-" + random.nextInt(loaded + 50); // some new customers too
            int visits = i + 1;
            if (random.nextInt(5) == 0) {
                db.deleteItem(d -> d.tableName(TABLE).key(Map.of("id", AttributeValue.fromS(id))));
            } else {
                db.putItem(p -> p.tableName(TABLE).item(Map.of("id", AttributeValue.fromS(id),
                        "name", AttributeValue.fromS("Customer " + id), "visits", AttributeValue.fromN("" + visits))));
            }
        }
    }

    private static void join(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
