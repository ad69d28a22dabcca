package io.flowsec.dataplane.sa;

import java.util.ArrayList;
import java.util.List;

/**
 * The SAD: every SA by dense index, and inbound SAs by SPI in an open-addressing table (no boxing on lookup).
 * Changes are copy-on-write snapshots published with one volatile write; lanes read without locks.
 */
public final class SecurityAssociationDatabase {
    private volatile Snapshot snapshot = new Snapshot(new SecurityAssociation[] {null}, new int[16], new SecurityAssociation[16]);

    private record Snapshot(SecurityAssociation[] byIndex, int[] spiKeys, SecurityAssociation[] spiValues) {
    }

    /** Adds an SA and assigns its index. Rejects a second inbound SA with the same SPI. Control plane only. */
    public synchronized void add(SecurityAssociation sa) {
        Snapshot current = snapshot;
        if (sa.direction() == SecurityAssociation.Direction.INBOUND && inbound(sa.spi()) != null) {
            throw new IllegalArgumentException(sa.name() + ": inbound SPI 0x" + Integer.toHexString(sa.spi()) + " is already in use");
        }
        SecurityAssociation[] byIndex = java.util.Arrays.copyOf(current.byIndex, current.byIndex.length + 1);
        sa.index = byIndex.length - 1;
        byIndex[sa.index] = sa;
        snapshot = rebuild(byIndex);
    }

    /**
     * Removes an SA. Its index is not reused, so the lanes' counters of a removed SA never mix with a new one's.
     * Control plane only.
     */
    public synchronized void remove(SecurityAssociation sa) {
        Snapshot current = snapshot;
        int index = sa.index;
        if (index <= 0 || index >= current.byIndex.length || current.byIndex[index] != sa) {
            return;
        }
        SecurityAssociation[] byIndex = current.byIndex.clone();
        byIndex[index] = null;
        snapshot = rebuild(byIndex);
    }

    public synchronized void addAll(List<SecurityAssociation> sas) {
        for (SecurityAssociation sa : sas) {
            add(sa);
        }
    }

    private static Snapshot rebuild(SecurityAssociation[] byIndex) {
        int inbound = 0;
        for (SecurityAssociation sa : byIndex) {
            if (sa != null && sa.direction() == SecurityAssociation.Direction.INBOUND) {
                inbound++;
            }
        }
        int capacity = 16;
        while (capacity < inbound * 2) {
            capacity <<= 1;
        }
        int[] keys = new int[capacity];
        SecurityAssociation[] values = new SecurityAssociation[capacity];
        for (SecurityAssociation sa : byIndex) {
            if (sa != null && sa.direction() == SecurityAssociation.Direction.INBOUND) {
                int slot = slot(sa.spi(), capacity);
                while (values[slot] != null) {
                    slot = (slot + 1) & (capacity - 1);
                }
                keys[slot] = sa.spi();
                values[slot] = sa;
            }
        }
        return new Snapshot(byIndex, keys, values);
    }

    private static int slot(int spi, int capacity) {
        return (spi * 0x9E3779B9) >>> 16 & (capacity - 1);
    }

    /** Hot path: the inbound SA with this SPI, or null. */
    public SecurityAssociation inbound(int spi) {
        Snapshot current = snapshot;
        int[] keys = current.spiKeys;
        SecurityAssociation[] values = current.spiValues;
        int mask = keys.length - 1;
        int slot = slot(spi, keys.length);
        while (true) {
            SecurityAssociation candidate = values[slot];
            if (candidate == null) {
                return null;
            }
            if (keys[slot] == spi) {
                return candidate;
            }
            slot = (slot + 1) & mask;
        }
    }

    public SecurityAssociation byIndex(int index) {
        SecurityAssociation[] byIndex = snapshot.byIndex;
        return index > 0 && index < byIndex.length ? byIndex[index] : null;
    }

    public List<SecurityAssociation> all() {
        List<SecurityAssociation> list = new ArrayList<>();
        for (SecurityAssociation sa : snapshot.byIndex) {
            if (sa != null) {
                list.add(sa);
            }
        }
        return list;
    }
}
