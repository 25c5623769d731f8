package io.cdcfanout.dynamodb;

import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.CdcException;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import software.amazon.awssdk.enhanced.dynamodb.TableSchema;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Route transforms that re-type raw item images into the application's own classes through a
 * dynamodb-enhanced {@link TableSchema} (bean, immutable or static). The typed event's
 * {@link ChangeEvent#raw()} keeps the raw images for archive sinks.
 *
 * <pre>{@code
 * Route.<Map<String, AttributeValue>>builder("welcome")
 *     .transform(DynamoDbImages.typed(TableSchema.fromBean(Customer.class)))
 *     .sink(welcomeSink)
 *     .build();
 * }</pre>
 */
public final class DynamoDbImages {
    private DynamoDbImages() {
    }

    /**
     * A transform that maps each present image with {@code schema}. A mapping failure is thrown as a
     * fatal {@link CdcException} naming the event and the class, which the pipeline dead-letters.
     *
     * @throws NullPointerException if schema is null
     */
    public static <T> Function<ChangeEvent<Map<String, AttributeValue>>, ChangeEvent<T>> typed(TableSchema<T> schema) {
        Objects.requireNonNull(schema, "schema must not be null");
        String type = schema.itemType().rawClass().getName();
        return event -> {
            try {
                return event.map(schema::mapToItem);
            } catch (CdcException e) {
                throw e;
            } catch (RuntimeException e) {
                // The message may quote a value; it goes to the dead letter, which holds the whole event anyway.
                throw new CdcException("cannot map an image of event " + event.eventId() + " to " + type + ": "
                        + e.getMessage(), e, false);
            }
        };
    }

    /**
     * The DynamoDB event behind {@code event}, whatever its route mapped the images to: an archive or
     * audit sink behind a typed route reads the stream's own images without a cast.
     *
     * @throws IllegalArgumentException if the event's raw images are not DynamoDB's (it did not come from a
     *     DynamoDB source)
     */
    @SuppressWarnings("unchecked")
    public static ChangeEvent<Map<String, AttributeValue>> raw(ChangeEvent<?> event) {
        ChangeEvent<?> raw = Objects.requireNonNull(event, "event must not be null").raw();
        Object image = raw.after().isPresent() ? raw.after().get() : raw.before().orElse(null);
        if (image != null && !(image instanceof Map<?, ?> m && m.values().stream().allMatch(v -> v instanceof AttributeValue))) {
            throw new IllegalArgumentException("event " + event.eventId() + " has raw images of type "
                    + image.getClass().getName() + ", not DynamoDB's Map<String, AttributeValue>");
        }
        return (ChangeEvent<Map<String, AttributeValue>>) raw;
    }
}
