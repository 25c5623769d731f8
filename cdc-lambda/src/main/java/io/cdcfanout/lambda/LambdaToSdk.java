package io.cdcfanout.lambda;

import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.models.dynamodb.Identity;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.Record;
import software.amazon.awssdk.services.dynamodb.model.StreamRecord;

/**
 * Copies a Lambda event record into an SDK v2 {@link Record}, field by field, without judging it: a
 * missing time, sequence number or image stays missing, and a value with two members set keeps both,
 * so that {@code StreamRecords} names the broken rule. (The SDK's own transformer throws a bare
 * NullPointerException for such records, including the Lambda guide's sample event, which has no
 * ApproximateCreationDateTime.)
 */
final class LambdaToSdk {
    private LambdaToSdk() {
    }

    static Record record(DynamodbEvent.DynamodbStreamRecord r) {
        Record.Builder b = Record.builder()
                .eventID(r.getEventID())
                .eventName(r.getEventName())
                .eventVersion(r.getEventVersion())
                .eventSource(r.getEventSource())
                .awsRegion(r.getAwsRegion());
        Identity id = r.getUserIdentity();
        if (id != null) {
            b.userIdentity(i -> i.type(id.getType()).principalId(id.getPrincipalId()));
        }
        var sr = r.getDynamodb();
        if (sr != null) {
            StreamRecord.Builder s = StreamRecord.builder()
                    .sequenceNumber(sr.getSequenceNumber())
                    .sizeBytes(sr.getSizeBytes())
                    .streamViewType(sr.getStreamViewType());
            if (sr.getApproximateCreationDateTime() != null) {
                s.approximateCreationDateTime(sr.getApproximateCreationDateTime().toInstant());
            }
            if (sr.getKeys() != null) {
                s.keys(image(sr.getKeys()));
            }
            if (sr.getOldImage() != null) {
                s.oldImage(image(sr.getOldImage()));
            }
            if (sr.getNewImage() != null) {
                s.newImage(image(sr.getNewImage()));
            }
            b.dynamodb(s.build());
        }
        return b.build();
    }

    private static Map<String, AttributeValue> image(
            Map<String, com.amazonaws.services.lambda.runtime.events.models.dynamodb.AttributeValue> image) {
        Map<String, AttributeValue> out = new LinkedHashMap<>(image.size() * 2);
        image.forEach((name, v) -> out.put(name, value(v)));
        return out;
    }

    /** The same members set, or null for null; a value with no member set becomes an empty value. */
    private static AttributeValue value(com.amazonaws.services.lambda.runtime.events.models.dynamodb.AttributeValue v) {
        if (v == null) {
            return null;
        }
        AttributeValue.Builder b = AttributeValue.builder();
        if (v.getS() != null) {
            b.s(v.getS());
        }
        if (v.getN() != null) {
            b.n(v.getN());
        }
        if (v.getB() != null) {
            b.b(bytes(v.getB()));
        }
        if (v.getSS() != null) {
            b.ss(v.getSS());
        }
        if (v.getNS() != null) {
            b.ns(v.getNS());
        }
        if (v.getBS() != null) {
            List<SdkBytes> bs = new ArrayList<>(v.getBS().size());
            for (ByteBuffer x : v.getBS()) {
                bs.add(x == null ? null : bytes(x));
            }
            b.bs(bs);
        }
        if (v.getM() != null) {
            b.m(image(v.getM()));
        }
        if (v.getL() != null) {
            List<AttributeValue> l = new ArrayList<>(v.getL().size());
            for (var x : v.getL()) {
                l.add(value(x));
            }
            b.l(l);
        }
        if (v.getNULL() != null) {
            b.nul(v.getNULL());
        }
        if (v.getBOOL() != null) {
            b.bool(v.getBOOL());
        }
        return b.build();
    }

    private static SdkBytes bytes(ByteBuffer buffer) {
        return SdkBytes.fromByteBuffer(buffer.duplicate());
    }
}
