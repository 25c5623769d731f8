package io.cdcfanout.lambda;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.api.pipeline.Settlement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Processes a DynamoDB stream batch in a Lambda function: maps the records, submits them to the
 * pipeline, flushes, waits, and answers with a partial batch response naming the first
 * unacknowledged record ({@link Settlement}). The event source mapping then retries from that record
 * on, so nothing after a failure is lost and what came before is not sent again. By composition, in
 * any handler:
 *
 * <pre>{@code
 * public final class ArchiveHandler implements RequestHandler<DynamodbEvent, StreamsEventResponse> {
 *     private static final DynamoDbStreamProcessor PROCESSOR = DynamoDbStreamProcessor.of(Pipelines.archive());
 *
 *     public StreamsEventResponse handleRequest(DynamodbEvent event, Context context) {
 *         return PROCESSOR.process(event, context);
 *     }
 * }
 * }</pre>
 *
 * <p>The mapping must have {@code FunctionResponseTypes: [ReportBatchItemFailures]}; without it a
 * partial response is ignored and the whole batch counts as done. Recommended with it:
 * {@code BisectBatchOnFunctionError: true}, a finite {@code MaximumRetryAttempts} and
 * {@code MaximumRecordAgeInSeconds}, and an on-failure destination. Buffers never carry over between
 * invocations: each one flushes before it returns, and a route halted by an earlier invocation is
 * resumed when the next one starts. Immutable and thread-safe.
 */
public final class DynamoDbStreamProcessor {
    /** Default for the time kept back from the invocation's deadline, in milliseconds. */
    public static final long DEFAULT_DEADLINE_MARGIN_MILLIS = 2_000;

    private static final Logger LOG = LoggerFactory.getLogger(DynamoDbStreamProcessor.class);

    private final Pipeline<Map<String, AttributeValue>> pipeline;
    private final Duration deadlineMargin;

    private DynamoDbStreamProcessor(Pipeline<Map<String, AttributeValue>> pipeline, Duration deadlineMargin) {
        this.pipeline = pipeline;
        this.deadlineMargin = deadlineMargin;
    }

    /**
     * A processor feeding {@code pipeline} (built once per container), keeping
     * {@value #DEFAULT_DEADLINE_MARGIN_MILLIS} ms of each invocation back to answer before Lambda's timeout.
     */
    public static DynamoDbStreamProcessor of(Pipeline<Map<String, AttributeValue>> pipeline) {
        return new DynamoDbStreamProcessor(Objects.requireNonNull(pipeline, "pipeline must not be null"),
                Duration.ofMillis(DEFAULT_DEADLINE_MARGIN_MILLIS));
    }

    /**
     * This processor, stopping its wait {@code margin} before the invocation's deadline and then
     * reporting the whole batch as failed, so the mapping retries it.
     *
     * @throws IllegalArgumentException if margin is negative
     */
    public DynamoDbStreamProcessor withDeadlineMargin(Duration margin) {
        Objects.requireNonNull(margin, "deadlineMargin must not be null");
        if (margin.isNegative()) {
            throw new IllegalArgumentException("deadlineMargin must not be negative (was " + margin + ")");
        }
        return new DynamoDbStreamProcessor(pipeline, margin);
    }

    /** The pipeline this processor feeds. */
    public Pipeline<Map<String, AttributeValue>> pipeline() {
        return pipeline;
    }

    /**
     * Processes one batch. Never throws for a record's content: bad records are dead-lettered and
     * unacknowledged ones are named in the response.
     *
     * @param context the invocation's context, for its deadline; null waits without a deadline (tests)
     */
    public StreamsEventResponse process(DynamodbEvent event, Context context) {
        List<ChangeEvent<Map<String, AttributeValue>>> events = LambdaRecords.toEvents(event);
        if (events.isEmpty()) {
            return new StreamsEventResponse(List.of());
        }
        resumeHaltedRoutes();
        CompletableFuture<BatchResult<Map<String, AttributeValue>>> done = pipeline.submit(events);
        pipeline.flush();
        Duration wait = context == null ? Duration.ofMillis(Long.MAX_VALUE)
                : Duration.ofMillis(Math.max(0, context.getRemainingTimeInMillis() - deadlineMargin.toMillis()));
        Settlement settled = Settlement.await(events, done, wait);
        if (settled.complete()) {
            return new StreamsEventResponse(List.of());
        }
        // Reasons may quote item data (a sink's message), so they stay at DEBUG.
        LOG.warn("{} of {} records were acknowledged; asking the event source mapping to retry from record {} of "
                + "the batch", settled.acknowledged(), events.size(), settled.acknowledged());
        LOG.debug("First unacknowledged record's reason: {}", settled.reason().orElse(""));
        return new StreamsEventResponse(List.of(new StreamsEventResponse.BatchItemFailure(
                sequenceNumber(event, events, settled.acknowledged()))));
    }

    /**
     * A warm container keeps the pipeline between invocations, so a route halted by an earlier one (a
     * sink briefly unavailable: an IAM change propagating, a KMS throttle) would refuse every later batch
     * for good. On Lambda the event source mapping owns the retries: whatever the halt left
     * unacknowledged was reported to it and comes back, so each invocation starts with every route
     * running. A cause that persists halts the route again and the mapping's retry and age limits apply.
     */
    private void resumeHaltedRoutes() {
        for (String route : pipeline.routes()) {
            if (pipeline.haltReason(route).isPresent()) {
                LOG.warn("Route '{}' was halted by an earlier invocation; resuming it (the event source mapping "
                        + "retries what it left unacknowledged)", route);
                pipeline.resume(route);
            }
        }
    }

    /**
     * The record's SequenceNumber exactly as received: the event source mapping matches the
     * identifier as a string, so a normalized number (leading zeros dropped) would not be found.
     */
    static String sequenceNumber(DynamodbEvent event, List<? extends ChangeEvent<?>> events, int index) {
        DynamodbEvent.DynamodbStreamRecord r = event.getRecords().get(index);
        String raw = r == null || r.getDynamodb() == null ? null : r.getDynamodb().getSequenceNumber();
        return raw != null ? raw : events.get(index).position().sequenceNumber();
    }
}
