package io.cdcfanout.dynamodb.internal;

import io.cdcfanout.api.sink.SinkUnavailableException;
import io.cdcfanout.aws.internal.AwsErrors;
import java.util.Objects;
import java.util.regex.Pattern;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.model.ResourceNotFoundException;

/** Table-name checks and error classification shared by the DynamoDB sinks and stores. Not API. */
public final class DynamoDbErrors {
    private static final Pattern TABLE = Pattern.compile("[A-Za-z0-9_.-]{3,255}");

    private DynamoDbErrors() {
    }

    /**
     * {@code table}, checked against DynamoDB's naming rule.
     *
     * @throws NullPointerException if table is null
     * @throws IllegalArgumentException if it breaks the rule
     */
    public static String checkTable(String table) {
        Objects.requireNonNull(table, "table must not be null");
        if (!TABLE.matcher(table).matches()) {
            throw new IllegalArgumentException("table must be 3 to 255 letters, digits, '_', '-' or '.' (was '"
                    + table + "')");
        }
        return table;
    }

    /** Whether trying again may succeed: throttling, 5xx, timeouts, I/O ({@link AwsErrors}). */
    public static boolean retryable(SdkException ex) {
        return AwsErrors.retryable(ex);
    }

    /** Cancellation reason codes of TransactWriteItems that a retry may get past. */
    private static final java.util.Set<String> RETRYABLE_CANCELLATIONS = java.util.Set.of("TransactionConflict",
            "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded");

    /** Whether a transaction cancelled with reason {@code code} (null: none given) may succeed when tried again. */
    public static boolean retryableCancellation(String code) {
        return code == null || RETRYABLE_CANCELLATIONS.contains(code);
    }

    /** Whether the table is missing or access to it is denied: no write to it can succeed. */
    public static boolean unavailable(SdkException ex) {
        return ex instanceof ResourceNotFoundException || ex instanceof AwsServiceException ase
                && ase.awsErrorDetails() != null && "AccessDeniedException".equals(ase.awsErrorDetails().errorCode());
    }

    /**
     * The reason for a failed write to {@code table}, naming DynamoDB's error code.
     *
     * @throws SinkUnavailableException if the table is missing or access is denied
     */
    public static String describe(SdkException ex, String table) {
        if (ex instanceof ResourceNotFoundException) {
            throw new SinkUnavailableException("table '" + table + "' does not exist (or is not visible to this "
                    + "client's account and region)", ex);
        }
        if (ex instanceof AwsServiceException ase && ase.awsErrorDetails() != null) {
            if (unavailable(ex)) {
                throw new SinkUnavailableException("access denied to table '" + table + "': "
                        + ase.awsErrorDetails().errorMessage(), ex);
            }
            return "DynamoDB " + ase.awsErrorDetails().errorCode() + " on table '" + table + "': "
                    + ase.awsErrorDetails().errorMessage();
        }
        return "writing to table '" + table + "' failed: " + ex.getMessage();
    }
}
