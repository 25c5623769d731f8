package io.cdcfanout.export;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import io.cdcfanout.dynamodb.internal.DynamoDbJson;
import java.io.IOException;
import java.util.Map;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Reads one line of a DYNAMODB_JSON export data file, {@code {"Item":{"name":{"S":"..."},...}}}, into an
 * item. A line that breaks the format throws {@link BadLine}, whose message names the place (an attribute
 * path such as {@code Item.address.M.city}) and the rule, never a value.
 */
final class ExportLines {
    /** DynamoDB nests documents 32 levels deep; each level is two JSON objects (the value and its type). */
    private static final int MAX_DEPTH = 80;
    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build()).build();

    private ExportLines() {
    }

    /** A line that breaks the export format; the message names where and the rule. */
    static final class BadLine extends Exception {
        private static final long serialVersionUID = 1L;

        BadLine(String message) {
            super(message, null, false, false);
        }
    }

    /** The item of one line. */
    static Map<String, AttributeValue> item(String line) throws BadLine {
        try (JsonParser p = JSON.createParser(line)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new BadLine("the line must be a JSON object with an 'Item' field");
            }
            Map<String, AttributeValue> item = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                if (field.equals("Item")) {
                    if (item != null) {
                        throw new BadLine("'Item' appears twice");
                    }
                    item = DynamoDbJson.map(p, "Item");
                } else if (field.equals("NewImage") || field.equals("OldImage") || field.equals("Keys")) {
                    throw new BadLine("'" + field + "' belongs to an incremental export, which this reader does not "
                            + "read; a full export's lines hold 'Item'");
                } else {
                    p.skipChildren(); // room for fields AWS may add
                }
            }
            if (p.nextToken() != null) {
                throw new BadLine("the line holds more than one JSON value");
            }
            if (item == null) {
                throw new BadLine("the line has no 'Item' field");
            }
            return item;
        } catch (com.fasterxml.jackson.core.exc.StreamConstraintsException e) {
            throw new BadLine("the line nests deeper than DynamoDB allows (32 levels)");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new BadLine("the line is not valid JSON (at column " + e.getLocation().getColumnNr() + ")");
        } catch (DynamoDbJson.Bad e) {
            throw new BadLine(e.getMessage());
        } catch (IOException e) {
            throw new BadLine("the line could not be read: " + e.getClass().getSimpleName());
        }
    }

}
