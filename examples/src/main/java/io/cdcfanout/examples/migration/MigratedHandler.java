package io.cdcfanout.examples.migration;

import io.cdcfanout.api.Operation;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Route;
import io.cdcfanout.dynamodb.DynamoDbImages;
import io.cdcfanout.dynamodb.JsonLinesSerializer;
import io.cdcfanout.lambda.DynamoDbStreamHandler;
import io.cdcfanout.s3sink.S3DeadLetterSink;
import io.cdcfanout.examples.welcome.Customer;
import io.cdcfanout.examples.welcome.OutboxEmailSender;
import io.cdcfanout.examples.welcome.WelcomeEmailSink;
import io.cdcfanout.firehose.FirehoseSink;
import java.util.Map;
import software.amazon.awssdk.enhanced.dynamodb.TableSchema;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.firehose.FirehoseClient;
import software.amazon.awssdk.services.s3.S3Client;

/** The "after" of docs/migrating.md: the same two jobs on the library. */
public final class MigratedHandler extends DynamoDbStreamHandler {

    public MigratedHandler() {
        this(FirehoseClient.create(), DynamoDbClient.create(), S3Client.create());
    }

    MigratedHandler(FirehoseClient firehose, DynamoDbClient db, S3Client s3) {
        super(pipeline(firehose, db, s3));
    }

    // DOC:begin
    static Pipeline<Map<String, AttributeValue>> pipeline(FirehoseClient firehose, DynamoDbClient db, S3Client s3) {
        JsonLinesSerializer jsonLines = JsonLinesSerializer.plain();      // typed, exact JSON
        return Pipeline.<Map<String, AttributeValue>>builder()
                .route(Route.<Map<String, AttributeValue>>builder("archive")
                        .sink(FirehoseSink.builder().client(firehose)          // within the limits, packed,
                                .deliveryStream("invoice-archive")           // only failed records resent
                                .serializer(jsonLines).build())
                        .build())
                .route(Route.<Map<String, AttributeValue>>builder("welcome")
                        .operations(Operation.INSERT)
                        .transform(DynamoDbImages.typed(TableSchema.fromBean(Customer.class)))
                        .sink(new WelcomeEmailSink(new OutboxEmailSender(db, "Outbox")))  // once per event id
                        .build())
                .deadLetterSink(S3DeadLetterSink.builder().client(s3).bucket("archive-bucket").build())
                .build();                                // no item contents in the logs, by default
    }
    // DOC:end
}
