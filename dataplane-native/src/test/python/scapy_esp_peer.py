#!/usr/bin/python3
"""An independent ESP peer for flowsec's interop tests: scapy's IPsec layer (scapy.layers.ipsec).

Driven by ScapyInteropTest through one process per batch: a JSON request on stdin, a JSON answer on stdout.
Nothing here re-implements ESP: every packet is encrypted, decrypted and verified by scapy's
SecurityAssociation (tunnel mode through tunnel_header, RFC 3948 ESP-in-UDP through nat_t_header). Two
documented work-arounds for scapy bugs: repair_udp_length (its ESP-in-UDP/IPv4 UDP length field) and
plaintext_of (to read the padding bytes of a packet scapy has verified and decrypted).

Request:
  {"op": "capabilities"}
  {"op": "batch", "jobs": [job, ...]}
job (all integers unsigned, all byte strings hex):
  {"id": str, "op": "encrypt" | "decrypt", "suite": flowsec suite name, "spi": int,
   "repairUdpLength": bool (encrypt, default true; see repair_udp_length),
   "encryptionKey": hex (AEAD: key || 4-byte salt), "integrityKey": hex, "esn": bool, "udp": bool,
   "outer": {"src": addr, "dst": addr, "sport": int, "dport": int},
   "packets": [packet, ...]}
packet for encrypt: {"inner": hex, "seq": low 32 bits, "esnHigh": high 32 bits,
                     "spi": optional other SPI, "mutate": optional mutation (see MUTATIONS),
                     "repairUdpLength": optional per-packet override}
packet for decrypt: {"outer": hex, "esnHigh": high 32 bits, "mutate": optional "flip-icv" (must then fail)}

Answer: {"scapy": version, "results": [{"id": str, "packets": [...]}]} where each packet is
  encrypt: {"ok": true, "outer": hex} or {"ok": false, "error": str}
  decrypt: {"ok": true, "inner": hex, "spi": int, "seq": int, "padLength": int, "nextHeader": int,
            "padding": hex, "outerProblems": [str, ...]} or {"ok": false, "error": str, "integrity": bool}
A request this script cannot serve at all ends with exit status 2 and {"error": ...}; missing scapy or
python3-cryptography with exit status 3.
"""

import json
import struct
import sys
import traceback
from ipaddress import ip_address

try:
    import scapy
    from scapy.compat import raw
    from scapy.config import conf
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.ipsec import (AUTH_ALGOS, CRYPT_ALGOS, ESP, IPSecIntegrityError,
                                    SecurityAssociation)
    from scapy.packet import Raw
except ImportError as error:  # the JUnit side turns this into a skip, or a failure under FLOWSEC_REQUIRE_INTEROP=1
    json.dump({"error": "scapy-missing", "detail": str(error)}, sys.stdout)
    sys.exit(3)

# flowsec suite -> (scapy crypt_algo, scapy auth_algo); scapy's crypt_key for AES-GCM and ChaCha20-Poly1305 is
# key || 4-byte salt (it splits off the salt itself), exactly flowsec's AEAD encryption key
SUITES = {
    "aes-gcm-128": ("AES-GCM", None),
    "aes-gcm-192": ("AES-GCM", None),
    "aes-gcm-256": ("AES-GCM", None),
    "aes-cbc-128-hmac-sha1-96": ("AES-CBC", "HMAC-SHA1-96"),
    "aes-cbc-256-hmac-sha256-128": ("AES-CBC", "SHA2-256-128"),
    "chacha20-poly1305": ("CHACHA20-POLY1305", None),
    "null-hmac-sha256-128": ("NULL", "SHA2-256-128"),
}
# flowsec suite -> (encryption key length with salt, integrity key length), for the capability probes only
KEY_LENGTHS = {
    "aes-gcm-128": (20, 0), "aes-gcm-192": (28, 0), "aes-gcm-256": (36, 0),
    "aes-cbc-128-hmac-sha1-96": (16, 20), "aes-cbc-256-hmac-sha256-128": (32, 32),
    "chacha20-poly1305": (36, 0), "null-hmac-sha256-128": (0, 32),
}

# mutations of a packet scapy has just encrypted; the outer headers stay consistent unless the name says raw
MUTATIONS = (
    "flip-ciphertext",   # one bit of the encrypted payload
    "flip-icv",          # one bit of the ICV
    "flip-iv",           # one bit of the IV (suites with an IV)
    "sequence+1",        # the sequence number field, after the ICV was computed
    "cut-esp-1",         # ESP one byte shorter, outer lengths fixed
    "cut-esp-block",     # ESP shorter by one cipher block (or 4 bytes), outer lengths fixed
    "esp-headers-only",  # ESP header + IV + ICV without any payload or trailer, outer lengths fixed
    "esp-6-bytes",       # ESP shorter than its own 8-byte header, outer lengths fixed
    "cut-raw-1",         # outer packet one byte shorter, its length fields left as they were
)


def fail(message, status=2):
    json.dump({"error": message}, sys.stdout)
    sys.exit(status)


def crypt_algo_of(suite):
    return CRYPT_ALGOS[SUITES[suite][0]]


def icv_size_of(suite):
    crypt_name, auth_name = SUITES[suite]
    algo = CRYPT_ALGOS[crypt_name]
    return algo.icv_size if algo.is_aead else AUTH_ALGOS[auth_name].icv_size


def make_sa(job, spi=None):
    crypt_name, auth_name = SUITES[job["suite"]]
    outer = job["outer"]
    tunnel = IPv6(src=outer["src"], dst=outer["dst"]) if ":" in outer["src"] else IP(src=outer["src"], dst=outer["dst"])
    nat_t = UDP(sport=outer["sport"], dport=outer["dport"]) if job["udp"] else None
    integrity_key = bytes.fromhex(job.get("integrityKey") or "")
    return SecurityAssociation(
        ESP,
        spi=job["spi"] if spi is None else spi,
        crypt_algo=crypt_name,
        crypt_key=bytes.fromhex(job["encryptionKey"]) or None,
        auth_algo=auth_name,
        auth_key=integrity_key if auth_name else None,
        tunnel_header=tunnel,
        nat_t_header=nat_t,
        esn_en=bool(job["esn"]),
    )


def parse_ip(data):
    version = data[0] >> 4
    if version == 4:
        return IP(data)
    if version == 6:
        return IPv6(data)
    raise ValueError("not an IP packet (version %d)" % version)


def parse_inner(hex_string):
    data = bytes.fromhex(hex_string)
    packet = parse_ip(data)
    if raw(packet) != data:
        raise ValueError("scapy does not reproduce the inner packet byte for byte; use other ports")
    return packet


def rebuild_lengths(packet):
    """The packet's bytes after scapy recomputed the outer length fields and the IPv4 header checksum."""
    if packet.version == 4:
        del packet.len
        del packet.chksum
    else:
        del packet.plen
    if packet.haslayer(UDP):
        del packet[UDP].len   # the UDP checksum stays what scapy wrote (0, RFC 3948 §2.1)
    return raw(packet)


def mutate(packet, mutation, suite):
    """Returns the bytes of a broken copy of an encrypted packet."""
    if mutation not in MUTATIONS:
        raise ValueError("unknown mutation %r" % mutation)
    packet = packet.copy()
    algo = crypt_algo_of(suite)
    iv_size = algo.iv_size
    icv_size = icv_size_of(suite)
    esp = packet[ESP]
    data = bytearray(esp.data)
    if mutation == "flip-ciphertext":
        data[iv_size + (len(data) - iv_size - icv_size) // 2] ^= 0x10
    elif mutation == "flip-icv":
        data[len(data) - 1] ^= 0x01
    elif mutation == "flip-iv":
        if iv_size == 0:
            raise ValueError("%s has no IV to flip" % suite)
        data[0] ^= 0x80
    elif mutation == "sequence+1":
        esp.seq = (esp.seq + 1) & 0xFFFFFFFF
        return raw(packet)
    elif mutation == "cut-esp-1":
        data = data[:-1]
    elif mutation == "cut-esp-block":
        data = data[:-max(algo.block_size, 4)]
    elif mutation == "esp-headers-only":
        data = data[:iv_size] + data[len(data) - icv_size:]
    elif mutation == "esp-6-bytes":
        first_six = raw(esp)[:6]
        carrier = esp.underlayer
        carrier.remove_payload()
        carrier.add_payload(Raw(first_six))
        return rebuild_lengths(packet)
    elif mutation == "cut-raw-1":
        return raw(packet)[:-1]
    else:
        raise ValueError("unknown mutation %r" % mutation)
    esp.data = bytes(data)
    return rebuild_lengths(packet)


def repair_udp_length(data):
    """Works around a scapy bug (seen in 2.5.0): SecurityAssociation._encrypt_esp serialises the IPv4 header and
    the NAT-T UDP header before the ESP packet is attached, so the UDP length field says 8 (the header alone)
    while the ESP packet follows. The IP total length is right. This sets the UDP length to what the IP header
    says; nothing else is touched (the UDP checksum is 0 over IPv4, RFC 3948 §2.1). IPv6 output is not affected."""
    if data[0] >> 4 != 4 or data[9] != 17:
        return data
    header_length = (data[0] & 0x0F) * 4
    total_length = int.from_bytes(data[2:4], "big")
    udp_length = int.from_bytes(data[header_length + 4:header_length + 6], "big")
    if udp_length == 8 and total_length > header_length + 8:
        fixed = bytearray(data)
        fixed[header_length + 4:header_length + 6] = (total_length - header_length).to_bytes(2, "big")
        return bytes(fixed)
    return data


def encrypt_job(job):
    suite = job["suite"]
    sas = {}
    out = []
    for spec in job["packets"]:
        try:
            spi = spec.get("spi", job["spi"])
            if spi not in sas:
                sas[spi] = make_sa(job, spi)
            sa = sas[spi]
            inner = parse_inner(spec["inner"])
            high = int(spec.get("esnHigh", 0))
            seq = int(spec["seq"])
            if seq == 0:
                # SecurityAssociation.encrypt reads seq_num=0 as "not given"; the SA's own counter can hold 0
                # (with ESN, 2^32 travels as low half 0)
                sa.seq_num = 0
                encrypted = sa.encrypt(inner, esn_en=bool(job["esn"]), esn=high)
            else:
                encrypted = sa.encrypt(inner, seq_num=seq, esn_en=bool(job["esn"]), esn=high)
            data = raw(encrypted)
            repair = spec.get("repairUdpLength", job.get("repairUdpLength", True))
            if repair:
                data = repair_udp_length(data)
            packet = parse_ip(data)
            if repair and not packet.haslayer(ESP):
                raise ValueError("scapy does not find ESP in its own output")
            mutation = spec.get("mutate")
            data = mutate(packet, mutation, suite) if mutation else raw(packet)
            out.append({"ok": True, "outer": data.hex()})
        except Exception as error:  # reported per packet; the JUnit side fails with it
            out.append({"ok": False, "error": "%s: %s" % (type(error).__name__, error),
                        "trace": traceback.format_exc(limit=3)})
    return out


def outer_problems(packet, job):
    """Checks, with scapy's own field logic, the outer headers flowsec wrote."""
    problems = []
    outer = job["outer"]
    if ip_address(packet.src) != ip_address(outer["src"]) or ip_address(packet.dst) != ip_address(outer["dst"]):
        problems.append("outer addresses %s -> %s, expected %s -> %s" % (packet.src, packet.dst, outer["src"], outer["dst"]))
    total = len(raw(packet))
    if packet.version == 4:
        if packet.len != total:
            problems.append("IPv4 total length %d, packet has %d bytes" % (packet.len, total))
        probe = packet.copy()
        del probe.chksum
        expected = IP(raw(probe)).chksum
        if packet.chksum != expected:
            problems.append("IPv4 header checksum 0x%04x, scapy computes 0x%04x" % (packet.chksum, expected))
        if packet.frag != 0 or packet.flags.MF:
            problems.append("outer IPv4 packet is a fragment")
    else:
        if packet.plen != total - 40:
            problems.append("IPv6 payload length %d, packet has %d bytes after the header" % (packet.plen, total - 40))
    wanted_protocol = 17 if job["udp"] else 50
    protocol = packet.proto if packet.version == 4 else packet.nh
    if protocol != wanted_protocol:
        problems.append("outer protocol %d, expected %d" % (protocol, wanted_protocol))
    if job["udp"] and packet.haslayer(UDP):
        udp = packet[UDP]
        if udp.sport != outer["sport"] or udp.dport != outer["dport"]:
            problems.append("UDP ports %d -> %d, expected %d -> %d" % (udp.sport, udp.dport, outer["sport"], outer["dport"]))
        if udp.len != len(raw(udp)):
            problems.append("UDP length %d, datagram has %d bytes" % (udp.len, len(raw(udp))))
        if packet.version == 4:
            if udp.chksum != 0:
                problems.append("UDP checksum 0x%04x over IPv4, RFC 3948 §2.1 says 0" % udp.chksum)
        else:
            probe = packet.copy()
            del probe[UDP].chksum
            expected = IPv6(raw(probe))[UDP].chksum
            if udp.chksum != expected:
                problems.append("UDP checksum over IPv6 0x%04x, scapy computes 0x%04x" % (udp.chksum, expected))
    return problems


def plaintext_of(sa, esp, suite, esn_en, esn_high):
    """The decrypted ESP payload with its trailer (padding, pad length, next header), for a packet that
    sa.decrypt has already verified. scapy's CryptAlgo.decrypt returns pad length and next header but slices the
    padding bytes from the already shortened data (2.5.0), so this repeats its decryption step with scapy's own
    algorithm objects, key/salt split and nonce format to read the padding bytes too."""
    algo = sa.crypt_algo
    icv_size = icv_size_of(suite)
    iv = esp.data[:algo.iv_size]
    data = esp.data[algo.iv_size:len(esp.data) - icv_size]
    icv = esp.data[len(esp.data) - icv_size:]
    if algo.cipher is None:
        return data
    mode_iv = algo._format_mode_iv(algo=algo, sa=sa, iv=iv)
    if algo.ciphers_aead_api:
        aad = struct.pack("!LLL", esp.spi, esn_high, esp.seq) if esn_en else struct.pack("!LL", esp.spi, esp.seq)
        return algo.cipher(sa.crypt_key).decrypt(mode_iv, data + icv, aad)
    decryptor = algo.new_cipher(sa.crypt_key, mode_iv).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def decrypt_job(job):
    suite = job["suite"]
    sa = make_sa(job)
    out = []
    for spec in job["packets"]:
        try:
            data = bytes.fromhex(spec["outer"])
            packet = parse_ip(data)
            if not packet.haslayer(ESP):
                raise ValueError("scapy finds no ESP layer in the packet")
            if spec.get("mutate"):
                packet = parse_ip(mutate(packet, spec["mutate"], suite))
            problems = outer_problems(packet, job)
            high = int(spec.get("esnHigh", 0))
            esp = packet[ESP].copy()
            inner = sa.decrypt(packet, esn_en=bool(job["esn"]), esn=high)
            plain = plaintext_of(sa, esp, suite, bool(job["esn"]), high)
            pad_length, next_header = plain[-2], plain[-1]
            padding = plain[len(plain) - 2 - pad_length:len(plain) - 2]
            out.append({"ok": True, "inner": raw(inner).hex(), "spi": esp.spi, "seq": esp.seq,
                        "padLength": pad_length, "nextHeader": next_header, "padding": padding.hex(),
                        "outerProblems": problems})
        except IPSecIntegrityError as error:
            out.append({"ok": False, "integrity": True, "error": "IPSecIntegrityError: %s" % error})
        except Exception as error:
            out.append({"ok": False, "integrity": False, "error": "%s: %s" % (type(error).__name__, error),
                        "trace": traceback.format_exc(limit=3)})
    return out


def esn_probe(suite):
    """Whether scapy's ESP output for this suite depends on the ESN high bits (RFC 4303 §2.2.1, RFC 4106 §5)."""
    algo = crypt_algo_of(suite)
    key_length, integrity_length = KEY_LENGTHS[suite]
    job = {"suite": suite, "spi": 0x1000, "encryptionKey": "11" * key_length, "integrityKey": "22" * integrity_length,
           "esn": True, "udp": False, "outer": {"src": "192.0.2.1", "dst": "192.0.2.2"}}
    inner = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=50000, dport=50001) / b"probe"
    iv = b"\x33" * algo.iv_size if algo.iv_size else None
    with_high = raw(make_sa(job).encrypt(IP(raw(inner)), seq_num=1, iv=iv, esn_en=True, esn=1))
    without = raw(make_sa(job).encrypt(IP(raw(inner)), seq_num=1, iv=iv, esn_en=True, esn=0))
    return with_high != without


def nat_t_probe():
    """What scapy writes into the NAT-T UDP header: (IPv4 UDP length right?, IPv6 UDP checksum computed?)."""
    job = {"suite": "aes-gcm-128", "spi": 0x1000, "encryptionKey": "11" * 20, "integrityKey": "", "esn": False,
           "udp": True, "outer": {"src": "192.0.2.1", "dst": "192.0.2.2", "sport": 4500, "dport": 4500}}
    inner = raw(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=50000, dport=50001) / b"probe")
    v4 = raw(make_sa(job).encrypt(IP(inner), seq_num=1))
    length_right = int.from_bytes(v4[24:26], "big") == len(v4) - 20
    job["outer"] = {"src": "2001:db8::1", "dst": "2001:db8::2", "sport": 4500, "dport": 4500}
    v6 = raw(make_sa(job).encrypt(IP(inner), seq_num=1))
    checksum = int.from_bytes(v6[46:48], "big") != 0
    return length_right, checksum


def capabilities():
    if not conf.crypto_valid:
        json.dump({"error": "cryptography-missing",
                   "detail": "scapy found no usable python3-cryptography: IPsec encryption is disabled"}, sys.stdout)
        sys.exit(3)
    missing = sorted({name for pair in SUITES.values() for name in pair if name}
                     - set(CRYPT_ALGOS) - set(AUTH_ALGOS))
    suites = {}
    for suite, (crypt_name, auth_name) in SUITES.items():
        lacking = [name for name in (crypt_name, auth_name)
                   if name and name not in CRYPT_ALGOS and name not in AUTH_ALGOS]
        if lacking:
            suites[suite] = {"crypt": crypt_name, "auth": auth_name, "available": False, "lacking": lacking}
        else:
            suites[suite] = {"crypt": crypt_name, "auth": auth_name, "available": True, "esn": esn_probe(suite)}
    length_right, ipv6_checksum = nat_t_probe()
    return {"scapy": scapy.__version__, "suites": suites, "missingAlgorithms": missing,
            "natTIpv4UdpLengthRight": length_right, "natTIpv6UdpChecksum": ipv6_checksum,
            "cryptAlgorithms": sorted(CRYPT_ALGOS), "authAlgorithms": sorted(AUTH_ALGOS)}


def main():
    try:
        request = json.load(sys.stdin)
    except ValueError as error:
        fail("request is not JSON: %s" % error)
    op = request.get("op")
    if op == "capabilities":
        answer = capabilities()
    elif op == "batch":
        if not conf.crypto_valid:
            fail("scapy found no usable python3-cryptography", 3)
        results = []
        for job in request["jobs"]:
            if job["suite"] not in SUITES:
                fail("unknown suite %r" % job["suite"])
            handler = encrypt_job if job["op"] == "encrypt" else decrypt_job if job["op"] == "decrypt" else None
            if handler is None:
                fail("unknown job op %r" % job["op"])
            results.append({"id": job["id"], "packets": handler(job)})
        answer = {"scapy": scapy.__version__, "results": results}
    else:
        fail("unknown op %r" % op)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
