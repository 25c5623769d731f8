package io.cdcfanout.local;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A stand-in for DynamoDB's ExportTableToPointInTime, which DynamoDB Local lacks: writes an export as AWS
 * lays it out in S3 with format DYNAMODB_JSON, {@code <prefix>/AWSDynamoDB/<id>/manifest-summary.json},
 * {@code manifest-files.json} and gzipped {@code data/<name>.json.gz} files of {@code {"Item":...}} lines
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html).
 */
public final class LocalExport {
    private static final JsonFactory JSON = new JsonFactory();

    private LocalExport() {
    }

    /**
     * Exports {@code table} as it is now (one Scan) into {@code bucket} under {@code prefix}, dealt into
     * {@code files} data files, and returns the key of its manifest-summary.json.
     */
    public static String exportTable(software.amazon.awssdk.services.dynamodb.DynamoDbClient db, String table,
            S3Client s3, String bucket, String prefix, int files) {
        String tableArn = db.describeTable(r -> r.tableName(table)).table().tableArn();
        Instant exportTime = Instant.now();
        List<Map<String, AttributeValue>> items = db.scanPaginator(r -> r.tableName(table).consistentRead(true)).items()
                .stream().toList();
        String exportId = String.format("%014d-%08x", exportTime.toEpochMilli(), (table + exportTime).hashCode());
        return write(s3, bucket, prefix, exportId, tableArn, exportTime, lines(items, files));
    }

    /** Writes an export of the given lines, one list per data file; returns the key of manifest-summary.json. */
    public static String write(S3Client s3, String bucket, String prefix, String exportId, String tableArn, Instant exportTime,
            List<List<String>> fileLines) {
        String dir = prefix + "/AWSDynamoDB/" + exportId + "/";
        StringBuilder files = new StringBuilder();
        long total = 0;
        for (int i = 0; i < fileLines.size(); i++) {
            List<String> lines = fileLines.get(i);
            String key = dir + "data/" + "f" + i + "x7k2q" + ".json.gz";
            byte[] gz = gzip(String.join("\n", lines) + (lines.isEmpty() ? "" : "\n"));
            s3.putObject(r -> r.bucket(bucket).key(key), RequestBody.fromBytes(gz));
            files.append("{\"itemCount\":").append(lines.size()).append(",\"md5Checksum\":\"").append(md5(gz))
                    .append("\",\"etag\":\"0\",\"dataFileS3Key\":\"").append(key).append("\"}\n");
            total += lines.size();
        }
        s3.putObject(r -> r.bucket(bucket).key(dir + "manifest-files.json"), RequestBody.fromString(files.toString()));
        String summary = "{\"version\":\"2020-06-30\",\"exportArn\":\"" + tableArn + "/export/" + exportId + "\","
                + "\"startTime\":\"" + exportTime + "\",\"endTime\":\"" + exportTime.plusSeconds(300) + "\","
                + "\"tableArn\":\"" + tableArn + "\",\"tableId\":\"12345a12-abcd-123a-ab12-1234abc12345\","
                + "\"exportTime\":\"" + exportTime + "\",\"s3Bucket\":\"" + bucket + "\",\"s3Prefix\":\"" + prefix + "\","
                + "\"s3SseAlgorithm\":\"AES256\",\"s3SseKmsKeyId\":null,\"manifestFilesS3Key\":\"" + dir
                + "manifest-files.json\",\"billedSizeBytes\":0,\"itemCount\":" + total
                + ",\"outputFormat\":\"DYNAMODB_JSON\",\"exportType\":\"FULL_EXPORT\"}";
        s3.putObject(r -> r.bucket(bucket).key(dir + "manifest-summary.json"), RequestBody.fromString(summary));
        return dir + "manifest-summary.json";
    }

    /** The items dealt round-robin into {@code files} files of export lines. */
    public static List<List<String>> lines(List<Map<String, AttributeValue>> items, int files) {
        List<List<String>> out = new ArrayList<>();
        for (int i = 0; i < files; i++) {
            out.add(new ArrayList<>());
        }
        for (int i = 0; i < items.size(); i++) {
            out.get(i % files).add(line(items.get(i)));
        }
        return out;
    }

    /** One export line, {@code {"Item":{...}}}. */
    public static String line(Map<String, AttributeValue> item) {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(w)) {
            g.writeStartObject();
            g.writeFieldName("Item");
            AttributeJson.map(g, item);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return w.toString();
    }

    public static byte[] gzip(String text) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            gz.write(text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static String md5(byte[] bytes) {
        try {
            return Base64.getEncoder().encodeToString(MessageDigest.getInstance("MD5").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
