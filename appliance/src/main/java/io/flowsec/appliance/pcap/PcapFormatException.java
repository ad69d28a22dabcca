package io.flowsec.appliance.pcap;

/** A file that is not a pcap this tool can read, or one cut short; the message says which and where. */
public final class PcapFormatException extends Exception {
    public PcapFormatException(String message) {
        super(message);
    }
}
