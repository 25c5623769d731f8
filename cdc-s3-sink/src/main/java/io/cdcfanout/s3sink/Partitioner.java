package io.cdcfanout.s3sink;

import io.cdcfanout.api.ChangeEvent;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Objects;
import java.util.function.Function;

/**
 * Chooses the partition path of an event's object, such as {@code table=Invoices/dt=2026-11-24/hour=19}:
 * Hive-style {@code name=value} segments joined by {@code /}, which Athena, Glue and Spark read as
 * partitions. A partitioner must be deterministic, a function of the event alone (never of the wall
 * clock), or a replay would write to other keys. Implementations are thread-safe.
 */
@FunctionalInterface
public interface Partitioner {

    /** The partition path: one or more segments joined by {@code /}, with no leading or trailing {@code /}. */
    String partition(ChangeEvent<?> event);

    /** This partition, then {@code next}'s below it. */
    default Partitioner then(Partitioner next) {
        Objects.requireNonNull(next, "next must not be null");
        return event -> partition(event) + "/" + next.partition(event);
    }

    /** {@code table=<table>}. */
    static Partitioner byTable() {
        return field("table", event -> event.source().table());
    }

    /** {@code dt=YYYY-MM-DD}, the UTC day of the event's approximate creation time. */
    static Partitioner byDay() {
        return event -> {
            ZonedDateTime t = time(event);
            return "dt=" + date(t);
        };
    }

    /** {@code dt=YYYY-MM-DD/hour=HH}, the UTC hour of the event's approximate creation time. */
    static Partitioner byHour() {
        return event -> {
            ZonedDateTime t = time(event);
            return "dt=" + date(t) + "/hour=" + two(t.getHour());
        };
    }

    /** {@code table=<table>/dt=YYYY-MM-DD/hour=HH}: the sink's default. */
    static Partitioner byTableAndHour() {
        return byTable().then(byHour());
    }

    /** {@code table=<table>/dt=YYYY-MM-DD}. */
    static Partitioner byTableAndDay() {
        return byTable().then(byDay());
    }

    /**
     * {@code <name>=<value>} for a value the function takes from the event, such as a customer id from
     * the image. The value is percent-encoded (UTF-8) outside {@code A-Z a-z 0-9 . _ -}, so it never
     * adds a path segment. A function that returns null or an empty value fails the event, which is
     * dead-lettered with the reason.
     *
     * @throws IllegalArgumentException if name is not 1 to 64 letters, digits or '_'
     */
    static Partitioner field(String name, Function<? super ChangeEvent<?>, String> value) {
        Objects.requireNonNull(name, "name must not be null");
        Objects.requireNonNull(value, "value must not be null");
        if (!name.matches("[A-Za-z0-9_]{1,64}")) {
            throw new IllegalArgumentException("partition field name must be 1 to 64 letters, digits or '_' (was '"
                    + name + "')");
        }
        return event -> {
            String v = value.apply(event);
            if (v == null || v.isEmpty()) {
                throw new IllegalArgumentException("partition field '" + name + "' has no value for event "
                        + event.eventId() + " (the function returned " + (v == null ? "null" : "an empty string")
                        + ")");
            }
            return name + "=" + ObjectNames.encode(v);
        };
    }

    /** The event's creation time in UTC; an event without one cannot go to a time partition. */
    private static ZonedDateTime time(ChangeEvent<?> event) {
        return event.creationTime().orElseThrow(() -> new IllegalArgumentException("a time partition needs the "
                + "event's creation time (the stream record's ApproximateCreationDateTime), which event "
                + event.eventId() + " lacks")).atZone(ZoneOffset.UTC);
    }

    private static String date(ZonedDateTime t) {
        return String.format("%04d-%s-%s", t.getYear(), two(t.getMonthValue()), two(t.getDayOfMonth()));
    }

    private static String two(int n) {
        return n < 10 ? "0" + n : Integer.toString(n);
    }
}
