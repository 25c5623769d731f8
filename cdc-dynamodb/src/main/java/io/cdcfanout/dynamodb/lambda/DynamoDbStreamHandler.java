package io.cdcfanout.dynamodb.lambda;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.DynamodbEvent;
import com.amazonaws.services.lambda.runtime.events.StreamsEventResponse;
import io.cdcfanout.api.ChangeEvent;
import io.cdcfanout.api.pipeline.BatchResult;
import io.cdcfanout.api.pipeline.Pipeline;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * A Lambda handler for a DynamoDB stream event source mapping: it maps the batch, submits it to the
 * pipeline, flushes, waits, and answers with a partial batch response naming the first
 * unacknowledged record. The mapping then retries from that record on (its checkpoint rule), so
 * nothing after a failure is lost; what came before is not sent again.
 *
 * <p>Subclass it with a no-argument constructor that passes a pipeline built once per container
 * (Lambda creates the handler once, at init):
 *
 * <pre>{@code
 * public final class ArchiveHandler extends DynamoDbStreamHandler {
 *     public ArchiveHandler() {
 *         super(Pipeline.<Map<String, AttributeValue>>builder().route(...).build());
 *     }
 * }
 * }</pre>
 *
 * <p>The mapping must have {@code FunctionResponseTypes: [ReportBatchItemFailures]}; without it a
 * partial response is ignored and the whole batch counts as done. Recommended with it:
 * {@code BisectBatchOnFunctionError: true}, a finite {@code MaximumRetryAttempts} and
 * {@code MaximumRecordAgeInSeconds}, and an on-failure destination, so a record that keeps failing
 * is set aside with its metadata instead of blocking its shard for 24 hours.
 *
 * <p>Buffers never carry over between invocations: each one flushes before it returns.
 */
public abstract class DynamoDbStreamHandler implements RequestHandler<DynamodbEvent, StreamsEventResponse> {
    /** Default for the time kept back from the invocation's deadline, in milliseconds. */
    public static final long DEFAULT_DEADLINE_MARGIN_MILLIS = 2_000;

    private static final Logger LOG = LoggerFactory.getLogger(DynamoDbStreamHandler.class);

    private final Pipeline<Map<String, AttributeValue>> pipeline;
    private final Duration deadlineMargin;

    /**
     * A handler feeding {@code pipeline}, keeping {@value #DEFAULT_DEADLINE_MARGIN_MILLIS} ms of each
     * invocation back to answer before Lambda's timeout.
     *
     * @throws NullPointerException if pipeline is null
     */
    protected DynamoDbStreamHandler(Pipeline<Map<String, AttributeValue>> pipeline) {
        this(pipeline, Duration.ofMillis(DEFAULT_DEADLINE_MARGIN_MILLIS));
    }

    /**
     * A handler that stops waiting {@code deadlineMargin} before the invocation's deadline and then
     * reports the whole batch as failed, so the mapping retries it.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if deadlineMargin is negative
     */
    protected DynamoDbStreamHandler(Pipeline<Map<String, AttributeValue>> pipeline, Duration deadlineMargin) {
        this.pipeline = Objects.requireNonNull(pipeline, "pipeline must not be null");
        Objects.requireNonNull(deadlineMargin, "deadlineMargin must not be null");
        if (deadlineMargin.isNegative()) {
            throw new IllegalArgumentException("deadlineMargin must not be negative (was " + deadlineMargin + ")");
        }
        this.deadlineMargin = deadlineMargin;
    }

    /** The pipeline this handler feeds. */
    protected final Pipeline<Map<String, AttributeValue>> pipeline() {
        return pipeline;
    }

    /**
     * Processes one batch. Never throws for a record's content: bad records are dead-lettered and
     * unacknowledged ones are named in the response.
     */
    @Override
    public StreamsEventResponse handleRequest(DynamodbEvent event, Context context) {
        List<ChangeEvent<Map<String, AttributeValue>>> events = LambdaRecords.toEvents(event);
        if (events.isEmpty()) {
            return new StreamsEventResponse(List.of());
        }
        CompletableFuture<BatchResult<Map<String, AttributeValue>>> done = pipeline.submit(events);
        pipeline.flush();
        long waitMillis = context == null ? Long.MAX_VALUE
                : Math.max(0, context.getRemainingTimeInMillis() - deadlineMargin.toMillis());
        int firstFailed;
        try {
            BatchResult<Map<String, AttributeValue>> result = done.get(waitMillis, TimeUnit.MILLISECONDS);
            if (result.succeeded()) {
                return new StreamsEventResponse(List.of());
            }
            firstFailed = indexOf(events, result.firstFailure().orElseThrow());
            // Reasons may quote item data (a sink's message), so they stay at DEBUG.
            LOG.warn("{} of {} records were not acknowledged; asking the event source mapping to retry from "
                    + "record {} of the batch", result.failures().size(), events.size(), firstFailed);
            LOG.debug("First unacknowledged record's reason: {}", result.failures().get(0).reason());
        } catch (TimeoutException e) {
            firstFailed = 0;
            LOG.warn("The batch of {} records did not settle before the invocation's deadline; asking for a retry "
                    + "of the whole batch", events.size());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            firstFailed = 0;
        } catch (ExecutionException e) {
            // The pipeline's futures never fail; treat it as an unacknowledged batch all the same.
            firstFailed = 0;
            LOG.error("The pipeline failed the batch ({})", e.getCause().getClass().getName());
        }
        return new StreamsEventResponse(List.of(new StreamsEventResponse.BatchItemFailure(
                sequenceNumber(event, events, firstFailed))));
    }

    private static int indexOf(List<? extends ChangeEvent<?>> events, ChangeEvent<?> failed) {
        for (int i = 0; i < events.size(); i++) {
            if (events.get(i) == failed) {
                return i;
            }
        }
        return 0; // not one of ours: retrying the whole batch loses nothing
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
