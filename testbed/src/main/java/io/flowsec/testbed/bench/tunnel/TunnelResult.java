package io.flowsec.testbed.bench.tunnel;

/**
 * One test through one tunnel.
 *
 * @param tunnel       {@code plain}, {@code wireguard}, {@code single} …
 * @param test         what was run
 * @param value        in {@link TunnelTest#unit()}
 * @param routerACores router A's tunnel processes' CPU time per second of the test; NaN where no process does the
 *                     work (plain routing: the kernel forwards)
 * @param routerBCores the same for router B
 * @param note         what went wrong without spoiling the figure (e.g. failed HTTP requests); empty when nothing
 */
public record TunnelResult(String tunnel, TunnelTest test, double value, double routerACores, double routerBCores,
                           String note) {
}
