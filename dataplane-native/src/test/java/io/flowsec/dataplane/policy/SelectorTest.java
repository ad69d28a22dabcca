package io.flowsec.dataplane.policy;

import io.flowsec.dataplane.selector.IpPrefix;
import io.flowsec.dataplane.selector.PortRange;
import io.flowsec.dataplane.selector.TrafficSelector;
import io.flowsec.dataplane.packet.FlowKey;
import io.flowsec.dataplane.packet.IpProtocol;
import io.flowsec.dataplane.testing.TestPackets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** RFC 4301 §4.4.1 selectors: prefixes, port ranges, orientation, and the SPD's first match. */
class SelectorTest {
    private static int v4(String address) {
        byte[] bytes = TestPackets.address(address).getAddress();
        return ((bytes[0] & 0xFF) << 24) | ((bytes[1] & 0xFF) << 16) | ((bytes[2] & 0xFF) << 8) | (bytes[3] & 0xFF);
    }

    private static long[] v6(String address) {
        byte[] bytes = TestPackets.address(address).getAddress();
        long high = 0;
        long low = 0;
        for (int i = 0; i < 8; i++) {
            high = (high << 8) | (bytes[i] & 0xFF);
            low = (low << 8) | (bytes[i + 8] & 0xFF);
        }
        return new long[] {high, low};
    }

    private static boolean matches6(IpPrefix prefix, String address) {
        long[] a = v6(address);
        return prefix.matchesIpv6(a[0], a[1]);
    }

    private static FlowKey key(byte[] packet) {
        FlowKey key = new FlowKey();
        assertTrue(key.read(packet, 0, packet.length));
        return key;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // IpPrefix

    @ParameterizedTest(name = "{0} contains {1}: {2}")
    @CsvSource({
            "10.0.0.0/8, 10.0.0.0, true",
            "10.0.0.0/8, 10.255.255.255, true",
            "10.0.0.0/8, 11.0.0.0, false",
            "10.0.0.0/8, 9.255.255.255, false",
            "10.1.2.3/8, 10.9.9.9, true",           // host bits are ignored
            "192.168.1.0/24, 192.168.1.77, true",
            "192.168.1.0/24, 192.168.2.77, false",
            "192.168.1.128/25, 192.168.1.127, false",
            "192.168.1.128/25, 192.168.1.128, true",
            "203.0.113.7, 203.0.113.7, true",       // a bare address is a host prefix
            "203.0.113.7/32, 203.0.113.6, false",
            "0.0.0.0/0, 255.255.255.255, true",
            "128.0.0.0/1, 127.255.255.255, false",
            "128.0.0.0/1, 200.1.1.1, true",
    })
    void shouldMatchIpv4Prefixes(String prefix, String address, boolean expected) {
        assertEquals(expected, IpPrefix.parse(prefix).matchesIpv4(v4(address)));
    }

    @ParameterizedTest(name = "{0} contains {1}: {2}")
    @CsvSource({
            "2001:db8::/32, 2001:db8:ffff::1, true",
            "2001:db8::/32, 2001:db9::1, false",
            "fd00:a::/48, fd00:a:0:ffff::1, true",
            "fd00:a::/48, fd00:a:1::1, false",
            "2001:db8:1:2::/64, 2001:db8:1:2:ffff:ffff:ffff:ffff, true",
            "2001:db8:1:2::/64, 2001:db8:1:3::, false",
            "2001:db8:0:0:8000::/65, 2001:db8:0:0:8000::1, true",
            "2001:db8:0:0:8000::/65, 2001:db8:0:0:ffff::1, true",
            "2001:db8:0:0:8000::/65, 2001:db8:0:0:7fff::1, false",
            "2001:db8:0:0:8000::/65, 2001:db8:0:1:8000::1, false",
            "2001:db8::1/127, 2001:db8::, true",
            "2001:db8::1/127, 2001:db8::2, false",
            "2001:db8::1, 2001:db8::1, true",
            "2001:db8::1/128, 2001:db8::1:1, false",
            "::/0, ffff::1, true",
            "8000::/1, 7fff::1, false",
    })
    void shouldMatchIpv6Prefixes(String prefix, String address, boolean expected) {
        assertEquals(expected, matches6(IpPrefix.parse(prefix), address));
    }

    @Test
    void shouldNeverMatchAnAddressOfTheOtherFamily() {
        IpPrefix v4all = IpPrefix.parse("0.0.0.0/0");
        IpPrefix v6all = IpPrefix.parse("::/0");
        assertFalse(v4all.matchesIpv6(0, 0));
        assertFalse(v6all.matchesIpv4(0));
        assertEquals(4, v4all.family());
        assertEquals(6, v6all.family());
    }

    @ParameterizedTest
    @ValueSource(strings = {"any", "ANY", " any ", ""})
    void shouldParseAnyAsMatchingBothFamilies(String text) {
        IpPrefix any = IpPrefix.parse(text);
        assertSame(IpPrefix.ANY, any);
        assertTrue(any.isAny());
        assertTrue(any.matchesIpv4(v4("1.2.3.4")));
        assertTrue(matches6(any, "2001:db8::1"));
        assertEquals("any", any.toString());
    }

    @ParameterizedTest
    @CsvSource({
            "10.1.2.3/8, 10.0.0.0/8",
            "192.0.2.1, 192.0.2.1/32",
            "2001:db8:0:0:1::/32, 2001:db8:0:0:0:0:0:0/32",
    })
    void shouldPrintTheNormalisedPrefix(String text, String printed) {
        assertEquals(printed, IpPrefix.parse(text).toString());
        assertEquals(IpPrefix.parse(text).length(), IpPrefix.parse(printed).length());
    }

    @ParameterizedTest(name = "''{0}'' -> {1}")
    @CsvSource(delimiter = '|', value = {
            "10.0.0.0/33          | out of range",
            "10.0.0.0/-1          | out of range",
            "2001:db8::/129       | out of range",
            "10.0.0.0/x           | bad prefix length",
            "10.0.0.0/            | bad prefix length",
            "example.com/24       | not an IP address",
            "localhost            | not an IP address",
            "10.0.0/8             | a.b.c.d",
            "10.0.0.0.0/8         | not an IP",
            "300.0.0.1/8          | not an IP",
            "2001:db8::g/64       | not an IP",
    })
    void shouldRejectBadPrefixesWithAMessageThatQuotesTheInput(String text, String reason) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IpPrefix.parse(text));
        assertTrue(e.getMessage().contains(reason), "'" + e.getMessage() + "' should say '" + reason + "'");
        String quoted = text.contains("/") ? text.substring(0, text.indexOf('/')) : text;
        assertTrue(e.getMessage().contains(quoted.strip()), "'" + e.getMessage() + "' should quote " + quoted);
    }

    @Test
    void shouldBuildPrefixesFromRawAddresses() {
        assertTrue(IpPrefix.of(new byte[] {10, 1, 0, 0}, 16).matchesIpv4(v4("10.1.200.3")));
        assertTrue(matches6(IpPrefix.of(TestPackets.address("fd00:b::").getAddress(), 48), "fd00:b::20"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IpPrefix.of(new byte[5], 8));
        assertTrue(e.getMessage().contains("4 or 16"), e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // PortRange

    @Test
    void shouldParsePortRanges() {
        assertEquals(new PortRange(443, 443), PortRange.parse("443"));
        assertEquals(new PortRange(1024, 65535), PortRange.parse(" 1024 - 65535 "));
        assertSame(PortRange.ANY, PortRange.parse("any"));
        assertSame(PortRange.ANY, PortRange.parse(""));
        assertTrue(PortRange.parse("0-65535").isAny());
        assertEquals("443", PortRange.parse("443").toString());
        assertEquals("1024-2047", PortRange.parse("1024-2047").toString());
        assertEquals("any", PortRange.ANY.toString());
    }

    @Test
    void shouldContainItsEndsAndNothingOutside() {
        PortRange range = new PortRange(1000, 2000);
        assertTrue(range.contains(1000));
        assertTrue(range.contains(2000));
        assertFalse(range.contains(999));
        assertFalse(range.contains(2001));
        assertFalse(range.contains(-1), "no ports visible");
        assertTrue(PortRange.ANY.contains(0));
        assertTrue(PortRange.ANY.contains(65535));
    }

    @ParameterizedTest
    @ValueSource(strings = {"http", "80-", "-80", "2000-1000", "65536", "-1", "1-2-3", "1024-65536"})
    void shouldRejectBadPortRangesWithAMessage(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PortRange.parse(text));
        assertTrue(e.getMessage().contains("port range"), e.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // TrafficSelector

    private static final TrafficSelector WEB_FROM_A = new TrafficSelector(IpPrefix.parse("10.1.0.0/16"),
            IpPrefix.parse("10.2.0.0/16"), IpProtocol.TCP, PortRange.ANY, new PortRange(443, 443));

    @Test
    void shouldMatchOutboundPacketsFromLocalToRemote() {
        assertTrue(WEB_FROM_A.matchesOutbound(key(TestPackets.tcp("10.1.0.10", 50000, "10.2.0.20", 443, 0))));
        assertFalse(WEB_FROM_A.matchesOutbound(key(TestPackets.tcp("10.2.0.20", 443, "10.1.0.10", 50000, 0))),
                "the answer goes the other way");
        assertFalse(WEB_FROM_A.matchesOutbound(key(TestPackets.tcp("10.1.0.10", 50000, "10.2.0.20", 80, 0))), "port");
        assertFalse(WEB_FROM_A.matchesOutbound(key(TestPackets.udp("10.1.0.10", 50000, "10.2.0.20", 443, 0))), "protocol");
        assertFalse(WEB_FROM_A.matchesOutbound(key(TestPackets.tcp("10.3.0.10", 50000, "10.2.0.20", 443, 0))), "source");
        assertFalse(WEB_FROM_A.matchesOutbound(key(TestPackets.tcp("10.1.0.10", 50000, "10.4.0.20", 443, 0))), "destination");
    }

    @Test
    void shouldMatchInboundPacketsFromRemoteToLocal() {
        // the same selectors at A: the server's answers arrive from 10.2.0.20:443
        assertTrue(WEB_FROM_A.matchesInbound(key(TestPackets.tcp("10.2.0.20", 443, "10.1.0.10", 50000, 0))));
        assertFalse(WEB_FROM_A.matchesInbound(key(TestPackets.tcp("10.1.0.10", 50000, "10.2.0.20", 443, 0))));
        // and B, holding the mirror, accepts what A sends
        TrafficSelector atB = TestPackets.mirror(WEB_FROM_A);
        assertTrue(atB.matchesInbound(key(TestPackets.tcp("10.1.0.10", 50000, "10.2.0.20", 443, 0))));
        assertFalse(atB.matchesInbound(key(TestPackets.tcp("10.1.0.10", 50000, "10.2.0.20", 444, 0))));
    }

    @Test
    void shouldNotMatchAPortSelectorWhenThePacketShowsNoPorts() {
        assertFalse(WEB_FROM_A.matchesOutbound(key(TestPackets.icmpEcho("10.1.0.10", "10.2.0.20", 8))));
        TrafficSelector anyPorts = new TrafficSelector(IpPrefix.parse("10.1.0.0/16"), IpPrefix.parse("10.2.0.0/16"),
                0, PortRange.ANY, PortRange.ANY);
        assertTrue(anyPorts.matchesOutbound(key(TestPackets.icmpEcho("10.1.0.10", "10.2.0.20", 8))));
    }

    @Test
    void shouldMatchIpv6SelectorsOnlyForIpv6Packets() {
        TrafficSelector v6 = new TrafficSelector(IpPrefix.parse("fd00:a::/48"), IpPrefix.parse("fd00:b::/48"),
                0, PortRange.ANY, PortRange.ANY);
        assertTrue(v6.matchesOutbound(key(TestPackets.udp("fd00:a::10", 1, "fd00:b::20", 2, 0))));
        assertFalse(v6.matchesOutbound(key(TestPackets.udp("fd00:a::10", 1, "fd00:c::20", 2, 0))));
        assertFalse(v6.matchesOutbound(key(TestPackets.udp("10.1.0.10", 1, "10.2.0.20", 2, 0))));
        assertTrue(TrafficSelector.ANY.matchesOutbound(key(TestPackets.udp("10.1.0.10", 1, "10.2.0.20", 2, 0))));
        assertTrue(TrafficSelector.ANY.matchesInbound(key(TestPackets.udp("fd00:a::10", 1, "fd00:b::20", 2, 0))));
    }

    @Test
    void shouldRejectMixedFamiliesAndBadProtocols() {
        IllegalArgumentException mixed = assertThrows(IllegalArgumentException.class, () -> new TrafficSelector(
                IpPrefix.parse("10.0.0.0/8"), IpPrefix.parse("fd00::/8"), 0, PortRange.ANY, PortRange.ANY));
        assertTrue(mixed.getMessage().contains("famil"), mixed.getMessage());
        IllegalArgumentException protocol = assertThrows(IllegalArgumentException.class, () -> new TrafficSelector(
                IpPrefix.ANY, IpPrefix.ANY, 256, PortRange.ANY, PortRange.ANY));
        assertTrue(protocol.getMessage().contains("256"), protocol.getMessage());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // SPD

    private static SecurityPolicy policy(String name, String local, String remote, PolicyAction action) {
        return new SecurityPolicy(name, new TrafficSelector(IpPrefix.parse(local), IpPrefix.parse(remote), 0,
                PortRange.ANY, PortRange.ANY), action, null);
    }

    @Test
    void shouldLetTheFirstMatchingPolicyWin() {
        SecurityPolicy narrow = policy("narrow", "10.1.0.0/24", "10.2.0.0/16", PolicyAction.BYPASS);
        SecurityPolicy wide = policy("wide", "10.1.0.0/16", "10.2.0.0/16", PolicyAction.DISCARD);
        SecurityPolicyDatabase spd = new SecurityPolicyDatabase(List.of(narrow, wide));

        assertSame(narrow, spd.matchOutbound(key(TestPackets.udp("10.1.0.10", 1, "10.2.0.20", 2, 0))));
        assertSame(wide, spd.matchOutbound(key(TestPackets.udp("10.1.7.10", 1, "10.2.0.20", 2, 0))));

        spd.replaceAll(List.of(wide, narrow));
        assertSame(wide, spd.matchOutbound(key(TestPackets.udp("10.1.0.10", 1, "10.2.0.20", 2, 0))),
                "order, not specificity");
        assertEquals(List.of(wide, narrow), spd.policies());
    }

    @Test
    void shouldReturnNullWhenNoPolicyMatches() {
        SecurityPolicyDatabase spd = new SecurityPolicyDatabase(List.of(policy("p", "10.1.0.0/16", "10.2.0.0/16",
                PolicyAction.BYPASS)));
        assertNull(spd.matchOutbound(key(TestPackets.udp("10.9.0.10", 1, "10.2.0.20", 2, 0))));
        assertNull(spd.matchOutbound(key(TestPackets.udp("fd00:a::10", 1, "fd00:b::20", 2, 0))));
        assertNull(new SecurityPolicyDatabase().matchOutbound(key(TestPackets.udp("10.1.0.10", 1, "10.2.0.20", 2, 0))));
    }

    @Test
    void shouldRequireAnSaGroupForAProtectPolicy() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> policy("needs-sas", "any", "any", PolicyAction.PROTECT));
        assertTrue(e.getMessage().contains("needs-sas"), e.getMessage());
    }
    private static TrafficSelector selector(String local, String remote, int protocol, String localPorts, String remotePorts) {
        return new TrafficSelector(IpPrefix.parse(local), IpPrefix.parse(remote), protocol, PortRange.parse(localPorts),
                PortRange.parse(remotePorts));
    }

    @ParameterizedTest(name = "{0} {1} {2} {3} {4} vs {5} {6} {7} {8} {9}: {10}")
    @CsvSource({
            // same prefixes, nested prefixes, disjoint prefixes
            "10.1.0.0/16, 10.2.0.0/16, 0, any, any,   10.1.0.0/16, 10.2.0.0/16, 0, any, any,   true",
            "10.1.0.0/16, 10.2.0.0/16, 0, any, any,   10.1.7.0/24, 10.2.0.9,    0, any, any,   true",
            "10.1.0.0/16, 10.2.0.0/16, 0, any, any,   10.3.0.0/16, 10.2.0.0/16, 0, any, any,   false",
            "10.1.0.0/16, 10.2.0.0/16, 0, any, any,   10.1.0.0/16, 10.20.0.0/16, 0, any, any,  false",
            // prefixes sharing leading bits but neither containing the other
            "10.1.0.0/24, any,         0, any, any,   10.1.1.0/24, any,         0, any, any,   false",
            // any meets every prefix; families never meet
            "any,         any,         0, any, any,   10.1.0.0/16, 10.2.0.0/16, 0, any, any,   true",
            "fd00:a::/48, fd00:b::/48, 0, any, any,   10.1.0.0/16, 10.2.0.0/16, 0, any, any,   false",
            "fd00:a::/48, fd00:b::/48, 0, any, any,   fd00:a:0:1::/64, any,     0, any, any,   true",
            "fd00:a::/48, fd00:b::/48, 0, any, any,   fd00:a:1::/64, any,       0, any, any,   false",
            // protocols: any meets each; two different ones never meet
            "10.1.0.0/16, 10.2.0.0/16, 6, any, any,   10.1.0.0/16, 10.2.0.0/16, 0, any, any,   true",
            "10.1.0.0/16, 10.2.0.0/16, 6, any, any,   10.1.0.0/16, 10.2.0.0/16, 17, any, any,  false",
            // port ranges: touching at one port, disjoint, any
            "10.1.0.0/16, 10.2.0.0/16, 6, 1-443, any, 10.1.0.0/16, 10.2.0.0/16, 6, 443-500, any, true",
            "10.1.0.0/16, 10.2.0.0/16, 6, 1-442, any, 10.1.0.0/16, 10.2.0.0/16, 6, 443-500, any, false",
            "10.1.0.0/16, 10.2.0.0/16, 6, any, 80,    10.1.0.0/16, 10.2.0.0/16, 6, any, 443,   false",
            "10.1.0.0/16, 10.2.0.0/16, 6, any, any,   10.1.0.0/16, 10.2.0.0/16, 6, any, 443,   true",
    })
    void shouldOverlapExactlyWhenSomePacketMatchesBoth(String local1, String remote1, int protocol1, String localPorts1,
                                                       String remotePorts1, String local2, String remote2, int protocol2,
                                                       String localPorts2, String remotePorts2, boolean overlaps) {
        TrafficSelector first = selector(local1, remote1, protocol1, localPorts1, remotePorts1);
        TrafficSelector second = selector(local2, remote2, protocol2, localPorts2, remotePorts2);
        assertEquals(overlaps, first.overlaps(second));
        assertEquals(overlaps, second.overlaps(first), "overlap is symmetric");
    }
}
