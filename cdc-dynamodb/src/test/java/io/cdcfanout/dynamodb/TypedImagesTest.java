package io.cdcfanout.dynamodb;

import static io.cdcfanout.local.LocalDynamoDb.n;
import static io.cdcfanout.local.LocalDynamoDb.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.Operation;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.api.sink.DeadLetter;
import io.cdcfanout.local.LocalDynamoDb;
import io.cdcfanout.testkit.RecordingDeadLetterSink;
import io.cdcfanout.testkit.RecordingSink;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.enhanced.dynamodb.TableSchema;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/** Typed images through dynamodb-enhanced schemas, on records from DynamoDB Local, through a pipeline. */
class TypedImagesTest {
    private final LocalDynamoDb local = LocalDynamoDb.get();

    private List<ChangeEvent<Map<String, AttributeValue>>> eventsOf(String arn) {
        return StreamReader.readAll(local.streams(), arn).stream()
                .map(r -> StreamRecords.toEvent(r.record(), StreamRecords.sourceOf(arn), r.shardId())).toList();
    }

    @Test
    void aBeanRouteGetsTypedImagesWhileAnArchiveRouteKeepsTheRawOnes() {
        String table = LocalDynamoDb.uniqueName("Movies");
        String arn = local.createTable(table, StreamViewType.NEW_AND_OLD_IMAGES, "year:N", "title:S");
        local.client().putItem(r -> r.tableName(table).item(Map.of("year", n("2013"), "title", s("Rush"),
                "rating", n("8.123456789012345678901234567"), "genres", AttributeValue.builder().ss("drama", "sport")
                        .build())));
        local.client().updateItem(r -> r.tableName(table).key(Map.of("year", n("2013"), "title", s("Rush")))
                .updateExpression("SET rating = :r").expressionAttributeValues(Map.of(":r", n("8.5"))));

        RecordingSink<Movie> typed = new RecordingSink<>();
        RecordingSink<Map<String, AttributeValue>> archive = new RecordingSink<>();
        // The image type once, on the pipeline; routes configured in place.
        try (Pipeline<Map<String, AttributeValue>> p = DynamoDbPipeline.builder()
                .route("movies", r -> r.transform(DynamoDbImages.typed(TableSchema.fromBean(Movie.class))).sink(typed))
                .route("archive", r -> r.sink(archive))
                .build()) {
            BatchResult<Map<String, AttributeValue>> result = p.submit(eventsOf(arn)).thenCombine(p.flush(),
                    (r, v) -> r).join();
            assertTrue(result.succeeded(), result.toString());
        }
        ChangeEvent<? extends Movie> modify = typed.events().get(1);
        assertEquals(Operation.MODIFY, modify.operation());
        Movie before = modify.before().orElseThrow();
        Movie after = modify.after().orElseThrow();
        assertEquals(2013, after.getYear());
        assertEquals("Rush", after.getTitle());
        assertEquals(new BigDecimal("8.123456789012345678901234567"), before.getRating(), "exact decimal");
        assertEquals(new BigDecimal("8.5"), after.getRating());
        assertEquals(Set.of("drama", "sport"), after.getGenres());
        assertEquals(Set.of("rating"), modify.changedAttributes().orElseThrow());
        assertSame(archive.events().get(1), modify.raw(), "the typed event still reaches the raw one");
        // A sink behind the typed route reads the stream's own images without a cast.
        Map<String, AttributeValue> rawAfter = DynamoDbImages.raw(modify).after().orElseThrow();
        assertEquals(n("8.5"), rawAfter.get("rating"));
        assertThrows(IllegalArgumentException.class, () -> DynamoDbImages.raw(
                io.cdcfanout.testkit.TestEvents.forTable("T", "id").insert("a", Map.of("x", 1))));
        String line = new String(JsonLinesSerializer.plain().toBytes(modify), StandardCharsets.UTF_8);
        assertTrue(line.contains("\"rating\":8.123456789012345678901234567"), "an archive of a typed event is exact");
    }

    @Test
    void anImmutableClassMapsAndAMappingFailureIsDeadLettered() {
        String table = LocalDynamoDb.uniqueName("Customers");
        String arn = local.createTable(table, StreamViewType.NEW_IMAGE, "id:S");
        local.client().putItem(r -> r.tableName(table).item(Map.of("id", s("c1"), "email", s("a@example.com"),
                "visits", n("3"))));
        local.client().putItem(r -> r.tableName(table).item(Map.of("id", s("c2"), "visits", s("not a number"))));

        RecordingSink<Customer> sink = new RecordingSink<>();
        RecordingDeadLetterSink deadLetters = new RecordingDeadLetterSink();
        try (Pipeline<Map<String, AttributeValue>> p = Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("welcome").operations(Operation.INSERT)
                        .transform(DynamoDbImages.typed(TableSchema.fromImmutableClass(Customer.class)))
                        .sink(sink).build())
                .deadLetterSink(deadLetters)
                .build()) {
            BatchResult<Map<String, AttributeValue>> result = p.submit(eventsOf(arn)).thenCombine(p.flush(),
                    (r, v) -> r).join();
            assertTrue(result.succeeded(), "the bad item is dead-lettered, so the batch is acknowledged");
            assertEquals(1, result.deadLettered());
        }
        Customer c = sink.events().get(0).after().orElseThrow();
        assertEquals("c1", c.id());
        assertEquals("a@example.com", c.email());
        assertEquals(3, c.visits());
        DeadLetter letter = deadLetters.letters().get(0);
        assertEquals("welcome", letter.route());
        assertTrue(letter.reason().startsWith("the route's transform threw "), letter.reason());
        assertTrue(letter.reason().contains("to " + Customer.class.getName()), letter.reason());
        assertEquals(Map.of("id", s("c2"), "visits", s("not a number")), letter.event().after().orElseThrow(),
                "the dead letter holds the full raw event");
    }
}
