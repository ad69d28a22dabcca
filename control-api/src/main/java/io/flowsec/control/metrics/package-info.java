/**
 * The appliance as Prometheus sees it: the data plane's counters per lane and per SA, drops by reason, the control
 * API's latency and the JVM, served at {@code /metrics} beside the REST API and behind its tokens. No metric is
 * labelled by a key or anything derived from one.
 */
package io.flowsec.control.metrics;
