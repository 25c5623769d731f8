package io.cdcfanout.kcl;

import io.cdcfanout.api.Source;
import io.cdcfanout.api.pipeline.Pipeline;
import io.cdcfanout.dynamodb.StreamRecords;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.kinesis.processor.ShardRecordProcessor;
import software.amazon.kinesis.processor.ShardRecordProcessorFactory;

/**
 * Record processors that feed one DynamoDB stream into a {@link Pipeline} under KCL 3 and the
 * DynamoDB Streams Kinesis Adapter; give it to {@code ConfigsBuilder} as the processor factory.
 *
 * <p>Each processor maps a shard's batch with {@link StreamRecords#toEvents}, submits it and returns,
 * so KCL keeps reading while the batch settles; it never flushes the shared pipeline for one batch,
 * so shards do not wait on each other. Each later call checkpoints over the batches that settled, in
 * order. It keeps up to {@link Builder#maxPendingRecords} unsettled records, then waits (flushing).
 * Records that were not acknowledged (a halted route, a closing pipeline) are submitted again, with
 * every later batch, after {@link Builder#retryBackoff}, until they are or the lease is lost; the
 * checkpoint first moves over the acknowledged prefix. Configure KCL with
 * {@code processorConfig().callProcessRecordsEvenForEmptyRecordList(true)}: the calls without records are
 * when a quiet shard's last batches get their checkpoint, or get submitted again. So KCL never skips a record, and a new owner of the
 * shard starts after the last acknowledged one. At the end of a shard it checkpoints the shard's end,
 * which lets KCL start the children. Thread-safe: KCL runs one processor per shard.
 */
public final class PipelineProcessorFactory implements ShardRecordProcessorFactory {
    /** Default for {@link Builder#maxPendingRecords}. */
    public static final int DEFAULT_MAX_PENDING_RECORDS = 10_000;
    /** Default for {@link Builder#retryBackoff}, in milliseconds. */
    public static final long DEFAULT_RETRY_BACKOFF_MILLIS = 1_000;

    private final Pipeline<Map<String, AttributeValue>> pipeline;
    private final Source source;
    private final Duration retryBackoff;
    private final int maxPendingRecords;

    private PipelineProcessorFactory(Builder b) {
        this.pipeline = b.pipeline;
        this.source = b.source;
        this.retryBackoff = b.retryBackoff;
        this.maxPendingRecords = b.maxPendingRecords;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ShardRecordProcessor shardRecordProcessor() {
        return new PipelineShardProcessor(pipeline, source, retryBackoff, maxPendingRecords);
    }

    /** Builds a {@link PipelineProcessorFactory}; the stream and the pipeline are required. */
    public static final class Builder {
        private Pipeline<Map<String, AttributeValue>> pipeline;
        private Source source;
        private Duration retryBackoff = Duration.ofMillis(DEFAULT_RETRY_BACKOFF_MILLIS);
        private int maxPendingRecords = DEFAULT_MAX_PENDING_RECORDS;

        private Builder() {
        }

        /**
         * How many records of one shard may be submitted and not yet acknowledged before the processor
         * waits for the oldest batch: 1 to 1,000,000; {@value PipelineProcessorFactory#DEFAULT_MAX_PENDING_RECORDS}
         * by default.
         */
        public Builder maxPendingRecords(int maxPendingRecords) {
            if (maxPendingRecords < 1 || maxPendingRecords > 1_000_000) {
                throw new IllegalArgumentException("maxPendingRecords must be between 1 and 1000000 (was "
                        + maxPendingRecords + ")");
            }
            this.maxPendingRecords = maxPendingRecords;
            return this;
        }

        /**
         * The stream's ARN, which names the source table of the events.
         *
         * @throws IllegalArgumentException if it is not a DynamoDB stream ARN
         */
        public Builder streamArn(String streamArn) {
            this.source = StreamRecords.sourceOf(streamArn);
            return this;
        }

        /** Where the events go; the factory does not close it. */
        public Builder pipeline(Pipeline<Map<String, AttributeValue>> pipeline) {
            this.pipeline = Objects.requireNonNull(pipeline, "pipeline must not be null");
            return this;
        }

        /**
         * The pause before unacknowledged records are submitted again; zero or more,
         * {@value PipelineProcessorFactory#DEFAULT_RETRY_BACKOFF_MILLIS} ms by default.
         */
        public Builder retryBackoff(Duration retryBackoff) {
            Objects.requireNonNull(retryBackoff, "retryBackoff must not be null");
            if (retryBackoff.isNegative()) {
                throw new IllegalArgumentException("retryBackoff must not be negative (was " + retryBackoff + ")");
            }
            this.retryBackoff = retryBackoff;
            return this;
        }

        /**
         * A factory.
         *
         * @throws IllegalStateException if streamArn or pipeline is missing
         */
        public PipelineProcessorFactory build() {
            if (source == null) {
                throw new IllegalStateException("streamArn is required");
            }
            if (pipeline == null) {
                throw new IllegalStateException("pipeline is required");
            }
            return new PipelineProcessorFactory(this);
        }
    }
}
