# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reachability probes from inside a network namespace (private to the collection).

Plain Python and sockets: no Ansible, no pyroute2 and no subprocess (no ``ping``).
A socket belongs to the network namespace it was created in, whatever the process does
afterwards: ``Netns.socket()`` enters the namespace with setns(2), creates the socket and
returns to the original namespace at once, so the probe itself runs from home.
Host names are resolved inside the namespace too (its interfaces, for IPv6 scopes).

ICMP uses raw sockets (IPv4 echo with its checksum, ICMPv6 echo, whose checksum the
kernel fills in) with a random identifier; replies are matched by identifier, sequence
and source, and an ICMP error that quotes one of our requests ends that attempt early.
TCP succeeds when connect() completes. UDP succeeds when a datagram sent on a connected
socket gets any reply; a port unreachable (ECONNREFUSED) or silence is a failure.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import random
import socket
import struct
import time
from contextlib import contextmanager

from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError, ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.checks import check_int, check_netns_name
from ansible_collections.netfabric.netns.plugins.module_utils.namespaces import NETNS_DIR, THREAD_NETNS, setns

PROTOCOLS = ("icmp", "tcp", "udp")
EXPECTS = ("success", "failure")
MAX_COUNT = 1000
MAX_TIMEOUT = 3600.0

ICMP_ECHO_REPLY = 0
ICMP_DEST_UNREACH = 3
ICMP_ECHO_REQUEST = 8
ICMP_TIME_EXCEEDED = 11
ICMP6_DEST_UNREACH = 1
ICMP6_PACKET_TOO_BIG = 2
ICMP6_TIME_EXCEEDED = 3
ICMP6_ECHO_REQUEST = 128
ICMP6_ECHO_REPLY = 129
IPPROTO_ICMPV6 = getattr(socket, "IPPROTO_ICMPV6", 58)

PAYLOAD = b"netfabric.netns probe\n"
ICMP_PAYLOAD = (PAYLOAD * 3)[:56]  # 56 bytes of data, like ping

UNREACH4 = {0: "network unreachable", 1: "host unreachable", 2: "protocol unreachable", 3: "port unreachable",
            4: "fragmentation needed", 9: "network administratively prohibited",
            10: "host administratively prohibited", 13: "communication administratively prohibited"}
UNREACH6 = {0: "no route to destination", 1: "communication administratively prohibited",
            3: "address unreachable", 4: "port unreachable", 5: "source address failed ingress/egress policy",
            6: "reject route to destination"}

ERRNO_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ENETUNREACH: "network unreachable (no route)",
    errno.EHOSTUNREACH: "host unreachable",
    errno.EADDRNOTAVAIL: "address not available",
    errno.ECONNRESET: "connection reset",
    errno.EACCES: "permission denied (e.g. a firewall reject or a broadcast address)",
    errno.EPERM: "operation not permitted (e.g. a firewall reject)",
    errno.EMSGSIZE: "message too long",
    errno.ENETDOWN: "network is down",
}


# ---------------------------------------------------------------- namespaces


class Netns:
    """A named network namespace (None: the current one) that sockets are made in.

    Opening it never creates it: a missing name raises ValidationError for option
    ``netns``. Use as a context manager (or call close()) to release the file descriptor.
    """

    def __init__(self, name, option="netns"):
        self.name = check_netns_name(option, name)
        self._fd = None
        if name is None:
            return
        path = os.path.join(NETNS_DIR, name)
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ValidationError(option, f"namespace '{name}' does not exist") from None
        except OSError as exc:
            raise ValidationError(option, f"cannot open namespace '{name}' ({path}): {exc.strerror}") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def exists(name):
        return name is None or os.path.exists(os.path.join(NETNS_DIR, name))

    def label(self):
        return "the host namespace" if self.name is None else f"netns '{self.name}'"

    @contextmanager
    def inside(self):
        """Run the body with this thread in the namespace; always returns home afterwards."""
        if self._fd is None:
            yield
            return
        home = os.open(THREAD_NETNS, os.O_RDONLY | os.O_CLOEXEC)
        try:
            try:
                setns(self._fd)
            except OSError as exc:
                if exc.errno == errno.EINVAL:
                    raise ValidationError("netns", f"'{os.path.join(NETNS_DIR, self.name)}' is not a network namespace") from None
                if exc.errno == errno.EPERM:
                    raise NetfabricError(f"netns: cannot enter namespace '{self.name}': operation not permitted "
                                         "(the module must run as root)") from None
                raise NetfabricError(f"netns: cannot enter namespace '{self.name}': {exc.strerror}") from None
            try:
                yield
            finally:
                setns(home)
        finally:
            os.close(home)

    def socket(self, family, kind, proto=0):
        """A socket that lives in this namespace (the caller stays in its own)."""
        with self.inside():
            return socket.socket(family, kind, proto)

    def resolve(self, target):
        """(family, sockaddr) of target, resolved inside the namespace (first answer)."""
        flags = 0
        try:
            ipaddress.ip_address(target.split("%", 1)[0])
            flags = socket.AI_NUMERICHOST
        except ValueError:
            pass
        try:
            with self.inside():
                answers = socket.getaddrinfo(target, None, socket.AF_UNSPEC, socket.SOCK_DGRAM, 0, flags)
        except socket.gaierror as exc:
            raise ValidationError("target", f"cannot resolve '{target}' in {self.label()}: {exc.strerror}") from None
        for family, unused, unused2, unused3, sockaddr in answers:
            if family == socket.AF_INET:
                return family, sockaddr
            if family == socket.AF_INET6:
                # the scope travels as the index in sockaddr[3]; a '%name' suffix would be
                # looked up again, in the original namespace, by every sendto()/connect()
                return family, (sockaddr[0].split("%", 1)[0],) + tuple(sockaddr[1:])
        raise ValidationError("target", f"'{target}' has no IPv4 or IPv6 address")


# ---------------------------------------------------------------- ICMP packets


def checksum(data):
    """The Internet checksum (RFC 1071) of data, as an int ready for struct '!H'."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(ident, seq, payload=ICMP_PAYLOAD, family=socket.AF_INET):
    """An ICMP (IPv4) or ICMPv6 echo request; ICMPv6's checksum is left to the kernel."""
    kind = ICMP_ECHO_REQUEST if family == socket.AF_INET else ICMP6_ECHO_REQUEST
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if family != socket.AF_INET:
        return header + payload
    return struct.pack("!BBHHH", kind, 0, checksum(header + payload), ident, seq) + payload


def parse_icmp(packet, family, ident, seq):
    """Classify a received packet for our request (ident, seq).

    Returns None (not ours), ("reply", None) or ("error", reason). IPv4 raw sockets
    deliver the IP header too; ICMPv6 raw sockets deliver only the ICMPv6 message.
    """
    if family == socket.AF_INET:
        if len(packet) < 20 or packet[0] >> 4 != 4:
            return None
        packet = packet[(packet[0] & 0x0F) * 4:]
    if len(packet) < 8:
        return None
    kind, code = packet[0], packet[1]
    if family == socket.AF_INET:
        reply, errors = ICMP_ECHO_REPLY, {ICMP_DEST_UNREACH: ("destination unreachable", UNREACH4),
                                          ICMP_TIME_EXCEEDED: ("time to live exceeded", {})}
    else:
        reply, errors = ICMP6_ECHO_REPLY, {ICMP6_DEST_UNREACH: ("destination unreachable", UNREACH6),
                                           ICMP6_PACKET_TOO_BIG: ("packet too big", {}),
                                           ICMP6_TIME_EXCEEDED: ("hop limit exceeded", {})}
    if kind == reply:
        return ("reply", None) if struct.unpack("!HH", packet[4:8]) == (ident, seq) else None
    if kind not in errors:
        return None
    quoted = packet[8:]  # the invoking packet: IP header, then our echo request's first 8 bytes
    if family == socket.AF_INET:
        if len(quoted) < 20 or quoted[0] >> 4 != 4 or quoted[9] != socket.IPPROTO_ICMP:
            return None
        quoted = quoted[(quoted[0] & 0x0F) * 4:]
        request = ICMP_ECHO_REQUEST
    else:
        if len(quoted) < 40 or quoted[0] >> 4 != 6 or quoted[6] != IPPROTO_ICMPV6:
            return None
        quoted = quoted[40:]
        request = ICMP6_ECHO_REQUEST
    if len(quoted) < 8 or quoted[0] != request or struct.unpack("!HH", quoted[4:8]) != (ident, seq):
        return None
    what, codes = errors[kind]
    detail = codes.get(code)
    return "error", f"{what} ({detail})" if detail else f"{what} (code {code})"


# ---------------------------------------------------------------- probes


def reason_of(exc, timeout):
    if isinstance(exc, socket.timeout):
        return f"timed out after {timeout:g} s"
    code = getattr(exc, "errno", None)
    return ERRNO_REASONS.get(code) or (exc.strerror or str(exc))


class Attempt:
    __slots__ = ("ok", "latency", "reason", "source")

    def __init__(self, ok, latency=None, reason=None, source=None):
        self.ok = ok
        self.latency = latency
        self.reason = reason
        self.source = source


def _local_address(sock):
    try:
        address = sock.getsockname()[0]
    except OSError:
        return None
    address = (address or "").split("%", 1)[0]  # a scope would be named in the original namespace
    if not address or ipaddress.ip_address(address).is_unspecified:
        return None
    return address


def route_source(netns, family, sockaddr):
    """The source address the kernel picks for sockaddr: a UDP connect() sends nothing."""
    sock = netns.socket(family, socket.SOCK_DGRAM)
    try:
        sock.connect(sockaddr[:1] + (9,) + tuple(sockaddr[2:]))
        return _local_address(sock)
    except OSError:
        return None
    finally:
        sock.close()


def _with_port(sockaddr, port):
    return (sockaddr[0], port) + tuple(sockaddr[2:])


def probe_tcp(netns, family, sockaddr, port, timeout):
    sock = netns.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        start = time.perf_counter()
        try:
            sock.connect(_with_port(sockaddr, port))
        except OSError as exc:
            return Attempt(False, reason=reason_of(exc, timeout), source=_local_address(sock))
        latency = time.perf_counter() - start
        return Attempt(True, latency, source=_local_address(sock))
    finally:
        sock.close()


def probe_udp(netns, family, sockaddr, port, timeout):
    sock = netns.socket(family, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(_with_port(sockaddr, port))
            source = _local_address(sock)
            start = time.perf_counter()
            sock.send(PAYLOAD)
            sock.recv(65535)
        except OSError as exc:
            reason = reason_of(exc, timeout)
            if isinstance(exc, socket.timeout):
                reason = f"no reply within {timeout:g} s (UDP needs a service that answers)"
            elif exc.errno == errno.ECONNREFUSED:
                reason = "port unreachable (connection refused)"
            return Attempt(False, reason=reason, source=_local_address(sock))
        return Attempt(True, time.perf_counter() - start, source=source)
    finally:
        sock.close()


class IcmpProber:
    """One raw socket for all echo requests of a probe; one random identifier."""

    def __init__(self, netns, family, sockaddr):
        self.family = family
        self.sockaddr = sockaddr
        proto = socket.IPPROTO_ICMP if family == socket.AF_INET else IPPROTO_ICMPV6
        try:
            self.sock = netns.socket(family, socket.SOCK_RAW, proto)
        except PermissionError:
            raise NetfabricError("protocol: ICMP needs a raw socket, which needs root (CAP_NET_RAW)") from None
        self.ident = random.randint(1, 0xFFFF)
        self.address = ipaddress.ip_address(sockaddr[0])
        self.source = route_source(netns, family, sockaddr)

    def close(self):
        self.sock.close()

    def attempt(self, seq, timeout):
        packet = echo_request(self.ident, seq, family=self.family)
        deadline = time.perf_counter() + timeout
        start = time.perf_counter()
        try:
            self.sock.sendto(packet, self.sockaddr)
        except OSError as exc:
            return Attempt(False, reason=reason_of(exc, timeout), source=self.source)
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return Attempt(False, reason=f"timed out after {timeout:g} s", source=self.source)
            self.sock.settimeout(remaining)
            try:
                data, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                return Attempt(False, reason=f"timed out after {timeout:g} s", source=self.source)
            except OSError as exc:
                return Attempt(False, reason=reason_of(exc, timeout), source=self.source)
            now = time.perf_counter()
            verdict = parse_icmp(data, self.family, self.ident, seq)
            if verdict is None:
                continue
            sender = ipaddress.ip_address(peer[0].split("%", 1)[0])
            if verdict[0] == "reply":
                if sender == self.address:
                    return Attempt(True, now - start, source=self.source)
                continue
            return Attempt(False, reason=f"{verdict[1]} from {sender}", source=self.source)


def check_timeout(value):
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        raise ValidationError("timeout", f"must be a number of seconds, got {value!r}") from None
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ValidationError("timeout", f"{value} is out of range: more than 0 and at most {MAX_TIMEOUT:g} seconds")
    return timeout


def validate(params):
    """The normalised probe parameters; raises ValidationError before anything is sent."""
    protocol = params.get("protocol") or "icmp"
    if protocol not in PROTOCOLS:
        raise ValidationError("protocol", f"must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    expect = params.get("expect") or "success"
    if expect not in EXPECTS:
        raise ValidationError("expect", f"must be one of {', '.join(EXPECTS)}, got {expect!r}")
    target = params.get("target")
    if not isinstance(target, str) or not target.strip():
        raise ValidationError("target", f"must be an IP address or a host name, got {target!r}")
    port = params.get("port")
    if protocol in ("tcp", "udp"):
        if port is None:
            raise ValidationError("port", f"required with protocol {protocol}")
        port = check_int("port", port, 1, 65535, "port")
    elif port is not None:
        port = check_int("port", port, 1, 65535, "port")
    count = check_int("count", 1 if params.get("count") is None else params["count"], 1, MAX_COUNT, "count")
    timeout = check_timeout(1.0 if params.get("timeout") is None else params["timeout"])
    return {"netns": check_netns_name("netns", params.get("netns")), "target": target.strip(), "port": port,
            "protocol": protocol, "expect": expect, "count": count, "timeout": timeout}


def describe(spec, address=None):
    """'icmp to 192.168.15.2' / 'tcp to fd15::2 port 80' / 'tcp to web (192.168.15.2) port 80'."""
    target = spec["target"]
    if address and address != target:
        target = f"{target} ({address})"
    port = f" port {spec['port']}" if spec["protocol"] != "icmp" else ""
    return f"{spec['protocol']} to {target}{port}"


def run_probe(spec):
    """Send the probe described by validate()'s result; returns the result dictionary.

    ``ok`` tells whether the expectation was met; ``msg`` says what happened, naming the
    namespace, protocol, target and port. Raises ValidationError for a missing namespace
    or a target that cannot be resolved (errors, whatever ``expect`` says).
    """
    with Netns(spec["netns"]) as netns:
        family, sockaddr = netns.resolve(spec["target"])
        address = sockaddr[0]
        if family == socket.AF_INET6 and sockaddr[3] and "%" in spec["target"]:
            address += "%" + spec["target"].split("%", 1)[1]  # names resolve in the namespace only
        attempts = []
        if spec["protocol"] == "icmp":
            prober = IcmpProber(netns, family, sockaddr)
            try:
                for seq in range(1, spec["count"] + 1):
                    attempts.append(prober.attempt(seq, spec["timeout"]))
            finally:
                prober.close()
        else:
            probe = probe_tcp if spec["protocol"] == "tcp" else probe_udp
            for unused in range(spec["count"]):
                attempts.append(probe(netns, family, sockaddr, spec["port"], spec["timeout"]))
        source = next((a.source for a in attempts if a.source), None) or route_source(netns, family, sockaddr)
        where = netns.label()
    return summarize(spec, where, address, source, attempts)


def summarize(spec, where, address, source, attempts):
    successes = [a for a in attempts if a.ok]
    reachable = bool(successes)
    latency = round(min(a.latency for a in successes) * 1000.0, 3) if successes else None
    failures = [a.reason for a in attempts if not a.ok]
    what = f"{describe(spec, address)} from {where}"
    if reachable:
        state = f"reachable: {len(successes)} of {len(attempts)} attempts succeeded, fastest {latency} ms"
    else:
        reasons = ", ".join(dict.fromkeys(failures))
        state = f"not reachable: 0 of {len(attempts)} attempts succeeded ({reasons})"
    ok = reachable == (spec["expect"] == "success")
    if ok:
        msg = f"{what}: {state}"
    else:
        msg = f"{what}: {state}; expected {spec['expect']}"
    return {
        "ok": ok,
        "msg": msg,
        "reachable": reachable,
        "latency_ms": latency,
        "attempts": len(attempts),
        "successes": len(successes),
        "source": source,
        "address": address,
        "failures": failures,
    }
