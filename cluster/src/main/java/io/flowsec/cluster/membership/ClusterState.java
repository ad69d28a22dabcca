package io.flowsec.cluster.membership;

import java.util.List;

/** Where a {@link ClusterMember} stands; the data plane runs in every one of them. */
public sealed interface ClusterState {

    /** Hazelcast is starting: binding, looking for the listed peers. */
    record Starting() implements ClusterState {
    }

    /** Up; {@code peers} are the other members, as "name@host:port" (the name is what each claims). */
    record Running(List<String> peers) implements ClusterState {
        public Running {
            peers = List.copyOf(peers);
        }

        public int peerCount() {
            return peers.size();
        }
    }

    /** Could not start or stopped on its own; {@code reason} is one line. */
    record Failed(String reason) implements ClusterState {
    }

    /** Closed by its owner. */
    record Stopped() implements ClusterState {
    }
}
