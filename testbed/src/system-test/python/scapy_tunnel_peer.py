#!/usr/bin/python3
"""A peer on the tunnel link for flowsec's system tests: scapy's IPsec layer (scapy.layers.ipsec), nobody's code here.

Every packet is encrypted, decrypted and verified by scapy's SecurityAssociation (tunnel mode through
tunnel_header, RFC 3948 ESP-in-UDP through nat_t_header); keys come straight from an SA file (flowsec's JSON
format, README "SA definitions"). Driven by TunnelInteropSystemTest; one JSON answer on stdout.

  scapy_tunnel_peer.py decrypt SA_FILE PCAP
      Decrypts every ESP-in-UDP packet of a capture (Ethernet, raw IP or Linux cooked, as tcpdump writes it) with
      the SA file's outbound SAs: the capture is what that end sent. Answer:
      {"scapy": version, "packets": [{"ok": true, "spi": int, "seq": int, "outer": {"src", "dst", "sport",
       "dport"}, "inner": hex}, or {"ok": false, "error": str, "spi": int}, ...], "skipped": int}
      (skipped: captured datagrams that are not ESP: NAT keepalives, non-ESP markers, other ports).

  scapy_tunnel_peer.py send SA_FILE < request
      Encrypts inner IPv4/UDP packets with one outbound SA of the SA file and sends them with scapy's send() (the
      kernel routes them: run it inside the sending namespace). Request:
      {"spi": int, "packets": [{"seq": int, "src": addr, "dst": addr, "sport": int, "dport": int,
                                "payload": hex, "tamper": bool (flip one bit of the ICV after encryption)}]}
      Answer: {"scapy": version, "sent": [{"spi": int, "seq": int, "outer": hex}, ...]}

Exit status 2 for a request this script cannot serve, 3 when scapy or python3-cryptography is missing.
"""

import json
import sys

try:
    import scapy
    from scapy.compat import raw
    from scapy.config import conf
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.ipsec import ESP, IPSecIntegrityError, SecurityAssociation
    from scapy.packet import Raw
    from scapy.sendrecv import send
    from scapy.utils import rdpcap
except ImportError as error:
    json.dump({"error": "scapy-missing", "detail": str(error)}, sys.stdout)
    sys.exit(3)

# flowsec suite -> (scapy crypt_algo, scapy auth_algo); scapy's AEAD crypt_key is key || 4-byte salt, as flowsec's
SUITES = {
    "aes-gcm-128": ("AES-GCM", None),
    "aes-gcm-192": ("AES-GCM", None),
    "aes-gcm-256": ("AES-GCM", None),
    "aes-cbc-128-hmac-sha1-96": ("AES-CBC", "HMAC-SHA1-96"),
    "aes-cbc-256-hmac-sha256-128": ("AES-CBC", "SHA2-256-128"),
    "chacha20-poly1305": ("CHACHA20-POLY1305", None),
    "null-hmac-sha256-128": ("NULL", "SHA2-256-128"),
}


def fail(message, status=2):
    json.dump({"error": message}, sys.stdout)
    sys.exit(status)


def spi_of(value):
    return int(value, 0) if isinstance(value, str) else int(value)


def outbound_sas(sa_file):
    """{spi: (policy, sa)} for every outbound SA of the file, with the policy's defaults applied."""
    with open(sa_file) as f:
        document = json.load(f)
    found = {}
    for policy in document["policies"]:
        for sa in policy.get("outbound", []):
            merged = dict(policy)
            merged.update(sa)
            found[spi_of(sa["spi"])] = merged
    return found


def security_association(definition):
    """scapy's SA for one flowsec SA definition, as its sender sees it (tunnel mode, ESP-in-UDP unless 'esp')."""
    suite = definition["suite"]
    if suite not in SUITES:
        fail("unknown suite %r" % suite)
    if definition.get("esn"):
        fail("ESN SAs are not served here")
    crypt_name, auth_name = SUITES[suite]
    local, remote = definition["localAddress"], definition["remoteAddress"]
    tunnel = IPv6(src=local, dst=remote) if ":" in local else IP(src=local, dst=remote)
    port = int(definition.get("port", 4500))
    udp = definition.get("encapsulation", "udp") == "udp"
    return SecurityAssociation(
        ESP,
        spi=spi_of(definition["spi"]),
        crypt_algo=crypt_name,
        crypt_key=bytes.fromhex(definition.get("key") or "") or None,
        auth_algo=auth_name,
        auth_key=bytes.fromhex(definition.get("integrityKey") or "") if auth_name else None,
        tunnel_header=tunnel,
        nat_t_header=UDP(sport=int(definition.get("sourcePort", port)), dport=port) if udp else None,
    )


def outer_ip(packet):
    if packet.haslayer(IP):
        return packet[IP]
    if packet.haslayer(IPv6):
        return packet[IPv6]
    return None


def decrypt(sa_file, pcap):
    definitions = outbound_sas(sa_file)
    sas = {}
    answers = []
    skipped = 0
    for captured in rdpcap(pcap):
        outer = outer_ip(captured)
        if outer is None or not outer.haslayer(UDP) or not outer.haslayer(ESP):
            skipped += 1
            continue
        udp = outer[UDP]
        if len(raw(udp.payload)) <= 4:  # RFC 3948: keepalive (one 0xFF byte) or too short for an SPI
            skipped += 1
            continue
        spi = outer[ESP].spi
        if spi == 0:  # RFC 3948 non-ESP marker: an IKE message
            skipped += 1
            continue
        entry = {"spi": spi, "seq": outer[ESP].seq,
                 "outer": {"src": outer.src, "dst": outer.dst, "sport": udp.sport, "dport": udp.dport,
                           "tos": outer.tos if outer.haslayer(IP) else outer.tc}}
        if spi not in definitions:
            entry.update(ok=False, error="no outbound SA with SPI 0x%08x in %s" % (spi, sa_file))
            answers.append(entry)
            continue
        if spi not in sas:
            sas[spi] = security_association(definitions[spi])
        try:
            inner = sas[spi].decrypt(outer.copy())
            entry.update(ok=True, inner=raw(inner).hex())
        except IPSecIntegrityError as error:
            entry.update(ok=False, error="IPSecIntegrityError: %s" % error)
        except Exception as error:  # reported per packet; the JUnit side fails with it
            entry.update(ok=False, error="%s: %s" % (type(error).__name__, error))
        answers.append(entry)
    return {"scapy": scapy.__version__, "packets": answers, "skipped": skipped}


def with_udp_length(packet):
    """scapy 2.5.0's SecurityAssociation._encrypt_esp builds the NAT-T UDP header before the ESP packet is attached
    and keeps the built length (8, the header alone) in the header's fields, so a receiving kernel would cut the
    datagram to nothing. Deleting that one field lets scapy compute it from the ESP packet that follows; the UDP
    checksum stays 0 (RFC 3948 section 2.1), everything else is scapy's as it was. Over IPv6 the same applies."""
    if packet.haslayer(UDP):
        del packet[UDP].len
    return packet.__class__(raw(packet))


def tamper(packet):
    """A copy with one bit of the ICV (the last byte of the ESP packet) flipped."""
    data = bytearray(raw(packet))
    data[-1] ^= 0x01
    return packet.__class__(bytes(data))


def send_packets(sa_file, request):
    definitions = outbound_sas(sa_file)
    spi = spi_of(request["spi"])
    if spi not in definitions:
        fail("no outbound SA with SPI 0x%08x in %s" % (spi, sa_file))
    sa = security_association(definitions[spi])
    sent = []
    for spec in request["packets"]:
        inner = IP(src=spec["src"], dst=spec["dst"], tos=int(spec.get("tos", 0))) \
            / UDP(sport=spec["sport"], dport=spec["dport"]) / Raw(bytes.fromhex(spec["payload"]))
        inner = IP(raw(inner))  # lengths and checksums computed now, as a host would have sent it
        encrypted = sa.encrypt(inner, seq_num=int(spec["seq"]))
        if "outerTos" in spec:  # a router on the way marked the outer header (e.g. CE, RFC 3168)
            encrypted[IP].tos = int(spec["outerTos"])
            del encrypted[IP].chksum
        outer = with_udp_length(encrypted)
        if not outer.haslayer(ESP):
            fail("scapy does not find ESP in its own output")
        if spec.get("tamper"):
            outer = tamper(outer)
        send(outer, verbose=0)
        sent.append({"spi": spi, "seq": int(spec["seq"]), "outer": raw(outer).hex()})
    return {"scapy": scapy.__version__, "sent": sent}


def main():
    if len(sys.argv) < 3:
        fail("usage: scapy_tunnel_peer.py decrypt SA_FILE PCAP | send SA_FILE < request")
    if not conf.crypto_valid:
        fail("scapy found no usable python3-cryptography: IPsec encryption is disabled", 3)
    op, sa_file = sys.argv[1], sys.argv[2]
    if op == "decrypt" and len(sys.argv) == 4:
        answer = decrypt(sa_file, sys.argv[3])
    elif op == "send":
        try:
            request = json.load(sys.stdin)
        except ValueError as error:
            fail("request is not JSON: %s" % error)
        answer = send_packets(sa_file, request)
    else:
        fail("unknown operation %r" % op)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
