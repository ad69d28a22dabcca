package io.flowsec.dataplane.runtime;

/** Hears the data plane's events, on the runtime's event thread (never a lane's): it may block briefly, not long. */
@FunctionalInterface
public interface DataplaneListener {
    void onEvent(DataplaneEvent event);
}
