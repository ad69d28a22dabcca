package io.flowsec.dataplane.sa;

/**
 * Makes an SA's sequence state durable ahead of use, off the packet path: a lane asks for the next block once its
 * numbers come within half a block of the durable limit, and the store raises the limit once the block is on disk.
 */
public interface SequenceReservations {
    /** Lane thread, once per block: make the next block durable, then raise the SA's limit. Never blocks. */
    void requestAhead(SecurityAssociation sa);
}
