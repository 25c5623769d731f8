package io.cdcfanout.aws.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.cdcfanout.aws.internal.AwsErrors.Kind;
import java.io.IOException;
import java.net.SocketTimeoutException;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.SdkClientException;

class AwsErrorsTest {
    private static AwsServiceException service(int status, String code) {
        return AwsServiceException.builder().statusCode(status)
                .awsErrorDetails(AwsErrorDetails.builder().errorCode(code).errorMessage("m").build()).build();
    }

    @Test
    void theSdksOwnRetryableFlagIsConstantFalseSoItIsNotTrusted() {
        assertFalse(service(500, "InternalServerError").retryable(), "SDK 2.57: if this changes, revisit AwsErrors");
        assertEquals(Kind.TRANSIENT, AwsErrors.classify(service(500, "InternalServerError")));
    }

    @Test
    void fiveHundredsAndTransientCodesAreTransient() {
        assertEquals(Kind.TRANSIENT, AwsErrors.classify(service(503, "ServiceUnavailable")));
        assertEquals(Kind.TRANSIENT, AwsErrors.classify(service(502, null)));
        assertEquals(Kind.TRANSIENT, AwsErrors.classify(service(400, "RequestTimeout")));
    }

    @Test
    void throttlingByStatusOrCodeIsThrottled() {
        assertEquals(Kind.THROTTLED, AwsErrors.classify(service(429, null)));
        assertEquals(Kind.THROTTLED, AwsErrors.classify(service(400, "ProvisionedThroughputExceededException")));
        assertEquals(Kind.THROTTLED, AwsErrors.classify(service(400, "LimitExceededException")));
        assertEquals(Kind.THROTTLED, AwsErrors.classify(service(503, "SlowDown")));
    }

    @Test
    void clientSideIoFailuresAndTimeoutsAreTransient() {
        assertEquals(Kind.TRANSIENT, AwsErrors.classify(SdkClientException.create("Unable to execute HTTP request: "
                + "closed", new IOException("Connection reset"))));
        assertEquals(Kind.TRANSIENT, AwsErrors.classify(SdkClientException.create("x",
                new SocketTimeoutException("Read timed out"))));
        assertEquals(Kind.TRANSIENT, AwsErrors.classify(ApiCallAttemptTimeoutException.create(1000)));
    }

    @Test
    void refusalsAndConfigurationErrorsAreFatal() {
        assertEquals(Kind.FATAL, AwsErrors.classify(service(400, "ValidationException")));
        assertEquals(Kind.FATAL, AwsErrors.classify(service(403, "AccessDeniedException")));
        assertEquals(Kind.FATAL, AwsErrors.classify(SdkClientException.create("Unable to load credentials")));
        assertEquals(Kind.FATAL, AwsErrors.classify(null));
    }

    @Test
    void descriptionsNameTheCodeNotTheMessage() {
        assertEquals("ValidationException (HTTP 400)", AwsErrors.describe(service(400, "ValidationException")));
        assertEquals("SdkClientException caused by IOException",
                AwsErrors.describe(SdkClientException.create("x", new IOException("secret"))));
    }
}
