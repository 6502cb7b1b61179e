"""The probe's packets, validation and messages (no sockets are opened here)."""

from __future__ import annotations

import ast
import os
import socket
import struct

import pytest

from ansible_collections.netfabric.netns.plugins.module_utils import probe
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def test_checksum_of_rfc1071_example():
    # RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2, its complement 220d
    assert probe.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert probe.checksum(b"\x01") == ~0x0100 & 0xFFFF  # odd length: padded with a zero byte


def test_ipv4_echo_request_checksums_to_zero():
    packet = probe.echo_request(0x1234, 7)
    assert packet[:2] == b"\x08\x00" and struct.unpack("!HH", packet[4:8]) == (0x1234, 7)
    assert len(packet) == 8 + 56 and probe.checksum(packet) == 0


def test_ipv6_echo_request_leaves_the_checksum_to_the_kernel():
    packet = probe.echo_request(1, 2, family=socket.AF_INET6)
    assert packet[0] == 128 and packet[2:4] == b"\0\0"


def ipv4(payload, proto=1):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0,
                       bytes(4), bytes(4)) + payload


def test_parse_ipv4_reply_matches_identifier_and_sequence():
    reply = struct.pack("!BBHHH", 0, 0, 0, 99, 3) + b"data"
    assert probe.parse_icmp(ipv4(reply), socket.AF_INET, 99, 3) == ("reply", None)
    assert probe.parse_icmp(ipv4(reply), socket.AF_INET, 99, 4) is None  # a late reply to another request
    assert probe.parse_icmp(ipv4(reply), socket.AF_INET, 98, 3) is None  # someone else's
    request = struct.pack("!BBHHH", 8, 0, 0, 99, 3)
    assert probe.parse_icmp(ipv4(request), socket.AF_INET, 99, 3) is None  # our own request looped back


def test_parse_ipv4_error_quoting_our_request():
    quoted = ipv4(probe.echo_request(99, 3))[:28]
    error = struct.pack("!BBHI", 3, 1, 0, 0) + quoted
    assert probe.parse_icmp(ipv4(error), socket.AF_INET, 99, 3) == ("error", "destination unreachable (host unreachable)")
    assert probe.parse_icmp(ipv4(error), socket.AF_INET, 99, 4) is None


def test_parse_ipv6_reply_and_error():
    reply = struct.pack("!BBHHH", 129, 0, 0, 5, 6)
    assert probe.parse_icmp(reply, socket.AF_INET6, 5, 6) == ("reply", None)
    header = struct.pack("!IHBB16s16s", 6 << 28, 8, 58, 64, bytes(16), bytes(16))
    error = struct.pack("!BBHI", 1, 3, 0, 0) + header + probe.echo_request(5, 6, family=socket.AF_INET6)[:8]
    assert probe.parse_icmp(error, socket.AF_INET6, 5, 6) == ("error", "destination unreachable (address unreachable)")


@pytest.mark.parametrize("params,message", [
    ({"target": "10.0.0.1", "protocol": "tcp"}, "port: required with protocol tcp"),
    ({"target": "10.0.0.1", "protocol": "udp", "port": 0}, "port: port 0 is out of range 1-65535"),
    ({"target": "10.0.0.1", "count": 0}, "count: count 0 is out of range 1-1000"),
    ({"target": "10.0.0.1", "timeout": -1}, "timeout: -1 is out of range"),
    ({"target": "10.0.0.1", "timeout": "soon"}, "timeout: must be a number of seconds"),
    ({"target": "10.0.0.1", "protocol": "sctp"}, "protocol: must be one of icmp, tcp, udp"),
    ({"target": "10.0.0.1", "expect": "maybe"}, "expect: must be one of success, failure"),
    ({"target": ""}, "target: must be an IP address or a host name"),
    ({"target": "10.0.0.1", "netns": "a/b"}, "netns: namespace name 'a/b' may not contain '/'"),
])
def test_validate_names_the_option(params, message):
    with pytest.raises(ValidationError) as info:
        probe.validate(params)
    assert message in str(info.value)


def test_validate_defaults():
    assert probe.validate({"target": " 192.168.15.2 "}) == {
        "netns": None, "target": "192.168.15.2", "port": None, "protocol": "icmp", "expect": "success",
        "count": 1, "timeout": 1.0}


def test_summary_takes_the_fastest_success_and_names_everything():
    spec = probe.validate({"target": "192.168.15.2", "protocol": "tcp", "port": 80, "count": 3, "netns": "red"})
    attempts = [probe.Attempt(False, reason="connection refused"), probe.Attempt(True, 0.002),
                probe.Attempt(True, 0.0015)]
    result = probe.summarize(spec, "netns 'red'", "192.168.15.2", "192.168.15.1", attempts)
    assert result["ok"] is True and result["reachable"] is True and result["latency_ms"] == 1.5
    assert (result["attempts"], result["successes"], result["failures"]) == (3, 2, ["connection refused"])
    assert result["msg"] == "tcp to 192.168.15.2 port 80 from netns 'red': reachable: 2 of 3 attempts succeeded, fastest 1.5 ms"

    spec["expect"] = "failure"
    assert probe.summarize(spec, "netns 'red'", "192.168.15.2", None, attempts)["ok"] is False
    failed = probe.summarize(spec, "netns 'red'", "192.168.15.2", None, attempts[:1])
    assert failed["ok"] is True and failed["latency_ms"] is None and failed["reachable"] is False


def test_missing_namespace_is_not_created(tmp_path, monkeypatch):
    monkeypatch.setattr(probe, "NETNS_DIR", str(tmp_path))
    with pytest.raises(ValidationError, match="^netns: namespace 'green' does not exist$"):
        probe.Netns("green")
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("path", ["plugins/module_utils/probe.py", "plugins/modules/netns_probe.py"])
def test_no_subprocess_no_ping(path):
    """The probe never runs a command: no subprocess, os.system or exec* anywhere."""
    with open(os.path.join(REPO, path), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names}
    assert not imported & {"subprocess", "pty", "shlex"}
    called = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not called & {"system", "popen", "run_command", "execv", "execvp", "spawnv", "fork"}
