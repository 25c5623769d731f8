package io.cdcfanout.examples.movies;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BufferPolicy;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.Sink;
import io.cdcfanout.api.sink.SinkResult;
import io.cdcfanout.dynamodb.poller.StreamPoller;
import io.cdcfanout.examples.Embedded;
import io.cdcfanout.examples.Flows;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.enhanced.dynamodb.document.EnhancedDocument;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeDefinition;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.BillingMode;
import software.amazon.awssdk.services.dynamodb.model.KeySchemaElement;
import software.amazon.awssdk.services.dynamodb.model.KeyType;
import software.amazon.awssdk.services.dynamodb.model.ReturnValue;
import software.amazon.awssdk.services.dynamodb.model.ScalarAttributeType;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/**
 * The Movies walk-through: Step 1 creates the {@code Movies} table (year N HASH, title S RANGE) with a
 * stream, Step 2 loads the bundled sample, Step 3 creates, reads, updates and deletes one movie. A
 * poller turns every write into a change event, which this example prints.
 */
public final class MoviesExample {
    /** The table's name. */
    public static final String TABLE = "Movies";

    /** What the run did: movies loaded, and one line per change event, in stream order. */
    public record Result(int loaded, List<String> changes) {
    }

    private MoviesExample() {
    }

    public static void main(String[] args) {
        Embedded.runAndExit(env -> run(env, System.out));
    }

    /** Runs the three steps and prints the change events they cause. */
    public static Result run(Embedded env, PrintStream out) {
        DynamoDbClient db = env.dynamoDb();

        // Step 1: the table, with a stream of old and new images.
        db.createTable(t -> t.tableName(TABLE)
                .keySchema(KeySchemaElement.builder().attributeName("year").keyType(KeyType.HASH).build(),
                        KeySchemaElement.builder().attributeName("title").keyType(KeyType.RANGE).build())
                .attributeDefinitions(
                        AttributeDefinition.builder().attributeName("year").attributeType(ScalarAttributeType.N).build(),
                        AttributeDefinition.builder().attributeName("title").attributeType(ScalarAttributeType.S).build())
                .billingMode(BillingMode.PAY_PER_REQUEST)
                .streamSpecification(s -> s.streamEnabled(true).streamViewType(StreamViewType.NEW_AND_OLD_IMAGES)));
        out.println("  Step 1: created table " + TABLE + " (year N HASH, title S RANGE) with a NEW_AND_OLD_IMAGES stream");

        List<String> changes = Collections.synchronizedList(new ArrayList<>());
        Sink<Map<String, AttributeValue>> printer = batch -> {
            for (ChangeEvent<? extends Map<String, AttributeValue>> e : batch.events()) {
                String line = describe(e);
                changes.add(line);
                out.println("    event: " + line);
            }
            return SinkResult.allDelivered(batch.size());
        };
        Flows.Progress progress = env.progress(out);
        Pipeline<Map<String, AttributeValue>> pipeline = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("print").sink(printer)
                        .buffer(BufferPolicy.builder().maxEvents(100).maxAge(Duration.ofMillis(50)).build()).build())
                .listener(progress).build();
        int loaded;
        try (pipeline; StreamPoller poller = StreamPoller.builder().streamsClient(env.streams(env.home()))
                .table(TABLE, db).pipeline(pipeline).pollInterval(Duration.ofMillis(20)).build().start()) {

            // Step 2: the bundled sample, one PutItem per movie.
            loaded = load(db, out);

            // Step 3: create, read, update and delete a movie.
            Map<String, AttributeValue> key = Map.of("year", n("2015"), "title", s("The Big New Movie"));
            db.putItem(p -> p.tableName(TABLE).item(Map.of("year", n("2015"), "title", s("The Big New Movie"),
                    "info", m(Map.of("plot", s("Nothing happens at all."), "rating", n("0"))))));
            out.println("  Step 3a: created " + key.get("title").s());

            Map<String, AttributeValue> read = db.getItem(g -> g.tableName(TABLE).key(key)).item();
            out.println("  Step 3b: read it back: plot = \"" + read.get("info").m().get("plot").s() + "\"");

            db.updateItem(u -> u.tableName(TABLE).key(key)
                    .updateExpression("SET info.rating = :r, info.plot = :p, info.actors = :a")
                    .expressionAttributeValues(Map.of(":r", n("5.5"), ":p", s("Everything happens all at once."),
                            ":a", l(s("Larry"), s("Moe"), s("Curly"))))
                    .returnValues(ReturnValue.UPDATED_NEW));
            out.println("  Step 3c: updated its rating, plot and actors");

            AttributeValue rating = db.updateItem(u -> u.tableName(TABLE).key(key)
                    .updateExpression("SET info.rating = info.rating + :val")
                    .expressionAttributeValues(Map.of(":val", n("1")))
                    .returnValues(ReturnValue.UPDATED_NEW)).attributes().get("info").m().get("rating");
            out.println("  Step 3d: incremented the rating atomically, to " + rating.n());

            db.updateItem(u -> u.tableName(TABLE).key(key)
                    .updateExpression("REMOVE info.actors[0]")
                    .conditionExpression("size(info.actors) > :num")
                    .expressionAttributeValues(Map.of(":num", n("2"))));
            out.println("  Step 3e: removed the first actor, on condition that there were more than two");

            db.deleteItem(d -> d.tableName(TABLE).key(key)
                    .conditionExpression("info.rating <= :val")
                    .expressionAttributeValues(Map.of(":val", n("10"))));
            out.println("  Step 3f: deleted it, on condition that its rating was at most 10");

            int expected = loaded + 5;
            progress.await(() -> changes.size() >= expected, poller, Duration.ofSeconds(60), expected + " change events");
        }
        return new Result(loaded, List.copyOf(changes));
    }

    /** Loads the bundled {@code moviedata.json}, the sample's JSON array of movies; returns the count. */
    static int load(DynamoDbClient db, PrintStream out) {
        JsonFactory json = new JsonFactory();
        int count = 0;
        try (InputStream in = MoviesExample.class.getResourceAsStream("/moviedata.json");
                JsonParser p = json.createParser(in)) {
            if (p.nextToken() != JsonToken.START_ARRAY) {
                throw new IllegalStateException("moviedata.json must hold a JSON array");
            }
            while (p.nextToken() == JsonToken.START_OBJECT) {
                StringWriter movie = new StringWriter();
                try (JsonGenerator g = json.createGenerator(movie)) {
                    g.copyCurrentStructure(p);
                }
                Map<String, AttributeValue> item = EnhancedDocument.fromJson(movie.toString()).toMap();
                db.putItem(r -> r.tableName(TABLE).item(item));
                count++;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading moviedata.json failed", e);
        }
        out.println("  Step 2: loaded " + count + " movies from moviedata.json");
        return count;
    }

    private static String describe(ChangeEvent<? extends Map<String, AttributeValue>> e) {
        Map<String, AttributeValue> image = e.after().isPresent() ? e.after().get() : e.before().orElseThrow();
        String movie = "(" + image.get("year").n() + ", \"" + image.get("title").s() + "\")";
        String changed = e.changedAttributes().map(c -> " changed " + c).orElse("");
        return String.format("%-6s %s %s%s", e.operation(), TABLE, movie, changed);
    }

    private static AttributeValue s(String v) {
        return AttributeValue.fromS(v);
    }

    private static AttributeValue n(String v) {
        return AttributeValue.fromN(v);
    }

    private static AttributeValue m(Map<String, AttributeValue> v) {
        return AttributeValue.fromM(v);
    }

    private static AttributeValue l(AttributeValue... v) {
        return AttributeValue.fromL(List.of(v));
    }
}
