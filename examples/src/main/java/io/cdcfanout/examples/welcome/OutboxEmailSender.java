package io.cdcfanout.examples.welcome;

import java.util.Map;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;

/**
 * Writes each email to an outbox table, keyed by its idempotency key, with a conditional put: a second
 * copy of the same email is refused by DynamoDB itself, even across processes and restarts. A mail
 * relay (or a stream of the outbox table) then does the actual sending.
 */
public final class OutboxEmailSender implements EmailSender {
    private final DynamoDbClient db;
    private final String table;

    public OutboxEmailSender(DynamoDbClient db, String table) {
        this.db = db;
        this.table = table;
    }

    @Override
    public boolean send(Email email) {
        try {
            db.putItem(p -> p.tableName(table)
                    .item(Map.of("messageId", AttributeValue.fromS(email.idempotencyKey()),
                            "to", AttributeValue.fromS(email.to()),
                            "subject", AttributeValue.fromS(email.subject()),
                            "body", AttributeValue.fromS(email.body())))
                    .conditionExpression("attribute_not_exists(messageId)"));
            return true;
        } catch (ConditionalCheckFailedException e) {
            return false;
        }
    }
}
