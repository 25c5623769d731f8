package io.cdcfanout.api.pipeline;

import io.cdcfanout.api.EventKey;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.LinkedHashSet;

/**
 * Who may pass on a route: the order keys held by a batch in progress (no other batch may take an
 * event of such a key until all of that batch's events of it are settled), the parked item keys (whose
 * later events follow an earlier one to the dead-letter sink; at most {@link Route#MAX_PARKED_KEYS},
 * the oldest forgotten first),
 * and whether the route is halted. Holding is guarded by the route's lock; parking and halting are
 * thread-safe.
 */
final class KeyGate {
    /**
     * A key's holder, how many of its events that holder has unsettled, and how many of its events wait in
     * the route's buffer. One record per key, from the first waiting or held event to the last.
     */
    private static final class Hold {
        Object holder;
        int count;
        int waiting;
    }

    private final Map<Object, Hold> held = new HashMap<>();
    private final Set<EventKey> parked = new LinkedHashSet<>(); // guarded by itself, oldest first
    private final Object haltLock = new Object();
    private volatile String haltReason;
    /** Keys with a holder. */
    private int heldKeys;
    /** Waiting events whose key has no holder: what a new batch could take. */
    private int eligible;

    /** Takes one more event of {@code key} for {@code holder}; false if another holder has the key. */
    boolean hold(Object key, Object holder) {
        return take(key, holder, false) != REFUSED;
    }

    /**
     * An event of {@code key} waits in the buffer now.
     */
    void waitingAdded(Object key) {
        Hold h = held.get(key);
        if (h == null) {
            h = new Hold();
            held.put(key, h);
        }
        h.waiting++;
        if (h.holder == null) {
            eligible++;
        }
    }

    /** What {@link #takeWaiting} returns when another holder has the key. */
    static final int REFUSED = Integer.MIN_VALUE;

    /**
     * Takes a waiting event of {@code key} for {@code holder}, and returns by how much that changes the
     * number of waiting events the holder may take next: the key's other waiting events if it was free
     * until now (they are the holder's from here), else -1 (this one is taken); {@link #REFUSED} if another
     * holder has the key.
     */
    int takeWaiting(Object key, Object holder) {
        return take(key, holder, true);
    }

    private int take(Object key, Object holder, boolean waitingEvent) {
        Hold h = held.get(key);
        if (h == null) {
            h = new Hold();
            held.put(key, h);
        }
        boolean newly = h.holder == null;
        if (newly) {
            h.holder = holder;
            heldKeys++;
            eligible -= h.waiting;
        } else if (h.holder != holder) {
            return REFUSED;
        }
        h.count++;
        if (waitingEvent) {
            h.waiting--;
        }
        return newly ? h.waiting : -1;
    }

    /** One event of {@code key} settled; the key is free once its holder has none left. True if it just became free. */
    boolean release(Object key) {
        Hold h = held.get(key);
        if (h == null || h.holder == null || --h.count > 0) {
            return false;
        }
        h.holder = null;
        heldKeys--;
        if (h.waiting == 0) {
            held.remove(key);
        } else {
            eligible += h.waiting;
        }
        return true;
    }

    /** Whether a batch holds {@code key}. */
    boolean isHeld(Object key) {
        Hold h = held.get(key);
        return h != null && h.holder != null;
    }

    /** Waiting events whose key no batch holds. */
    int eligible() {
        return eligible;
    }

    /** The buffer was emptied (on abort): nothing waits any more. */
    void waitingCleared() {
        held.values().removeIf(h -> {
            h.waiting = 0;
            return h.holder == null;
        });
        eligible = 0;
    }

    /** How many keys are held now. */
    int heldKeys() {
        return heldKeys;
    }

    boolean isParked(EventKey key) {
        synchronized (parked) {
            return parked.contains(key);
        }
    }

    /**
     * Parks a key; when {@link Route#MAX_PARKED_KEYS} are parked already, forgets the oldest and
     * returns true, so the caller can say so.
     */
    boolean park(EventKey key) {
        synchronized (parked) {
            boolean evicted = false;
            if (parked.size() >= Route.MAX_PARKED_KEYS && !parked.contains(key)) {
                var it = parked.iterator();
                it.next();
                it.remove();
                evicted = true;
            }
            parked.add(key);
            return evicted;
        }
    }

    void unpark(EventKey key) {
        synchronized (parked) {
            parked.remove(key);
        }
    }

    int parkedKeys() {
        synchronized (parked) {
            return parked.size();
        }
    }

    /** Halts the route; true if this call halted it. */
    boolean halt(String reason) {
        synchronized (haltLock) {
            if (haltReason != null) {
                return false;
            }
            haltReason = reason;
            return true;
        }
    }

    String haltReason() {
        return haltReason;
    }

    /** Lifts the halt and forgets the parked keys. */
    void resume() {
        synchronized (haltLock) {
            haltReason = null;
        }
        synchronized (parked) {
            parked.clear();
        }
    }

    /** How many item keys are parked now. */
    int parkedCount() {
        synchronized (parked) {
            return parked.size();
        }
    }
}
