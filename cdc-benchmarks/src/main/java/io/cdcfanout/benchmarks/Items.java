package io.cdcfanout.benchmarks;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.OperationType;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.awssdk.services.dynamodb.model.StreamRecord;
import software.amazon.awssdk.services.dynamodb.model.StreamViewType;

/** Invoice-like items of three sizes, and MODIFY stream records (old and new image) carrying them. */
public final class Items {
    /** The sizes measured. */
    public enum Size {
        /** About 200 bytes of JSON: a handful of scalar attributes. */
        SMALL,
        /** About 2 KB: thirty attributes, a string list, a string set, a small map. */
        MEDIUM,
        /** About 40 KB: 150 nested line items, each a map with a list. */
        LARGE
    }

    private Items() {
    }

    private static AttributeValue s(String v) {
        return AttributeValue.fromS(v);
    }

    private static AttributeValue n(String v) {
        return AttributeValue.fromN(v);
    }

    /** An item of {@code size}; {@code version} changes one attribute. */
    public static Map<String, AttributeValue> item(Size size, int version) {
        Map<String, AttributeValue> item = new LinkedHashMap<>();
        item.put("invoiceId", s("INV-2026-000123"));
        item.put("customerId", s("CUST-4711"));
        item.put("amount", n("1234.56"));
        item.put("currency", s("EUR"));
        item.put("status", s(version == 0 ? "ISSUED" : "PAID"));
        item.put("issuedAt", n("1764000000"));
        if (size == Size.SMALL) {
            return item;
        }
        for (int i = 0; i < 22; i++) {
            item.put("field" + i, i % 2 == 0 ? s("value of field number " + i + " with some words")
                    : n(Long.toString(1_000_000L * i + 7)));
        }
        List<AttributeValue> tags = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            tags.add(s("tag-" + i));
        }
        item.put("tags", AttributeValue.fromL(tags));
        item.put("regions", AttributeValue.fromSs(List.of("eu-west-1", "us-east-1", "ap-southeast-2")));
        item.put("paid", AttributeValue.fromBool(version != 0));
        item.put("signature", AttributeValue.fromB(SdkBytes.fromByteArray(new byte[48])));
        item.put("address", AttributeValue.fromM(Map.of("street", s("1 Main Street"), "city", s("Dublin"),
                "zip", s("D01 F5P2"), "country", s("IE"))));
        if (size == Size.MEDIUM) {
            return item;
        }
        List<AttributeValue> lines = new ArrayList<>();
        for (int i = 0; i < 150; i++) {
            lines.add(AttributeValue.fromM(Map.of(
                    "sku", s("SKU-" + (100_000 + i)),
                    "description", s("Line item " + i + ": a product with a description of moderate length"),
                    "quantity", n(Integer.toString(1 + i % 7)),
                    "unitPrice", n((i * 13 % 1000) + "." + (i % 100)),
                    "discounts", AttributeValue.fromL(List.of(n("0.05"), n("0.10"))),
                    "taxed", AttributeValue.fromBool(i % 3 == 0))));
        }
        item.put("lines", AttributeValue.fromL(lines));
        return item;
    }

    /** A MODIFY record of {@code size}, as the SDK's DynamoDB Streams client returns it. */
    public static Record record(Size size, long sequence) {
        Map<String, AttributeValue> oldImage = item(size, 0);
        Map<String, AttributeValue> newImage = item(size, 1);
        return Record.builder()
                .eventID("e" + sequence)
                .eventName(OperationType.MODIFY)
                .eventSource("aws:dynamodb")
                .awsRegion("eu-west-1")
                .dynamodb(StreamRecord.builder()
                        .keys(Map.of("invoiceId", newImage.get("invoiceId")))
                        .oldImage(oldImage)
                        .newImage(newImage)
                        .sequenceNumber("4000000000000" + String.format("%08d", sequence))
                        .approximateCreationDateTime(Instant.parse("2026-11-24T19:00:00Z"))
                        .sizeBytes(1000L)
                        .streamViewType(StreamViewType.NEW_AND_OLD_IMAGES)
                        .build())
                .build();
    }
}
