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
    /** A key's holder and how many of its events that holder has unsettled. */
    private static final class Hold {
        final Object holder;
        int count;

        Hold(Object holder) {
            this.holder = holder;
        }
    }

    private final Map<Object, Hold> held = new HashMap<>();
    private final Set<EventKey> parked = new LinkedHashSet<>(); // guarded by itself, oldest first
    private final Object haltLock = new Object();
    private volatile String haltReason;

    /** Takes one more event of {@code key} for {@code holder}; false if another holder has the key. */
    boolean hold(Object key, Object holder) {
        Hold h = held.get(key);
        if (h == null) {
            h = new Hold(holder);
            held.put(key, h);
        } else if (h.holder != holder) {
            return false;
        }
        h.count++;
        return true;
    }

    /** Whether a batch holds {@code key}. */
    boolean isHeld(Object key) {
        return held.containsKey(key);
    }

    /** One event of {@code key} settled; the key is free once its holder has none left. True if it just became free. */
    boolean release(Object key) {
        Hold h = held.get(key);
        if (h != null && --h.count == 0) {
            held.remove(key);
            return true;
        }
        return false;
    }

    /** How many keys are held now. */
    int heldKeys() {
        return held.size();
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
