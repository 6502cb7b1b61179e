"""netns_probe: ICMP, TCP and UDP reachability from inside namespaces, without `ping`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import task

# red and blue joined by one veth cable, IPv4 and IPv6 (nodad: usable at once)
TOPOLOGY = " && ".join([
    "ip netns add red", "ip netns add blue",
    "ip link add veth-red netns red type veth peer name veth-blue netns blue",
    "ip -n red addr add 192.168.15.1/24 dev veth-red", "ip -n red addr add fd15::1/64 dev veth-red nodad",
    "ip -n blue addr add 192.168.15.2/24 dev veth-blue", "ip -n blue addr add fd15::2/64 dev veth-blue nodad",
    # link-local: fixed addresses without DAD instead of the kernel's tentative EUI-64 ones
    "ip -n red link set veth-red addrgenmode none", "ip -n blue link set veth-blue addrgenmode none",
    "ip -n red addr add fe80::1/64 dev veth-red nodad", "ip -n blue addr add fe80::2/64 dev veth-blue nodad",
    "ip -n red link set lo up", "ip -n blue link set lo up",
    "ip -n red link set veth-red up", "ip -n blue link set veth-blue up",
])

OPEN, CLOSED = 8080, 8081  # TCP and UDP alike: a listener / echo on OPEN, nothing on CLOSED

# Runs in blue: TCP listeners and UDP echo servers on OPEN for both addresses; prints
# "ready" once every socket is bound; exits after 120 s (the sandbox kills it anyway).
SERVERS = r"""
import select, socket, sys, time
socks = []
for family, addr in ((socket.AF_INET, "192.168.15.2"), (socket.AF_INET6, "fd15::2")):
    tcp = socket.socket(family, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((addr, int(sys.argv[1])))
    tcp.listen(16)
    udp = socket.socket(family, socket.SOCK_DGRAM)
    udp.bind((addr, int(sys.argv[1])))
    socks += [tcp, udp]
print("ready", flush=True)
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    for sock in select.select(socks, [], [], 1)[0]:
        if sock.type == socket.SOCK_STREAM:
            sock.accept()[0].close()
        else:
            data, peer = sock.recvfrom(2048)
            sock.sendto(data, peer)
"""


@pytest.fixture
def red_blue(host):
    """host with red and blue on a veth cable and the servers running in blue."""
    host.run(TOPOLOGY)
    server = subprocess.Popen(host.command(["ip", "netns", "exec", "blue", sys.executable, "-c", SERVERS, OPEN]),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.strip() == "ready", server.stderr.read()
        yield host
    finally:
        server.kill()
        server.wait()


def probe_task(name, args, **extra):
    return task("netns_probe", args, name, **extra)


def assert_clean_failure(result, *words):
    assert result["failed"] is True and result["changed"] is False, result
    assert not result["msg"].startswith("Task failed"), result["msg"]  # fail_json, not a traceback
    for word in words:
        assert word in result["msg"], (word, result["msg"])
    # the result keys come back with a failure too
    assert result["reachable"] is False and result["latency_ms"] is None and result["successes"] == 0


def test_ipv4_icmp_tcp_udp(red_blue):
    red = {"netns": "red"}
    silent = dict(red, target="192.168.15.99", timeout=0.3)
    blue = dict(red, target="192.168.15.2")
    play = red_blue.play([
        probe_task("icmp", dict(blue, count=2)),
        probe_task("icmp check mode", blue, check_mode=True),
        # no binary can be found: the module never runs ping (which is not installed either)
        probe_task("icmp without PATH", blue, environment={"PATH": "/nonexistent"}),
        probe_task("silent, expect failure", dict(silent, expect="failure")),
        probe_task("silent, expect success", silent, ignore_errors=True),
        probe_task("reachable, expect failure", dict(blue, expect="failure"), ignore_errors=True),
        probe_task("tcp open", dict(blue, protocol="tcp", port=OPEN)),
        probe_task("tcp closed, expect failure", dict(blue, protocol="tcp", port=CLOSED, expect="failure")),
        probe_task("tcp closed, expect success", dict(blue, protocol="tcp", port=CLOSED), ignore_errors=True),
        probe_task("udp echo", dict(blue, protocol="udp", port=OPEN, count=2)),
        probe_task("udp closed, expect failure", dict(blue, protocol="udp", port=CLOSED, expect="failure")),
        probe_task("udp closed, expect success", dict(blue, protocol="udp", port=CLOSED), ignore_errors=True),
    ])
    assert play.rc == 0, play.output
    results = {r["task"]: r for r in play.results}
    assert len(results) == 12, play.output

    icmp = results["icmp"]
    assert icmp["changed"] is False and icmp["failed"] is False
    assert icmp["reachable"] is True and icmp["attempts"] == 2 and icmp["successes"] == 2
    assert icmp["latency_ms"] > 0 and icmp["source"] == "192.168.15.1" and icmp["address"] == "192.168.15.2"
    assert "red" in icmp["msg"] and "icmp" in icmp["msg"] and "192.168.15.2" in icmp["msg"]
    for name in ("icmp check mode", "icmp without PATH"):
        assert results[name]["reachable"] is True and results[name]["changed"] is False, results[name]

    quiet = results["silent, expect failure"]
    assert quiet["failed"] is False and quiet["reachable"] is False and quiet["latency_ms"] is None
    assert quiet["source"] == "192.168.15.1" and quiet["failures"] == ["timed out after 0.3 s"]
    assert_clean_failure(results["silent, expect success"], "netns 'red'", "icmp", "192.168.15.99",
                         "timed out", "expected success")
    loud = results["reachable, expect failure"]
    assert loud["failed"] is True and loud["reachable"] is True and loud["latency_ms"] > 0
    assert "192.168.15.2" in loud["msg"] and "expected failure" in loud["msg"]

    tcp = results["tcp open"]
    assert tcp["reachable"] is True and tcp["latency_ms"] > 0 and tcp["source"] == "192.168.15.1"
    assert f"port {OPEN}" in tcp["msg"]
    closed = results["tcp closed, expect failure"]
    assert closed["failed"] is False and closed["reachable"] is False and closed["failures"] == ["connection refused"]
    assert_clean_failure(results["tcp closed, expect success"], "netns 'red'", "tcp", "192.168.15.2",
                         f"port {CLOSED}", "connection refused")

    udp = results["udp echo"]
    assert udp["reachable"] is True and udp["successes"] == 2 and udp["latency_ms"] > 0
    assert udp["source"] == "192.168.15.1"
    closed = results["udp closed, expect failure"]
    assert closed["failed"] is False and closed["reachable"] is False
    assert closed["failures"] == ["port unreachable (connection refused)"]
    assert_clean_failure(results["udp closed, expect success"], "netns 'red'", "udp", "192.168.15.2",
                         f"port {CLOSED}", "port unreachable")


def test_ipv6_host_namespace_and_names(red_blue):
    red = {"netns": "red"}
    blue6 = dict(red, target="fd15::2")
    play = red_blue.play([
        probe_task("icmp6", dict(blue6, count=2)),
        probe_task("link-local", dict(red, target="fe80::2%veth-red")),
        probe_task("tcp6", dict(blue6, protocol="tcp", port=OPEN)),
        probe_task("udp6", dict(blue6, protocol="udp", port=OPEN)),
        probe_task("tcp6 closed", dict(blue6, protocol="tcp", port=CLOSED, expect="failure")),
        probe_task("silent6", dict(red, target="fd15::99", timeout=0.3, expect="failure")),
        probe_task("no route", dict(red, target="10.99.0.1", timeout=0.3), ignore_errors=True),
        probe_task("host namespace", {"target": "127.0.0.1"}),
        probe_task("host name", dict(red, target="localhost", protocol="icmp")),
        probe_task("blue from the host namespace", {"target": "192.168.15.2", "timeout": 0.3, "expect": "failure"}),
    ])
    assert play.rc == 0, play.output
    results = {r["task"]: r for r in play.results}

    icmp6 = results["icmp6"]
    assert icmp6["reachable"] is True and icmp6["successes"] >= 1 and icmp6["latency_ms"] > 0
    assert icmp6["source"] == "fd15::1" and icmp6["address"] == "fd15::2"
    local = results["link-local"]  # the scope is an interface of red: resolved inside red
    assert local["reachable"] is True and local["address"] == "fe80::2%veth-red" and local["source"] == "fe80::1"
    tcp6 = results["tcp6"]
    assert tcp6["reachable"] is True and tcp6["latency_ms"] > 0 and tcp6["source"] == "fd15::1"
    assert results["udp6"]["reachable"] is True
    assert results["tcp6 closed"]["failures"] == ["connection refused"]
    assert results["silent6"]["reachable"] is False and results["silent6"]["failed"] is False

    # no route: failed at once (no timeout), with a reason; nothing left the namespace
    assert_clean_failure(results["no route"], "netns 'red'", "10.99.0.1", "network unreachable")
    assert results["no route"]["source"] is None

    own = results["host namespace"]
    assert own["reachable"] is True and own["source"] == "127.0.0.1" and "host namespace" in own["msg"]
    named = results["host name"]
    assert named["reachable"] is True and named["address"] == "127.0.0.1" and "localhost (127.0.0.1)" in named["msg"]
    # the sandbox's own namespace has no route to red and blue's subnet
    assert results["blue from the host namespace"]["reachable"] is False


def test_missing_namespace_and_bad_input(host):
    missing = {"netns": "green", "target": "192.168.15.2"}
    bad = [
        ({"target": "192.168.15.2", "protocol": "tcp"}, "port"),
        ({"target": "192.168.15.2", "protocol": "udp", "port": 70000}, "port 70000 is out of range 1-65535"),
        ({"target": "192.168.15.2", "count": 0}, "count 0 is out of range"),
        ({"target": "192.168.15.2", "timeout": 0}, "timeout: 0"),
        ({"target": "192.168.15.2", "protocol": "sctp"}, "protocol"),
        ({"target": "192.168.15.2", "netns": "../x"}, "netns: namespace name '../x' may not contain '/'"),
    ]
    play = host.play([probe_task("missing", missing, ignore_errors=True),
                      probe_task("missing, expect failure", dict(missing, expect="failure"), ignore_errors=True),
                      probe_task("missing in check mode", missing, check_mode=True)]
                     + [probe_task(f"bad {i}", args, ignore_errors=True) for i, (args, unused) in enumerate(bad)])
    assert play.rc == 0, play.output
    results = {r["task"]: r for r in play.results}
    for name in ("missing", "missing, expect failure"):
        assert results[name]["failed"] is True and results[name]["msg"] == "netns: namespace 'green' does not exist"
    checked = results["missing in check mode"]
    assert checked["failed"] is False and checked["reachable"] is None and checked["attempts"] == 0
    assert any("does not exist" in warning for warning in checked["warnings"]), checked
    for i, (unused, words) in enumerate(bad):
        result = results[f"bad {i}"]
        assert result["failed"] is True and words in result["msg"], (words, result["msg"])
        assert not result["msg"].startswith("Task failed"), result["msg"]
    assert host.netns_names() == []  # nothing was created
