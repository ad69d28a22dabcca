package io.flowsec.dataplane.policy;

/** RFC 4301 §4.4.1 processing choices. */
public enum PolicyAction {
    PROTECT, BYPASS, DISCARD
}
