package io.flowsec.testbed.bench;

import java.util.List;
import java.util.stream.Collectors;

/** Lane shares printed as {@code 98%/3%}. */
final class Percent {
    private Percent() {
    }

    static String of(List<Double> shares) {
        return shares.stream().map(share -> String.format("%.0f%%", share * 100)).collect(Collectors.joining("/"));
    }
}
