package io.cdcfanout.dynamodb;

import software.amazon.awssdk.enhanced.dynamodb.mapper.annotations.DynamoDbImmutable;
import software.amazon.awssdk.enhanced.dynamodb.mapper.annotations.DynamoDbPartitionKey;

/** An immutable class for typed images. */
@DynamoDbImmutable(builder = Customer.Builder.class)
public final class Customer {
    private final String id;
    private final String email;
    private final long visits;

    private Customer(Builder b) {
        this.id = b.id;
        this.email = b.email;
        this.visits = b.visits;
    }

    public static Builder builder() {
        return new Builder();
    }

    @DynamoDbPartitionKey
    public String id() {
        return id;
    }

    public String email() {
        return email;
    }

    public long visits() {
        return visits;
    }

    /** Builder. */
    public static final class Builder {
        private String id;
        private String email;
        private long visits;

        public Builder() {
        }

        public Builder id(String id) {
            this.id = id;
            return this;
        }

        public Builder email(String email) {
            this.email = email;
            return this;
        }

        public Builder visits(long visits) {
            this.visits = visits;
            return this;
        }

        public Customer build() {
            return new Customer(this);
        }
    }
}
