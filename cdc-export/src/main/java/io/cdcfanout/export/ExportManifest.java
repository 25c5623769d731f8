package io.cdcfanout.export;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An export's two manifests, as AWS writes them
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html):
 * {@code manifest-summary.json}, one JSON object, and {@code manifest-files.json}, one JSON object per line
 * for each data file.
 *
 * @param exportArn the export's ARN
 * @param exportTime the point in time the export holds
 * @param table the table's name, from {@code tableArn}
 * @param region the table's region, from {@code tableArn}
 * @param manifestFilesKey the key of {@code manifest-files.json}
 * @param itemCount the items in the export
 */
record ExportManifest(String exportArn, Instant exportTime, String table, String region, String manifestFilesKey,
        long itemCount) {
    private static final JsonFactory JSON = new JsonFactory();

    /** One data file of the export: its key and how many items (lines) it holds. */
    record DataFile(String key, long itemCount) {
    }

    /** Reads {@code manifest-summary.json}. */
    static ExportManifest summary(String text, String where) {
        Map<String, Object> f = object(text, where);
        String format = text(f, "outputFormat", where);
        if (!"DYNAMODB_JSON".equals(format)) {
            throw new IllegalArgumentException(where + ": outputFormat must be DYNAMODB_JSON (was '" + format
                    + "'); export again with ExportFormat DYNAMODB_JSON");
        }
        Object type = f.get("exportType");
        if (type != null && !"FULL_EXPORT".equals(type)) {
            throw new IllegalArgumentException(where + ": exportType must be FULL_EXPORT (was '" + type
                    + "'); incremental exports are not read by this source");
        }
        String tableArn = text(f, "tableArn", where);
        int slash = tableArn.indexOf(":table/");
        String[] arn = tableArn.split(":");
        if (slash < 0 || arn.length < 6 || tableArn.length() == slash + 7) {
            throw new IllegalArgumentException(where + ": tableArn must be a table's ARN, "
                    + "arn:<partition>:dynamodb:<region>:<account>:table/<name> (was '" + tableArn + "')");
        }
        String table = tableArn.substring(slash + 7);
        int extra = table.indexOf('/');
        table = extra < 0 ? table : table.substring(0, extra);
        Instant exportTime;
        try {
            exportTime = Instant.parse(text(f, "exportTime", where));
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException(where + ": exportTime must be an ISO-8601 instant such as "
                    + "2026-11-30T10:00:00Z");
        }
        Object items = f.get("itemCount");
        return new ExportManifest(text(f, "exportArn", where), exportTime, table, arn[3],
                text(f, "manifestFilesS3Key", where), items instanceof Long n ? n : -1);
    }

    /** Reads {@code manifest-files.json}: one data file per non-blank line. */
    static List<DataFile> files(String text, String where) {
        List<DataFile> files = new ArrayList<>();
        java.util.Set<String> keys = new java.util.HashSet<>();
        String[] lines = text.split("\n");
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            String at = where + " line " + (i + 1);
            Map<String, Object> f = object(lines[i], at);
            Object count = f.get("itemCount");
            if (!(count instanceof Long n) || n < 0) {
                throw new IllegalArgumentException(at + ": itemCount must be a whole number >= 0");
            }
            String key = text(f, "dataFileS3Key", at);
            if (!keys.add(key)) {
                throw new IllegalArgumentException(at + ": dataFileS3Key names a data file listed before");
            }
            files.add(new DataFile(key, n));
        }
        return files;
    }

    private static String text(Map<String, Object> fields, String name, String where) {
        Object v = fields.get(name);
        if (!(v instanceof String s) || s.isBlank()) {
            throw new IllegalArgumentException(where + ": " + name + " must be a non-empty string"
                    + (v == null ? " (it is missing)" : ""));
        }
        return s;
    }

    /** The top-level scalar fields of one JSON object (nested values are skipped). */
    private static Map<String, Object> object(String text, String where) {
        Map<String, Object> out = new HashMap<>();
        try (JsonParser p = JSON.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException(where + " must be a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken t = p.nextToken();
                switch (t) {
                    case VALUE_STRING -> out.put(name, p.getText());
                    case VALUE_NUMBER_INT -> out.put(name, p.getLongValue());
                    case START_OBJECT, START_ARRAY -> p.skipChildren();
                    default -> out.put(name, null);
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException(where + " is not valid JSON: " + e.getClass().getSimpleName());
        }
        return out;
    }
}
