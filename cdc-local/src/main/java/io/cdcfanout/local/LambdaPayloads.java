package io.cdcfanout.local;

import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import com.amazonaws.services.lambda.runtime.serialization.PojoSerializer;
import com.amazonaws.services.lambda.runtime.serialization.events.LambdaEventSerializers;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What crosses the wire between the event source mapping and a function: the event as the service
 * writes it (JSON), turned into a {@link DynamodbEvent} by the Lambda runtime's own serializers; and
 * the function's response, turned back into JSON and read as the mapping reads it.
 */
final class LambdaPayloads {
    private static final JsonFactory JSON = new JsonFactory();

    private LambdaPayloads() {
    }

    /** The event's JSON, as the mapping sends it for these records of {@code stream}. */
    static byte[] eventJson(SimulatedStream stream, List<SimulatedStream.Rec> records) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeArrayFieldStart("Records");
            for (SimulatedStream.Rec r : records) {
                g.writeStartObject();
                g.writeStringField("eventID", r.eventId());
                g.writeStringField("eventName", r.eventName());
                g.writeStringField("eventVersion", "1.1");
                g.writeStringField("eventSource", "aws:dynamodb");
                g.writeStringField("awsRegion", stream.region);
                g.writeObjectFieldStart("dynamodb");
                g.writeNumberField("ApproximateCreationDateTime", BigDecimal.valueOf(r.created().getEpochSecond()));
                g.writeFieldName("Keys");
                AttributeJson.map(g, r.keys());
                if (r.newImage() != null) {
                    g.writeFieldName("NewImage");
                    AttributeJson.map(g, r.newImage());
                }
                if (r.oldImage() != null) {
                    g.writeFieldName("OldImage");
                    AttributeJson.map(g, r.oldImage());
                }
                g.writeStringField("SequenceNumber", r.seq());
                g.writeNumberField("SizeBytes", r.sizeBytes());
                g.writeStringField("StreamViewType", "NEW_AND_OLD_IMAGES");
                g.writeEndObject();
                if (r.ttl()) {
                    g.writeObjectFieldStart("userIdentity");
                    g.writeStringField("type", "Service");
                    g.writeStringField("principalId", "dynamodb.amazonaws.com");
                    g.writeEndObject();
                }
                g.writeStringField("eventSourceARN", stream.streamArn);
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** The event as the Lambda runtime hands it to a handler loaded by {@code loader}. */
    static DynamodbEvent event(byte[] json, ClassLoader loader) {
        PojoSerializer<DynamodbEvent> s = LambdaEventSerializers.serializerFor(DynamodbEvent.class, loader);
        return s.fromJson(new ByteArrayInputStream(json));
    }

    /**
     * The item identifiers of a response's {@code batchItemFailures}, as the mapping reads them from the
     * response's JSON; null entries for identifiers that are missing or not strings.
     */
    static List<String> failures(StreamsEventResponse response, ClassLoader loader) {
        if (response == null) {
            return List.of();
        }
        PojoSerializer<StreamsEventResponse> s = LambdaEventSerializers.serializerFor(StreamsEventResponse.class, loader);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        s.toJson(response, out);
        List<String> ids = new ArrayList<>();
        try (JsonParser p = JSON.createParser(out.toByteArray())) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return List.of();
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken t = p.nextToken();
                if ("batchItemFailures".equals(name) && t == JsonToken.START_ARRAY) {
                    while (p.nextToken() == JsonToken.START_OBJECT) {
                        String id = null;
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String field = p.currentName();
                            JsonToken v = p.nextToken();
                            if ("itemIdentifier".equals(field) && v == JsonToken.VALUE_STRING) {
                                id = p.getText();
                            } else if (v.isStructStart()) {
                                p.skipChildren();
                            }
                        }
                        ids.add(id);
                    }
                } else if (t.isStructStart()) {
                    p.skipChildren();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return ids;
    }

    static String utf8(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
