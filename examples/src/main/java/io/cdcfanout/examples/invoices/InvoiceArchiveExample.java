package io.cdcfanout.examples.invoices;

import io.cdcfanout.api.Operation;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.examples.Embedded;
import io.cdcfanout.examples.Flows;
import io.cdcfanout.local.LocalS3;
import io.cdcfanout.local.LocalDynamoDb;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * Invoices are issued, some are paid and a few voided; both archives, Firehose's and the direct S3 one,
 * end up holding every change exactly once.
 */
public final class InvoiceArchiveExample {
    /** The delivery stream's name. */
    public static final String DELIVERY_STREAM = "invoice-archive";

    /**
     * What the run did.
     *
     * @param changes stream events the writes caused
     * @param s3Objects direct archive objects, key to their JSON lines
     * @param firehoseObjects objects the Firehose stand-in delivered, key to their JSON lines
     * @param deadLetters events set aside
     * @param lagMillis write-to-delivery lag of each INSERT, sorted
     */
    public record Result(int changes, TreeMap<String, List<String>> s3Objects,
            TreeMap<String, List<String>> firehoseObjects, List<DeadLetter> deadLetters, List<Long> lagMillis) {

        /** The {@code q} quantile (0 to 1) of the write-to-delivery lag, in milliseconds. */
        public long lag(double q) {
            return lagMillis.isEmpty() ? -1 : lagMillis.get((int) Math.min(lagMillis.size() - 1,
                    Math.floor(q * lagMillis.size())));
        }
    }

    private InvoiceArchiveExample() {
    }

    public static void main(String[] args) {
        Embedded.runAndExit(env -> run(env, System.out, 300).s3Objects().keySet());
    }

    /** Issues {@code invoices} invoices, pays a quarter and voids a tenth, and archives every change. */
    public static Result run(Embedded env, PrintStream out, int invoices) {
        DynamoDbClient db = env.dynamoDb();
        LocalDynamoDb.createTable(db, InvoiceArchive.TABLE, StreamViewType.NEW_AND_OLD_IMAGES, "invoiceId:S");
        Flows.Progress progress = env.progress(out);
        List<DeadLetter> deadLetters = new ArrayList<>();
        int changes = 0;
        // A third route measures the lag from each invoice's write to its delivery. (The stream's own
        // creation time can't: DynamoDB Local rounds it down to the minute.)
        List<Long> lags = Collections.synchronizedList(new ArrayList<>());
        Sink<Map<String, AttributeValue>> lagMeter = batch -> {
            long now = System.currentTimeMillis();
            batch.events().forEach(e -> lags.add(now - Long.parseLong(e.after().orElseThrow().get("issuedAt").n())));
            return SinkResult.allDelivered(batch.size());
        };
        try (Pipeline<Map<String, AttributeValue>> pipeline = InvoiceArchive.pipeline(env.s3(), Embedded.BUCKET,
                env.firehose(), DELIVERY_STREAM, progress, letters -> {
                    synchronized (deadLetters) {
                        deadLetters.addAll(letters);
                    }
                })
                .route(Route.<Map<String, AttributeValue>>builder("lag").operations(Operation.INSERT).sink(lagMeter)
                        .buffer(BufferPolicy.builder().maxEvents(1).build()).build())
                .build();
                StreamPoller poller = StreamPoller.builder().streamsClient(env.streams(env.home()))
                        .table(InvoiceArchive.TABLE, db).pipeline(pipeline).pollInterval(Duration.ofMillis(20))
                        .build().start()) {
            Random random = new Random(7);
            for (int i = 0; i < invoices; i++) {
                String id = String.format("INV-%05d", i);
                String amount = (random.nextInt(100_000) + 100) / 100 + "." + String.format("%02d", random.nextInt(100));
                db.putItem(p -> p.tableName(InvoiceArchive.TABLE).item(Map.of(
                        "invoiceId", AttributeValue.fromS(id),
                        "customerId", AttributeValue.fromS("CUST-" + random.nextInt(20)),
                        "amount", AttributeValue.fromN(amount),
                        "currency", AttributeValue.fromS("EUR"),
                        "status", AttributeValue.fromS("ISSUED"),
                        "issuedAt", AttributeValue.fromN(Long.toString(System.currentTimeMillis())))));
                changes++;
            }
            out.println("  issued " + invoices + " invoices");
            for (int i = 0; i < invoices; i += 4) {
                String id = String.format("INV-%05d", i);
                db.updateItem(u -> u.tableName(InvoiceArchive.TABLE).key(Map.of("invoiceId", AttributeValue.fromS(id)))
                        .updateExpression("SET #s = :paid").expressionAttributeNames(Map.of("#s", "status"))
                        .expressionAttributeValues(Map.of(":paid", AttributeValue.fromS("PAID"))));
                changes++;
            }
            for (int i = 1; i < invoices; i += 10) {
                String id = String.format("INV-%05d", i);
                db.deleteItem(d -> d.tableName(InvoiceArchive.TABLE).key(Map.of("invoiceId", AttributeValue.fromS(id))));
                changes++;
            }
            out.println("  paid a quarter of them and voided a tenth: " + changes + " changes in all");
            int expected = changes;
            progress.await(() -> progress.count("firehose.delivered") + progress.count("firehose.deadLettered")
                    >= expected && progress.count("s3.delivered") + progress.count("s3.deadLettered") >= expected,
                    poller, Duration.ofSeconds(90), expected + " changes on both archive routes");
        }
        env.firehoseStandIn().flushDeliveries();
        TreeMap<String, byte[]> all = env.s3StandIn().contents(Embedded.BUCKET);
        TreeMap<String, List<String>> direct = new TreeMap<>();
        TreeMap<String, List<String>> viaFirehose = new TreeMap<>();
        all.forEach((key, bytes) -> {
            if (key.startsWith(InvoiceArchive.PREFIX + "/table=" + InvoiceArchive.TABLE + "/")) {
                direct.put(key, LocalS3.lines(key, bytes));
            } else if (key.startsWith(Embedded.FIREHOSE_PREFIX) && key.contains("/" + DELIVERY_STREAM + "-1-")) {
                viaFirehose.put(key, LocalS3.lines(key, bytes));
            }
        });
        List<Long> sorted = new ArrayList<>(lags);
        Collections.sort(sorted);
        return new Result(changes, direct, viaFirehose, List.copyOf(deadLetters), sorted);
    }
}
