package io.flowsec.cluster;

import io.flowsec.cluster.balancing.LaneLoad;
import io.flowsec.cluster.balancing.LoadReport;
import io.flowsec.dataplane.runtime.DataplaneControl;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The sender's flowlet gap against the receiver's measured queue delays, over a data plane that records the gap set. */
class FlowletGapFollowerTest {
    private static final Duration CONFIGURED = Duration.ofNanos(500_000);
    private final List<Duration> set = new ArrayList<>();
    private final DataplaneControl dataplane = (DataplaneControl) Proxy.newProxyInstance(getClass().getClassLoader(),
            new Class<?>[] {DataplaneControl.class}, (proxy, method, args) -> {
                if (method.getName().equals("flowletGap") && args == null) {
                    return CONFIGURED;
                }
                if (method.getName().equals("flowletGap")) {
                    set.add((Duration) args[0]);
                    return null;
                }
                throw new UnsupportedOperationException(method.getName());
            });

    private static LoadReport delays(double... queueDelayMs) {
        List<LaneLoad> lanes = new ArrayList<>();
        for (int lane = 0; lane < queueDelayMs.length; lane++) {
            lanes.add(new LaneLoad(lane, 0.5, 1000, 0, 0, 0, queueDelayMs[lane]));
        }
        return new LoadReport("router-b", "a-b", 1, 0, lanes, Map.of());
    }

    @Test
    void shouldOutlastTheSpreadOfTheReceiversDelaysBetweenTheConfiguredGapAndTheCeiling() {
        FlowletGapFollower gaps = new FlowletGapFollower(dataplane, Duration.ofMillis(250), message -> { });
        assertEquals(Duration.ofMillis(150), FlowletGapFollower.needed(delays(1, 101)), "1.5 × (101 − 1) ms");

        gaps.ask("a-b", FlowletGapFollower.needed(delays(0.2, 0.3)));
        assertEquals(List.of(), set, "lanes that keep up: the configured gap stays");
        gaps.ask("a-b", FlowletGapFollower.needed(delays(1, 101)));
        assertEquals(List.of(Duration.ofMillis(150)), set);
        gaps.ask("a-b", FlowletGapFollower.needed(delays(1, 111)));
        assertEquals(1, set.size(), "165 ms is within a quarter of 150: no change asked of the lanes");
        gaps.ask("a-b", FlowletGapFollower.needed(delays(1, 401)));
        assertEquals(Duration.ofMillis(250), set.getLast(), "600 ms wanted, the ceiling given");
        gaps.ask("c-d", FlowletGapFollower.needed(delays(2, 3)));
        assertEquals(Duration.ofMillis(250), gaps.inForce(), "the largest ask of every tunnel");
        gaps.ask("a-b", FlowletGapFollower.needed(delays(2, 3)));
        assertEquals(CONFIGURED, set.getLast(), "delays within a few ms: back to the configured gap");
        gaps.ask("a-b", FlowletGapFollower.needed(delays(60, 1)));
        gaps.withdraw("a-b");
        assertEquals(List.of(Duration.ofMillis(150), Duration.ofMillis(250), CONFIGURED, Duration.ofNanos(88_500_000),
                CONFIGURED), set, "a tunnel that stops balancing as sender withdraws its ask");
    }
}
