package io.cdcfanout.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import io.cdcfanout.local.LocalExport;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/** Export lines and manifests without S3: every type, and a precise rule for each way a line breaks. */
class ExportLinesTest {
    private static final String SECRET = "s3cr3t-PII";

    @Test
    void everyTypeRoundTrips() throws Exception {
        Map<String, AttributeValue> item = Map.of(
                "id", AttributeValue.builder().s("a\"\u00e9\n").build(),
                "n", AttributeValue.builder().n("-12.5E3").build(),
                "b", AttributeValue.builder().b(SdkBytes.fromByteArray(new byte[] {0, -1, 7})).build(),
                "t", AttributeValue.builder().bool(true).build(),
                "z", AttributeValue.builder().nul(true).build(),
                "ss", AttributeValue.builder().ss("x", "y").build(),
                "ns", AttributeValue.builder().ns("1", "2.5").build(),
                "bs", AttributeValue.builder().bs(SdkBytes.fromUtf8String("q")).build(),
                "l", AttributeValue.builder().l(AttributeValue.builder().s("i").build(),
                        AttributeValue.builder().m(Map.of("deep", AttributeValue.builder().n("1").build())).build()).build(),
                "m", AttributeValue.builder().m(Map.of()).build());
        assertEquals(item, ExportLines.item(LocalExport.line(item)));
    }

    @Test
    void aBrokenLineNamesThePlaceAndTheRuleButNoValue() {
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("{\"Item\":{\"id\":{\"X\":\"" + SECRET + "\"}}}", "Item.id has the unknown type 'X' (must be S, N, B, BOOL, NULL, SS, NS, BS, L or M)");
        cases.put("{\"Item\":{\"id\":{\"S\":\"" + SECRET + "\"", "the line is not valid JSON (at column 32)");
        cases.put("{\"Itm\":{\"id\":{\"S\":\"" + SECRET + "\"}}}", "the line has no 'Item' field");
        cases.put("[\"" + SECRET + "\"]", "the line must be a JSON object with an 'Item' field");
        cases.put("{\"Keys\":{\"id\":{\"S\":\"" + SECRET + "\"}}}", "'Keys' belongs to an incremental export, which "
                + "this reader does not read; a full export's lines hold 'Item'");
        cases.put("{\"Item\":{\"a\":{\"M\":{\"b\":{\"NULL\":false}}}}}", "Item.a.M.b.NULL must be true");
        cases.put("{\"Item\":{\"a\":{\"B\":\"" + SECRET + "!\"}}}", "Item.a.B must be base64");
        cases.put("{\"Item\":{\"a\":{\"S\":\"" + SECRET + "\"},\"a\":{\"S\":\"x\"}}}", "Item.a appears twice");
        cases.put("{\"Item\":{\"a\":{\"S\":\"x\",\"N\":\"1\"}}}", "Item.a must hold exactly one type key");
        cases.put("{\"Item\":{\"a\":{\"L\":[{\"N\":1}]}}}", "Item.a.L[0].N must be a string");
        cases.put("{\"Item\":{\"a\":{\"SS\":\"" + SECRET + "\"}}}", "Item.a.SS must be an array");
        cases.put("{\"Item\":{\"a\":\"" + SECRET + "\"}}", "Item.a must be an object with one type key (S, N, B, BOOL, NULL, SS, NS, BS, L or M)");
        cases.put("{\"Item\":{}} {}", "the line holds more than one JSON value");
        cases.put("{\"Item\":" + "{\"a\":{\"M\":".repeat(50) + "{}" + "}}".repeat(50) + "}", "the line nests deeper than DynamoDB allows (32 levels)");
        cases.forEach((line, rule) -> {
            ExportLines.BadLine bad = assertThrows(ExportLines.BadLine.class, () -> ExportLines.item(line), line);
            assertEquals(rule, bad.getMessage(), line);
            assertFalse(bad.getMessage().contains(SECRET));
        });
    }

    @Test
    void manifestsAreReadAsAwsWritesThemAndRefusedWithTheRule() {
        String summary = "{\"version\":\"2020-06-30\",\"exportArn\":\"arn:aws:dynamodb:us-east-1:123456789012:table/"
                + "ProductCatalog/export/01234567890123-a1b2c3d4\",\"startTime\":\"2020-11-04T07:28:34.028Z\","
                + "\"endTime\":\"2020-11-04T07:33:43.897Z\",\"tableArn\":\"arn:aws:dynamodb:us-east-1:123456789012:"
                + "table/ProductCatalog\",\"tableId\":\"12345a12-abcd-123a-ab12-1234abc12345\",\"exportTime\":"
                + "\"2020-11-04T07:28:34.028Z\",\"s3Bucket\":\"ddb-productcatalog-export\",\"s3Prefix\":\"2020-Nov\","
                + "\"s3SseAlgorithm\":\"AES256\",\"s3SseKmsKeyId\":null,\"manifestFilesS3Key\":\"2020-Nov/AWSDynamoDB/"
                + "01234567890123-a1b2c3d4/manifest-files.json\",\"billedSizeBytes\":0,\"itemCount\":8,"
                + "\"outputFormat\":\"DYNAMODB_JSON\"}";
        ExportManifest m = ExportManifest.summary(summary, "s");
        assertEquals("ProductCatalog", m.table());
        assertEquals("us-east-1", m.region());
        assertEquals(8, m.itemCount());
        assertEquals(java.time.Instant.parse("2020-11-04T07:28:34.028Z"), m.exportTime());
        assertEquals("2020-Nov/AWSDynamoDB/01234567890123-a1b2c3d4/manifest-files.json", m.manifestFilesKey());
        assertEquals(List.of(new ExportManifest.DataFile("2020-Nov/AWSDynamoDB/01234567890123-a1b2c3d4/data/asdl123dasas.json.gz", 8)),
                ExportManifest.files("{\"itemCount\":8,\"md5Checksum\":\"sQMSpEILNgoQmarvDFonGQ==\",\"etag\":"
                        + "\"af83d6f217c19b8b0fff8023d8ca4716-1\",\"dataFileS3Key\":\"2020-Nov/AWSDynamoDB/"
                        + "01234567890123-a1b2c3d4/data/asdl123dasas.json.gz\"}\n", "f"));
        assertEquals("s: outputFormat must be DYNAMODB_JSON (was 'ION'); export again with ExportFormat DYNAMODB_JSON",
                assertThrows(IllegalArgumentException.class, () -> ExportManifest.summary(
                        summary.replace("DYNAMODB_JSON", "ION"), "s")).getMessage());
        assertEquals("s: exportType must be FULL_EXPORT (was 'INCREMENTAL_EXPORT'); incremental exports are not read "
                + "by this source", assertThrows(IllegalArgumentException.class, () -> ExportManifest.summary(
                        summary.replace("}", ",\"exportType\":\"INCREMENTAL_EXPORT\"}"), "s")).getMessage());
        assertEquals("s: tableArn must be a table's ARN, arn:<partition>:dynamodb:<region>:<account>:table/<name> (was 'x')",
                assertThrows(IllegalArgumentException.class, () -> ExportManifest.summary(
                        summary.replace("\"arn:aws:dynamodb:us-east-1:123456789012:table/ProductCatalog\"", "\"x\""), "s"))
                        .getMessage());
        assertEquals("f line 2: itemCount must be a whole number >= 0", assertThrows(IllegalArgumentException.class,
                () -> ExportManifest.files("\n{\"itemCount\":-1,\"dataFileS3Key\":\"k\"}", "f")).getMessage());
        assertEquals("f line 1: dataFileS3Key must be a non-empty string (it is missing)",
                assertThrows(IllegalArgumentException.class,
                        () -> ExportManifest.files("{\"itemCount\":1}", "f")).getMessage());
    }

    @Test
    void linesAreReadUpToTheLimitAndALongerOneIsSkippedToItsEnd() throws Exception {
        String longLine = "x".repeat(70_000); // longer than the reader's buffer, too
        String text = "a\r\n\nbb\n" + longLine + "\n" + "y".repeat(100) + "\nlast";
        LineReader r = new LineReader(new java.io.StringReader(text), 1_000);
        assertEquals("a", r.next());
        assertEquals("", r.next());
        assertEquals("bb", r.next());
        assertEquals(LineReader.TOO_LONG, r.next());
        assertEquals("y".repeat(100), r.next());
        assertEquals("last", r.next());
        assertEquals(null, r.next());
        LineReader wide = new LineReader(new java.io.StringReader(longLine + "\n"), 100_000);
        assertEquals(longLine, wide.next(), "a line across buffer refills");
        assertEquals(null, wide.next());
    }

    @Test
    void aDataFileListedTwiceIsRefused() {
        String line = "{\"itemCount\":1,\"dataFileS3Key\":\"p/data/a.json.gz\"}";
        assertEquals("f line 2: dataFileS3Key names a data file listed before", assertThrows(
                IllegalArgumentException.class, () -> ExportManifest.files(line + "\n" + line, "f")).getMessage());
    }
}
