package io.cdcfanout.examples.welcome;

import java.util.Map;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;
import software.amazon.awssdk.services.sesv2.SesV2Client;

/**
 * Sends through Amazon SES (SESv2 {@code SendEmail}). SES does not deduplicate, so the sender first
 * claims the idempotency key in a DynamoDB table with a conditional put, and releases the claim if SES
 * refuses, so that a retry can send. Only the examples depend on {@code software.amazon.awssdk:sesv2}.
 */
public final class SesEmailSender implements EmailSender {
    private final SesV2Client ses;
    private final String from;
    private final DynamoDbClient db;
    private final String claims;

    public SesEmailSender(SesV2Client ses, String from, DynamoDbClient db, String claimsTable) {
        this.ses = ses;
        this.from = from;
        this.db = db;
        this.claims = claimsTable;
    }

    @Override
    public boolean send(Email email) {
        Map<String, AttributeValue> key = Map.of("messageId", AttributeValue.fromS(email.idempotencyKey()));
        try {
            db.putItem(p -> p.tableName(claims).item(key).conditionExpression("attribute_not_exists(messageId)"));
        } catch (ConditionalCheckFailedException e) {
            return false; // sent before
        }
        try {
            ses.sendEmail(r -> r.fromEmailAddress(from)
                    .destination(d -> d.toAddresses(email.to()))
                    .content(c -> c.simple(m -> m.subject(s -> s.data(email.subject()))
                            .body(b -> b.text(t -> t.data(email.body()))))));
            return true;
        } catch (RuntimeException e) {
            db.deleteItem(d -> d.tableName(claims).key(key));
            throw e;
        }
    }
}
