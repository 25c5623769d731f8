package io.cdcfanout.dynamodb.sink;

import io.cdcfanout.api.CdcException;
import io.cdcfanout.dynamodb.internal.DynamoDbErrors;
import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;
import software.amazon.awssdk.services.dynamodb.model.ConditionalCheckFailedException;

/**
 * The application's writes to one side of a two-way (multi-master) table, so that following the
 * replication contract is the easy path. Each write sets the order attribute, clears the
 * replicator's markers, and is conditional on winning against the stored version by the conflict
 * rule (greater order; on equal order a delete beats a put, then the greater side name; two writes of
 * one side with equal order: the later). A delete leaves a tombstone ({@value ReplicationSink#DELETED_ATTRIBUTE}
 * set to the delete's order value) that expires through TTL, never an empty slot, so a late copy of an
 * older write from another side can't fill the slot, not even for a moment. A write that would lose
 * throws {@link LosingWriteException}: the application must use a greater order. Thread-safe.
 *
 * <p>Readers skip tombstones: {@link #isLive} on an item, or {@link #LIVE_FILTER} as a
 * FilterExpression (with {@code #cdcOrder} naming the order attribute).
 */
public final class TwoWayTable {
    /**
     * A FilterExpression that keeps live items; bind {@code #cdcDeleted} to
     * {@value ReplicationSink#DELETED_ATTRIBUTE} and {@code #cdcOrder} to the order attribute.
     */
    public static final String LIVE_FILTER = "attribute_not_exists(#cdcDeleted) OR #cdcDeleted <> #cdcOrder";

    private static final Pattern SET = Pattern.compile("(?i)\\bSET\\s+");
    private static final Pattern REMOVE = Pattern.compile("(?i)\\bREMOVE\\s+");

    private final DynamoDbClient client;
    private final String table;
    private final String side;
    private final String orderAttribute;
    private final String ttlAttribute;
    private final Duration tombstoneRetention;
    private final Clock clock;

    /** A write refused because the stored version wins by the conflict rule. */
    public static final class LosingWriteException extends CdcException {
        private static final long serialVersionUID = 1L;

        LosingWriteException(String message) {
            super(message, false);
        }
    }

    private TwoWayTable(Builder b) {
        this.client = b.client;
        this.table = b.table;
        this.side = b.side;
        this.orderAttribute = b.orderAttribute;
        this.ttlAttribute = b.ttlAttribute;
        this.tombstoneRetention = b.tombstoneRetention;
        this.clock = b.clock;
    }

    /** A builder; client, table, side and orderAttribute are required. */
    public static Builder builder() {
        return new Builder();
    }

    /** Whether an item is live (not a tombstone) in a two-way table ordered by {@code orderAttribute}. */
    public static boolean isLive(Map<String, AttributeValue> item, String orderAttribute) {
        AttributeValue deleted = item.get(ReplicationSink.DELETED_ATTRIBUTE);
        if (deleted == null) {
            return true;
        }
        AttributeValue order = item.get(orderAttribute);
        if (deleted.n() == null || order == null || order.n() == null) {
            return !Boolean.TRUE.equals(deleted.bool()); // a one-way tombstone is BOOL true
        }
        return new BigDecimal(deleted.n()).compareTo(new BigDecimal(order.n())) != 0;
    }

    /**
     * Puts {@code item}, which holds the order attribute; replacing whatever the item was.
     *
     * @throws LosingWriteException if the stored version wins
     * @throws IllegalArgumentException if the item has no valid order value
     */
    public void put(Map<String, AttributeValue> item) {
        BigDecimal order = orderOf(item);
        Map<String, AttributeValue> clean = new HashMap<>(item);
        clean.keySet().removeIf(n -> n.startsWith("cdc_"));
        clean.put(ReplicationSink.ORIGIN_ATTRIBUTE, s(side));
        write("put", () -> client.putItem(r -> r.tableName(table).item(clean).conditionExpression(wins(false))
                .expressionAttributeNames(names()).expressionAttributeValues(values(order))));
    }

    /**
     * Updates an item with the application's expression (SET, REMOVE, ADD, DELETE clauses), sets the
     * order attribute to {@code order}, and clears the markers: a tombstone updated this way lives again.
     * Placeholders starting with {@code #cdc} or {@code :cdc} are reserved.
     *
     * @throws LosingWriteException if the stored version wins
     */
    public void update(Map<String, AttributeValue> key, long order, String updateExpression, Map<String, String> names,
            Map<String, AttributeValue> values) {
        Objects.requireNonNull(key, "key must not be null");
        Objects.requireNonNull(updateExpression, "updateExpression must not be null");
        BigDecimal o = order(order);
        Map<String, String> allNames = new HashMap<>(names);
        allNames.putAll(names());
        allNames.put("#cdcClock", ReplicationSink.CLOCK_ATTRIBUTE);
        allNames.put("#cdcVersion", ReplicationSink.VERSION_ATTRIBUTE);
        Map<String, AttributeValue> allValues = new HashMap<>(values);
        allValues.putAll(values(o));
        String set = "#cdcOrder = :cdcOrder, #cdcOrigin = :cdcSide";
        String remove = "#cdcRepOrder, #cdcClock, #cdcVersion, #cdcDeleted";
        String expression = insert(insert(updateExpression, SET, "SET", set), REMOVE, "REMOVE", remove);
        write("update", () -> client.updateItem(r -> r.tableName(table).key(key).updateExpression(expression)
                .conditionExpression(wins(false)).expressionAttributeNames(allNames)
                .expressionAttributeValues(allValues)));
    }

    /**
     * Deletes an item at {@code order}: leaves a tombstone (the key, the order value and
     * {@value ReplicationSink#DELETED_ATTRIBUTE}) that expires through TTL after the retention.
     *
     * @throws LosingWriteException if the stored version wins
     */
    public void delete(Map<String, AttributeValue> key, long order) {
        Objects.requireNonNull(key, "key must not be null");
        BigDecimal o = order(order);
        Map<String, AttributeValue> tombstone = new HashMap<>(key);
        AttributeValue n = AttributeValue.builder().n(o.toPlainString()).build();
        tombstone.put(orderAttribute, n);
        tombstone.put(ReplicationSink.DELETED_ATTRIBUTE, n);
        tombstone.put(ReplicationSink.ORIGIN_ATTRIBUTE, s(side));
        tombstone.put(ttlAttribute, AttributeValue.builder()
                .n(Long.toString(clock.instant().plus(tombstoneRetention).getEpochSecond())).build());
        write("delete", () -> client.putItem(r -> r.tableName(table).item(tombstone).conditionExpression(wins(true))
                .expressionAttributeNames(names()).expressionAttributeValues(values(o))));
    }

    /**
     * The condition for this side's write to win: nothing stored, a smaller order, or an equal order
     * where the rule prefers this write. A stored item is the replicator's while its replicated order
     * ({@value ReplicationSink#REPLICATED_ORDER_ATTRIBUTE}) still equals its order; otherwise this
     * side's application wrote it, and a later write of one side wins over an earlier one.
     */
    private static String wins(boolean delete) {
        String replicated = "#cdcRepOrder = #cdcOrder";
        String storedDeleted = "#cdcDeleted = #cdcOrder";
        String tie = delete
                ? "(NOT (" + storedDeleted + ") OR NOT (" + replicated + ") OR #cdcOrigin < :cdcSide)"
                : "(NOT (" + storedDeleted + ") AND (NOT (" + replicated + ") OR #cdcOrigin < :cdcSide))";
        return "attribute_not_exists(#cdcOrder) OR #cdcOrder < :cdcOrder OR (#cdcOrder = :cdcOrder AND " + tie + ")";
    }

    private Map<String, String> names() {
        return Map.of("#cdcOrder", orderAttribute, "#cdcRepOrder", ReplicationSink.REPLICATED_ORDER_ATTRIBUTE,
                "#cdcDeleted", ReplicationSink.DELETED_ATTRIBUTE, "#cdcOrigin", ReplicationSink.ORIGIN_ATTRIBUTE);
    }

    private Map<String, AttributeValue> values(BigDecimal order) {
        return Map.of(":cdcOrder", AttributeValue.builder().n(order.toPlainString()).build(), ":cdcSide", s(side));
    }

    private void write(String what, Runnable call) {
        try {
            call.run();
        } catch (ConditionalCheckFailedException e) {
            throw new LosingWriteException(what + " refused in table '" + table + "' on side '" + side + "': the stored "
                    + "version wins by the conflict rule (a greater " + orderAttribute + ", or an equal one with a "
                    + "delete or a greater side name); write with a greater " + orderAttribute);
        } catch (SdkException e) {
            DynamoDbErrors.describe(e, table); // throws if the table is unusable
            throw e;
        }
    }

    private BigDecimal orderOf(Map<String, AttributeValue> item) {
        Objects.requireNonNull(item, "item must not be null");
        String[] problem = new String[1];
        BigDecimal o = LwwClock.order(item.get(orderAttribute), orderAttribute, problem);
        if (o == null) {
            throw new IllegalArgumentException(problem[0]);
        }
        return o;
    }

    private BigDecimal order(long order) {
        if (order < 0) {
            throw new IllegalArgumentException(orderAttribute + " must be at least 0 (was " + order + ")");
        }
        return BigDecimal.valueOf(order);
    }

    /** Adds {@code clause} to the expression's {@code keyword} clause, or appends one. */
    private static String insert(String expression, Pattern keyword, String word, String clause) {
        Matcher m = keyword.matcher(expression);
        if (m.find()) {
            return expression.substring(0, m.end()) + clause + ", " + expression.substring(m.end());
        }
        return expression + " " + word + " " + clause;
    }

    private static AttributeValue s(String v) {
        return AttributeValue.builder().s(v).build();
    }

    /** Builds a {@link TwoWayTable}; reusable. */
    public static final class Builder {
        private DynamoDbClient client;
        private String table;
        private String side;
        private String orderAttribute;
        private String ttlAttribute = ReplicationSink.DEFAULT_TTL_ATTRIBUTE;
        private Duration tombstoneRetention = Duration.ofHours(ReplicationSink.DEFAULT_TOMBSTONE_RETENTION_HOURS);
        private Clock clock = Clock.systemUTC();

        private Builder() {
        }

        /** This side's client; not closed by the table. */
        public Builder client(DynamoDbClient client) {
            this.client = Objects.requireNonNull(client, "client must not be null");
            return this;
        }

        /** This side's table. */
        public Builder table(String table) {
            this.table = DynamoDbErrors.checkTable(table);
            return this;
        }

        /** This side's name, as the replicators name it (their origin and targetSide). */
        public Builder side(String side) {
            this.side = LwwClock.checkSide("side", side);
            return this;
        }

        /** The number attribute that orders writes (an update time in milliseconds, or a version). */
        public Builder orderAttribute(String orderAttribute) {
            this.orderAttribute = LwwClock.checkOrderAttribute(orderAttribute);
            return this;
        }

        /** The tombstones' TTL attribute and retention; as {@link ReplicationSink.Builder#tombstones}. */
        public Builder tombstones(String ttlAttribute, Duration retention) {
            ReplicationSink.Builder.checkTombstones(ttlAttribute, retention);
            this.ttlAttribute = ttlAttribute;
            this.tombstoneRetention = retention;
            return this;
        }

        /** The clock of tombstone expiry times; the system's by default. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock must not be null");
            return this;
        }

        /**
         * A table.
         *
         * @throws IllegalStateException if client, table, side or orderAttribute is missing
         */
        public TwoWayTable build() {
            if (client == null) {
                throw new IllegalStateException("client is required");
            }
            if (table == null) {
                throw new IllegalStateException("table is required");
            }
            if (side == null) {
                throw new IllegalStateException("side is required: this side's name, as the replicators call it");
            }
            if (orderAttribute == null) {
                throw new IllegalStateException("orderAttribute is required: the number attribute that orders writes");
            }
            return new TwoWayTable(this);
        }
    }
}
