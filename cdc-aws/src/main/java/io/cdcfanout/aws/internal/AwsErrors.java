package io.cdcfanout.aws.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Set;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.core.exception.RetryableException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkServiceException;

/**
 * The one place that tells whether an AWS call that failed may succeed if tried again, used by every
 * module. It decides from facts: the HTTP status (5xx, 429), throttling and transient error codes, and
 * client-side I/O failures in the cause chain. It never trusts {@code SdkException.retryable()}, which
 * is a constant {@code false} in SDK 2.57 for service and client exceptions alike. Not API.
 */
public final class AwsErrors {
    /** What a failure says about trying again. */
    public enum Kind {
        /** The service asked the caller to slow down: retry after a pause that grows. */
        THROTTLED,
        /** A 5xx, a timeout or a broken connection: retry, the next attempt may well succeed. */
        TRANSIENT,
        /** A refusal that the same request will meet again (validation, access, a missing resource). */
        FATAL
    }

    /** Error codes that mean "slow down", across the services this library calls. */
    static final Set<String> THROTTLING = Set.of("Throttling", "ThrottlingException", "ThrottledException",
            "RequestThrottledException", "TooManyRequestsException", "ProvisionedThroughputExceededException",
            "TransactionInProgressException", "RequestLimitExceeded", "RequestLimitExceededException",
            "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
            "PriorRequestNotComplete", "EC2ThrottledException", "ThrottlingReasons");

    /** Error codes that mean "try again", whatever status they came with. */
    static final Set<String> TRANSIENT_CODES = Set.of("RequestTimeout", "RequestTimeoutException",
            "InternalError", "InternalFailure", "InternalServerError", "InternalServerErrorException",
            "ServiceUnavailable", "ServiceUnavailableException", "ServiceException", "IDPCommunicationError",
            "TransactionConflict", "TransactionConflictException", "NoSuchUpload");

    private AwsErrors() {
    }

    /** What {@code failure} says about trying again; any throwable, null-safe (null is fatal). */
    public static Kind classify(Throwable failure) {
        if (failure == null) {
            return Kind.FATAL;
        }
        if (failure instanceof SdkServiceException service) {
            String code = code(failure);
            int status = service.statusCode();
            if (status == 429 || service.isThrottlingException() || code != null && THROTTLING.contains(code)) {
                return Kind.THROTTLED;
            }
            if (status >= 500 || code != null && TRANSIENT_CODES.contains(code)) {
                return Kind.TRANSIENT;
            }
            return Kind.FATAL;
        }
        if (failure instanceof ApiCallTimeoutException || failure instanceof ApiCallAttemptTimeoutException
                || failure instanceof RetryableException) {
            return Kind.TRANSIENT;
        }
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof IOException || t instanceof UncheckedIOException) {
                return Kind.TRANSIENT;
            }
            if (t != failure && t instanceof SdkServiceException) {
                return classify(t);
            }
        }
        if (failure instanceof SdkClientException && failure.getMessage() != null
                && failure.getMessage().startsWith("Unable to execute HTTP request")) {
            return Kind.TRANSIENT; // the SDK's wording for a request that never got an answer
        }
        return Kind.FATAL;
    }

    /** Whether trying again may succeed: throttled or transient. */
    public static boolean retryable(Throwable failure) {
        return classify(failure) != Kind.FATAL;
    }

    /** Whether the service asked the caller to slow down. */
    public static boolean throttled(Throwable failure) {
        return classify(failure) == Kind.THROTTLED;
    }

    /**
     * The service's error code, such as {@code ThrottlingException}; for a modeled service exception
     * without error details (as an interceptor may throw), its class's simple name; else null.
     */
    public static String code(Throwable failure) {
        if (failure instanceof AwsServiceException ase && ase.awsErrorDetails() != null
                && ase.awsErrorDetails().errorCode() != null) {
            return ase.awsErrorDetails().errorCode();
        }
        if (failure instanceof SdkServiceException && failure.getClass() != AwsServiceException.class
                && failure.getClass() != SdkServiceException.class) {
            return failure.getClass().getSimpleName();
        }
        return null;
    }

    /** The HTTP status of a service error, or 0 when the call got no answer. */
    public static int status(Throwable failure) {
        return failure instanceof SdkServiceException s ? s.statusCode() : 0;
    }

    /**
     * A short description for logs and reasons: the error code and status, or the exception's class
     * for a client-side failure. Leaves out the service's message, which may quote request data.
     */
    public static String describe(Throwable failure) {
        String code = code(failure);
        int status = status(failure);
        if (code != null) {
            return status == 0 ? code : code + " (HTTP " + status + ")";
        }
        if (status != 0) {
            return "HTTP " + status;
        }
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return failure.getClass().getSimpleName() + (root != failure ? " caused by " + root.getClass().getSimpleName()
                : "");
    }
}
