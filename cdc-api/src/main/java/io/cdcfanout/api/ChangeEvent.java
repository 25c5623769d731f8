package io.cdcfanout.api;

import java.time.Instant;
import java.util.Collections;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * One change to one item, as a stream reported it: immutable and safe to share between threads.
 *
 * <p>{@code T} is the type of the item images: the source's raw item until {@link #map} re-types it
 * (say, to {@code Customer}). {@link #raw()} always reaches the event with the source's raw images,
 * so an archive sink keeps full fidelity even behind a typed route.
 *
 * <p>{@link #toString()} never prints image contents or key values.
 *
 * <p>A source that cannot fully map a record (a missing key or image, an unknown event name) still
 * emits an event, marked with a {@link #defect()}: the pipeline dead-letters it on every route
 * instead of delivering it, so the record is neither lost nor allowed to stop the batch.
 *
 * @param <T> the type of the before and after images
 */
public final class ChangeEvent<T> {
    private final Operation operation;
    private final Source source;
    private final Position position;
    private final Instant creationTime;
    private final String eventId;
    private final EventKey key;
    private final T before;
    private final T after;
    private final boolean ttlExpiry;
    private final Set<String> changedAttributes;
    private final long sizeBytes;
    private final String defect;
    private final ChangeEvent<?> raw;

    private ChangeEvent(Builder<T> b, ChangeEvent<?> raw) {
        this.operation = Objects.requireNonNull(b.operation, "operation must not be null");
        this.source = Objects.requireNonNull(b.source, "source must not be null");
        this.position = Objects.requireNonNull(b.position, "position must not be null");
        this.creationTime = b.creationTime;
        this.eventId = Objects.requireNonNull(b.eventId, "eventId must not be null");
        this.key = Objects.requireNonNull(b.key, "key must not be null");
        this.before = b.before;
        this.after = b.after;
        this.ttlExpiry = b.ttlExpiry;
        this.changedAttributes = b.changedAttributes == null ? null
                : Collections.unmodifiableSet(new TreeSet<>(b.changedAttributes));
        this.sizeBytes = b.sizeBytes;
        this.defect = b.defect;
        if (eventId.isEmpty()) {
            throw new IllegalArgumentException("eventId must not be empty");
        }
        if (sizeBytes < 0) {
            throw new IllegalArgumentException("sizeBytes must be at least 0 (was " + sizeBytes + ")");
        }
        if (defect != null && defect.isBlank()) {
            throw new IllegalArgumentException("defect must not be blank (event " + eventId + ")");
        }
        if (defect != null) {
            // A defective event reports what the record said, however inconsistent.
            this.raw = raw == null ? this : raw;
            return;
        }
        if (operation == Operation.INSERT && before != null) {
            throw new IllegalArgumentException("before must be absent for an INSERT (event " + eventId + ")");
        }
        if (operation == Operation.REMOVE && after != null) {
            throw new IllegalArgumentException("after must be absent for a REMOVE (event " + eventId + ")");
        }
        if (operation == Operation.SNAPSHOT && before != null) {
            throw new IllegalArgumentException("before must be absent for a SNAPSHOT (event " + eventId + ")");
        }
        if (operation == Operation.SNAPSHOT && !Position.SNAPSHOT.equals(position)) {
            throw new IllegalArgumentException("position must be Position.SNAPSHOT for a SNAPSHOT (event "
                    + eventId + " had " + position + ")");
        }
        if (operation != Operation.SNAPSHOT && Position.SNAPSHOT_SHARD.equals(position.shardId())) {
            throw new IllegalArgumentException("shard id '" + Position.SNAPSHOT_SHARD + "' is reserved for "
                    + "SNAPSHOT events (event " + eventId + ", operation " + operation + ")");
        }
        if (ttlExpiry && operation != Operation.REMOVE) {
            throw new IllegalArgumentException("ttlExpiry is only possible for a REMOVE (was "
                    + operation + ", event " + eventId + ")");
        }
        this.raw = raw == null ? this : raw;
    }

    /** A builder for an event, for sources and tests. */
    public static <T> Builder<T> builder() {
        return new Builder<>();
    }

    /**
     * A builder that starts from this event's values, for a transform that changes a few. The built
     * event's {@link #raw()} is this event's raw event.
     */
    public Builder<T> toBuilder() {
        Builder<T> b = copyWithout();
        b.before = before;
        b.after = after;
        return b;
    }

    /** A derived builder with every field of this event but the images. */
    private <U> Builder<U> copyWithout() {
        Builder<U> b = new Builder<>();
        b.operation = operation;
        b.source = source;
        b.position = position;
        b.creationTime = creationTime;
        b.eventId = eventId;
        b.key = key;
        b.ttlExpiry = ttlExpiry;
        b.changedAttributes = changedAttributes;
        b.sizeBytes = sizeBytes;
        b.defect = defect;
        b.raw = raw;
        b.derived = true;
        return b;
    }

    /**
     * The same event with each present image passed through {@code mapper}; {@link #raw()} stays the
     * original.
     *
     * @throws CdcException (fatal) if the mapper returns null for a present image
     */
    public <U> ChangeEvent<U> map(Function<? super T, ? extends U> mapper) {
        Objects.requireNonNull(mapper, "mapper must not be null");
        Builder<U> b = copyWithout();
        b.before = before == null ? null : mapImage(mapper, before, "before");
        b.after = after == null ? null : mapImage(mapper, after, "after");
        return b.build();
    }

    private <U> U mapImage(Function<? super T, ? extends U> mapper, T image, String which) {
        U mapped = mapper.apply(image);
        if (mapped == null) {
            throw new CdcException("mapper returned null for the " + which + " image of event " + eventId, false);
        }
        return mapped;
    }

    /** INSERT, MODIFY, REMOVE, or SNAPSHOT for an item read by a snapshot of the table. */
    public Operation operation() {
        return operation;
    }

    /** The table and stream the event came from. */
    public Source source() {
        return source;
    }

    /** Shard and sequence number. */
    public Position position() {
        return position;
    }

    /**
     * When the change was made, as the stream approximates it (DynamoDB rounds to the second); empty when
     * the record carried no time, as in the Lambda developer guide's sample event.
     */
    public Optional<Instant> creationTime() {
        return Optional.ofNullable(creationTime);
    }

    /** The stream's unique id of this event. */
    public String eventId() {
        return eventId;
    }

    /** The item's identity; events of one key keep their order on every route. */
    public EventKey key() {
        return key;
    }

    /** The item before the change; absent for an INSERT or when the stream view type leaves it out. */
    public Optional<T> before() {
        return Optional.ofNullable(before);
    }

    /** The item after the change; absent for a REMOVE or when the stream view type leaves it out. */
    public Optional<T> after() {
        return Optional.ofNullable(after);
    }

    /** Whether this REMOVE was made by TTL expiry rather than by a user. */
    public boolean ttlExpiry() {
        return ttlExpiry;
    }

    /**
     * The names of the attributes whose values differ between the images, a missing image counting
     * as empty; absent when the source could not tell (a MODIFY without both images).
     */
    public Optional<Set<String>> changedAttributes() {
        return Optional.ofNullable(changedAttributes);
    }

    /** The source's estimate of the event's size in bytes, for buffering. */
    public long sizeBytes() {
        return sizeBytes;
    }

    /**
     * Why the source could not map its record faithfully, naming the field and the rule; empty for a
     * sound event. A defective event may break the usual rules (a MODIFY without images, a key that is
     * a stand-in), and no route delivers it: each dead-letters it with this reason.
     */
    public Optional<String> defect() {
        return Optional.ofNullable(defect);
    }

    /** The event with the source's raw images; {@code this} for an event that was never mapped. */
    public ChangeEvent<?> raw() {
        return raw;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ChangeEvent<?> e && ttlExpiry == e.ttlExpiry && sizeBytes == e.sizeBytes
                && operation == e.operation && source.equals(e.source) && position.equals(e.position)
                && Objects.equals(creationTime, e.creationTime) && eventId.equals(e.eventId) && key.equals(e.key)
                && Objects.equals(before, e.before) && Objects.equals(after, e.after)
                && Objects.equals(changedAttributes, e.changedAttributes) && Objects.equals(defect, e.defect);
    }

    @Override
    public int hashCode() {
        return Objects.hash(eventId, position, operation);
    }

    @Override
    public String toString() {
        return "ChangeEvent[" + operation + " " + source.table() + " " + position + " id=" + eventId
                + (ttlExpiry ? " ttl" : "") + (defect != null ? " defective" : "") + "]";
    }

    /** Builds a {@link ChangeEvent}; {@link #build()} checks that the fields fit together. */
    public static final class Builder<T> {
        private Operation operation;
        private Source source;
        private Position position;
        private Instant creationTime;
        private String eventId;
        private EventKey key;
        private T before;
        private T after;
        private boolean ttlExpiry;
        private Set<String> changedAttributes;
        private long sizeBytes;
        private String defect;
        private ChangeEvent<?> raw;
        private boolean derived;

        private Builder() {
        }

        public Builder<T> operation(Operation operation) {
            this.operation = operation;
            return this;
        }

        public Builder<T> source(Source source) {
            this.source = source;
            return this;
        }

        public Builder<T> position(Position position) {
            this.position = position;
            return this;
        }

        public Builder<T> creationTime(Instant creationTime) {
            this.creationTime = creationTime;
            return this;
        }

        public Builder<T> eventId(String eventId) {
            this.eventId = eventId;
            return this;
        }

        public Builder<T> key(EventKey key) {
            this.key = key;
            return this;
        }

        /** The before image, or null when absent. */
        public Builder<T> before(T before) {
            this.before = before;
            return this;
        }

        /** The after image, or null when absent. */
        public Builder<T> after(T after) {
            this.after = after;
            return this;
        }

        public Builder<T> ttlExpiry(boolean ttlExpiry) {
            this.ttlExpiry = ttlExpiry;
            return this;
        }

        /** The changed attribute names, or null when unknown. */
        public Builder<T> changedAttributes(Set<String> changedAttributes) {
            this.changedAttributes = changedAttributes;
            return this;
        }

        public Builder<T> sizeBytes(long sizeBytes) {
            this.sizeBytes = sizeBytes;
            return this;
        }

        /**
         * Marks the event as defective, with the reason; null (the default) for a sound event. The
         * checks that images fit the operation are skipped for a defective event.
         */
        public Builder<T> defect(String defect) {
            this.defect = defect;
            return this;
        }

        /**
         * A new event each call.
         *
         * @throws NullPointerException if a required field is missing
         * @throws IllegalArgumentException if the fields contradict each other
         */
        public ChangeEvent<T> build() {
            if (changedAttributes != null) {
                for (String name : changedAttributes) {
                    Objects.requireNonNull(name, "changedAttributes must not contain null");
                }
            }
            return new ChangeEvent<>(this, derived ? raw : null);
        }
    }
}
