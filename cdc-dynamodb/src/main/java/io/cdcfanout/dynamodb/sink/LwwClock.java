package io.cdcfanout.dynamodb.sink;

import java.math.BigDecimal;
import java.util.regex.Pattern;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * The total order of two-way writes: by the application's order value, then a delete before a put,
 * then the side's name, then (two writes of one side) the write's sequence number in that side's
 * stream. Encoded as one string whose order is that order, so one DynamoDB condition compares two
 * writes: the order value padded to {@value #ORDER_DIGITS} digits, the delete flag, the side padded
 * with spaces to {@value #MAX_SIDE} characters, and the sequence number padded to 40 digits.
 */
final class LwwClock {
    /** Digits of an order value: DynamoDB's number precision. */
    static final int ORDER_DIGITS = 38;
    /** The longest side name. */
    static final int MAX_SIDE = 32;
    private static final Pattern SIDE = Pattern.compile("[A-Za-z0-9._-]{1," + MAX_SIDE + "}");

    private LwwClock() {
    }

    /**
     * The side name, checked: 1 to {@value #MAX_SIDE} letters, digits, '.', '_' or '-' (all above the
     * padding character, so the padded names sort as the names do).
     *
     * @throws IllegalArgumentException if it breaks the rule
     */
    static String checkSide(String what, String side) {
        if (side == null || !SIDE.matcher(side).matches()) {
            throw new IllegalArgumentException(what + " must be 1 to " + MAX_SIDE + " letters, digits, '.', '_' or '-' "
                    + "(was " + (side == null ? "null" : "'" + side + "'") + ")");
        }
        return side;
    }

    /**
     * The order attribute's name, checked: not blank, and not one of the sinks' own {@code cdc_} names.
     *
     * @throws NullPointerException if it is null
     * @throws IllegalArgumentException if it breaks the rule
     */
    static String checkOrderAttribute(String orderAttribute) {
        java.util.Objects.requireNonNull(orderAttribute, "orderAttribute must not be null");
        if (orderAttribute.isBlank() || orderAttribute.startsWith("cdc_")) {
            throw new IllegalArgumentException("orderAttribute must not be blank nor start with cdc_ (was '"
                    + orderAttribute + "')");
        }
        return orderAttribute;
    }

    /**
     * The order value of an item's attribute, or null with {@code problem[0]} set: it must be a whole
     * number from 0 to 10^38 - 1 (an update time in milliseconds, or a version).
     */
    static BigDecimal order(AttributeValue v, String attribute, String[] problem) {
        if (v == null || v.n() == null) {
            problem[0] = "the order attribute '" + attribute + "' must be a number in every item (it is "
                    + (v == null ? "missing" : "not of type N") + ")";
            return null;
        }
        BigDecimal d;
        try {
            d = new BigDecimal(v.n());
        } catch (NumberFormatException e) {
            problem[0] = "the order attribute '" + attribute + "' is not a number";
            return null;
        }
        if (d.signum() < 0 || d.stripTrailingZeros().scale() > 0 || d.precision() - d.scale() > ORDER_DIGITS) {
            problem[0] = "the order attribute '" + attribute + "' must be a whole number from 0 to 10^38 - 1 (was "
                    + v.n() + ")";
            return null;
        }
        return d;
    }

    /** The clock of a write. */
    static String encode(BigDecimal order, boolean deleted, String side, String paddedSequence) {
        String o = order.toBigIntegerExact().toString();
        StringBuilder b = new StringBuilder(ORDER_DIGITS + MAX_SIDE + 45);
        b.append("0".repeat(ORDER_DIGITS - o.length())).append(o).append('|').append(deleted ? '1' : '0').append('|')
                .append(side).append(" ".repeat(MAX_SIDE - side.length())).append('|').append(paddedSequence);
        return b.toString();
    }
}
