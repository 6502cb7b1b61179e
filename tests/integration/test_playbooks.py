"""The role netfabric.netns.topology through the collection's playbooks: bridge_nat.yml,
multi_network.yml and site.yml (with the example inventory's group_vars and host_vars).

Each scenario runs in a sandbox host whose "eth0" (10.0.0.1/24, in the sandbox's own namespace)
leads to the namespace "outside" (10.0.0.100), which stands for the LAN: the playbook runs, then
verify.yml checks a reachability matrix with real traffic (netns_probe), pairs that must not
reach each other included; a second run changes nothing; teardown.yml leaves no namespace, link,
address, nftables table or state file of the topology. On a second, fresh sandbox host the same
playbook runs with --check: the netns_topology task plans exactly the actions of the real run
and creates nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import lan
from conftest import REPO

PLAYBOOKS = os.path.join(REPO, "playbooks")
INVENTORY = os.path.join(PLAYBOOKS, "inventory")
TOPOLOGY_TASK = "Converge the namespace topology"
STATE_FILE = "/var/lib/netfabric/topology-topology.json"
PROBE_TIMEOUT = 0.5  # seconds per probe attempt; every pair expected to fail waits this long

# The LAN: eth0 of the sandbox host with its address, and "outside" behind it. ROUTE (optional)
# makes the LAN route the namespaces' networks through the host, so that a pair that must not
# reach fails because of the firewall, not for want of a route.
OUTSIDE = """
set -eu
ip netns add outside
ip link add eth0 type veth peer name lan0 netns outside
ip addr add 10.0.0.1/24 dev eth0
ip link set eth0 up
ip -n outside addr add 10.0.0.100/24 dev lan0
ip -n outside link set lo up
ip -n outside link set lan0 up
"""

# One process inside the sandbox: a TCP listener (accept, close) or UDP echo for every
# NETNS:PROTO:PORT argument, on every address of the namespace; prints "ready" when all are bound.
LISTENERS = r"""
import ctypes, os, socket, sys, threading

LIBC = ctypes.CDLL(None, use_errno=True)
HOME = os.open("/proc/self/ns/net", os.O_RDONLY)


def socket_in(netns, kind):
    fd = os.open("/run/netns/" + netns, os.O_RDONLY)
    try:
        if LIBC.setns(fd, 0x40000000) != 0:
            raise OSError(ctypes.get_errno(), "setns " + netns)
        return socket.socket(socket.AF_INET, kind)
    finally:
        os.close(fd)
        LIBC.setns(HOME, 0x40000000)


def serve_tcp(sock):
    while True:
        sock.accept()[0].close()


def serve_udp(sock):
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(data, peer)


for spec in sys.argv[1:]:
    netns, proto, port = spec.split(":")
    sock = socket_in(netns, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", int(port)))
    if proto == "tcp":
        sock.listen(64)
    threading.Thread(target=serve_tcp if proto == "tcp" else serve_udp, args=(sock,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def pair(source, target, port=None, protocol=None, expect="success"):
    """One item of netns_verify (source None: the host's own namespace)."""
    item = {"to": target, "expect": expect}
    if source:
        item["from"] = source
    if port is not None:
        item["port"] = port
    if protocol:
        item["protocol"] = protocol
    return item


def build_lan(host, route=None):
    host.run(OUTSIDE + (f"ip -n outside route add {route} via 10.0.0.1\n" if route else ""))


class Listeners:
    """The LISTENERS process inside host, killed on exit."""

    def __init__(self, host, specs):
        self.proc = subprocess.Popen(host.command([sys.executable, "-c", LISTENERS] + list(specs)),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def __enter__(self):
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.proc.kill()
            raise AssertionError("listeners did not start: " + self.proc.communicate()[1])
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def topology_task(play):
    """The result of the role's netns_topology task."""
    found = [r for r in play.results if r["task"].endswith(TOPOLOGY_TASK)]
    assert len(found) == 1, play.output
    return found[0]


def assert_ok(play):
    assert play.rc == 0, play.output
    assert not any(r["failed"] for r in play.results), play.output


def assert_unchanged(play):
    """Every task ok (or skipped), nothing changed, also in the recap."""
    assert_ok(play)
    assert [r["task"] for r in play.results if r["changed"]] == [], play.output
    assert {r["status"] for r in play.results} <= {"ok", "skipped"}, play.output
    recap = [line for line in play.stdout.splitlines() if line.startswith("localhost") and "changed=" in line]
    assert recap and all(" changed=0 " in line and " failed=0 " in line for line in recap), play.output


def verify(host, matrix, args=()):
    """verify.yml with the matrix (None: netns_verify from the inventory in args); returns the probes' results."""
    extra = {"netns_verify_timeout": PROBE_TIMEOUT}
    if matrix is not None:
        extra["netns_verify"] = matrix
    play = host.playbook(os.path.join(PLAYBOOKS, "verify.yml"), extra_vars=extra, args=args)
    assert play.rc == 0, play.output
    return play.task("Probe each pair of netns_verify")["results"]


def host_links(host):
    return sorted(link["ifname"] for link in host.ip("link show"))


def state_files(host):
    return host.run("ls /var/lib/netfabric/ 2>/dev/null | grep '^topology-' || true").stdout.split()


def assert_torn_down(host):
    """Nothing of the topology left: only the LAN the test built. The veths of removed
    namespaces go with them once the kernel has cleaned them up, just after the play."""
    assert host.netns_names() == ["outside"]
    deadline = time.monotonic() + 10
    while host_links(host) != ["eth0", "lo"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert host_links(host) == ["eth0", "lo"]
    assert [f"{a['local']}/{a['prefixlen']}" for a in host.ip("-4 addr show dev eth0")[0]["addr_info"]] == ["10.0.0.1/24"]
    assert lan.table(host) is None, host.run("nft list ruleset").stdout
    assert state_files(host) == []


def assert_empty(host):
    """A fresh host after --check: nothing was created."""
    assert host.netns_names() == ["outside"]
    assert host_links(host) == ["eth0", "lo"]
    assert lan.table(host) is None
    assert state_files(host) == []


def scenario(make_host, playbook, listeners, matrix, route=None, args=(), extra_vars=None, after_run=None):
    """Real run, verify (with listeners), second run, teardown twice; --check on a fresh host."""
    path = os.path.join(PLAYBOOKS, playbook)
    host = make_host("real")
    build_lan(host, route)
    first = host.playbook(path, args=args, extra_vars=extra_vars)
    assert_ok(first)
    real = topology_task(first)
    assert real["changed"] is True and real["actions"], first.output
    assert real["state_file"] == STATE_FILE
    assert state_files(host) == [os.path.basename(STATE_FILE)]
    if after_run:
        after_run(host)

    with Listeners(host, listeners):
        probes = verify(host, matrix, args)
    assert probes and all(not r["failed"] for r in probes), probes
    for probe in probes:  # really sent: reachable exactly when expected, never "not sent"
        assert probe["reachable"] is (probe["item"].get("expect", "success") == "success"), probe
    assert any(probe["item"].get("expect") == "failure" for probe in probes), "no pair that must not reach"
    assert matrix is None or len(probes) == len(matrix)

    assert_unchanged(host.playbook(path, args=args, extra_vars=extra_vars))

    teardown = host.playbook(os.path.join(PLAYBOOKS, "teardown.yml"), args=args, extra_vars=extra_vars)
    assert_ok(teardown)
    assert topology_task(teardown)["changed"] is True
    assert_torn_down(host)
    assert_unchanged(host.playbook(os.path.join(PLAYBOOKS, "teardown.yml"), args=args, extra_vars=extra_vars))

    fresh = make_host("check")
    build_lan(fresh, route)
    check = fresh.playbook(path, check=True, args=args, extra_vars=extra_vars)
    assert_ok(check)
    planned = topology_task(check)
    assert planned["changed"] is True
    assert planned["actions"] == real["actions"]
    assert_empty(fresh)
    return real


def test_bridge_nat(make_host):
    """The walkthrough: red and blue on v-net-0, NAT out, the host's port 80 forwarded to blue:80."""
    red, blue = "192.168.15.1", "192.168.15.2"
    matrix = [
        pair("red", blue),
        pair("blue", "192.168.15.5"),
        pair("red", blue, 80),
        pair("outside", "10.0.0.1", 80),          # the port forward, from the LAN
        pair(None, "10.0.0.1", 80),               # from the host itself
        pair("red", "10.0.0.1", 80),              # hairpin: from a namespace, to the host's address
        pair("blue", "10.0.0.100"),               # NAT: outside has no route back to 192.168.15.0/24
        pair("red", "10.0.0.100"),
        pair("outside", blue, 80, expect="failure"),        # not directly: only through the forward
        pair("outside", "10.0.0.1", 8080, expect="failure"),  # a port that is not forwarded
        pair("outside", red, expect="failure"),
    ]
    real = scenario(make_host, "bridge_nat.yml", ["blue:tcp:80", "outside:tcp:8080"], matrix)
    assert "namespace 'red': create" in real["actions"]
    assert any("dnat ip to 192.168.15.2:80" in action for action in real["actions"]), real["actions"]


def test_bridge_nat_other_port(make_host):
    """netns_forward_port from the inventory or -e changes the forwarded port, and nothing else."""
    host = make_host()
    build_lan(host)
    play = host.playbook(os.path.join(PLAYBOOKS, "bridge_nat.yml"), extra_vars={"netns_forward_port": 8080})
    assert_ok(play)
    with Listeners(host, ["blue:tcp:80"]):
        probes = verify(host, [pair("outside", "10.0.0.1", 8080), pair("outside", "10.0.0.1", 80, expect="failure")])
        assert len(probes) == 2 and not any(r["failed"] for r in probes)
        # a wrong expectation fails the play, after every pair was probed, and names the pairs
        wrong = host.playbook(os.path.join(PLAYBOOKS, "verify.yml"), extra_vars={"netns_verify_timeout": PROBE_TIMEOUT,
                              "netns_verify": [pair("outside", "10.0.0.1", 80), pair("red", "192.168.15.2"),
                                               pair("outside", "10.0.0.1", 8080, expect="failure")]})
    assert wrong.rc != 0, wrong.output
    assert [r["failed"] for r in wrong.task("Probe each pair of netns_verify")["results"]] == [True, False, True]
    summary = wrong.task("Every pair behaves as expected")
    assert summary["failed"] is True
    assert summary["msg"].startswith("2 of 3 probes differ from netns_verify"), summary["msg"]
    assert "[outside -> 10.0.0.1:80]" in summary["msg"] and "[outside -> 10.0.0.1:8080]" in summary["msg"]
    assert "192.168.15.2" not in summary["msg"]


def check_apps(host):
    """Each host address reaches its own app, seen with the LAN client's own address (DNAT only)."""
    answers = lan.probe(host, [lan.check("outside", "10.0.0.1", 8080, "webapp1"),
                               lan.check("outside", "10.0.0.2", 8080, "webapp2")])
    assert answers == [lan.answer("webapp1", "10.0.0.100"), lan.answer("webapp2", "10.0.0.100")]
    addresses = [f"{a['local']}/{a['prefixlen']}" for a in host.ip("-4 addr show dev eth0")[0]["addr_info"]]
    assert addresses == ["10.0.0.1/24", "10.0.0.2/24"]


def test_multi_network(make_host):
    """Seed 003: web and an isolated back-end behind the host as router, policies, two apps on port 8080."""
    db, log = "10.1.20.10", "10.1.20.100"
    matrix = [
        pair("webapp1", db, 5432),                    # the policies
        pair("webapp2", db, 5432),
        pair("webapp1", log, 514),
        pair("webapp2", log, 514, "udp"),
        pair("webapp1", "10.1.10.12", 8080),          # the web network itself
        pair("db", log, 514),                         # the back-end network itself
        pair("db", log, 22),
        pair("outside", "10.0.0.1", 8080),            # the two apps behind the two host addresses
        pair("outside", "10.0.0.2", 8080),
        pair(None, "10.0.0.2", 8080),
        pair("webapp1", "10.0.0.100"),                # web goes out (masquerade)
        pair("webapp1", log, 22, expect="failure"),   # everything else into the back-end is dropped
        pair("webapp2", db, 22, expect="failure"),
        pair("webapp1", db, expect="failure"),
        pair("outside", db, 5432, expect="failure"),  # the LAN routes 10.1.0.0/16 here, the isolation drops it
        pair("db", "10.1.10.11", 8080, expect="failure"),  # and the back-end reaches nothing outside it
        pair("log", "10.0.0.100", expect="failure"),
    ]
    listeners = ["db:tcp:5432", "db:tcp:22", "log:tcp:514", "log:udp:514", "log:tcp:22",
                 "webapp1:tcp:8080", "webapp2:tcp:8080"]
    real = scenario(make_host, "multi_network.yml", listeners, matrix, route="10.1.0.0/16", after_run=check_apps)
    assert "interface 'eth0' (host): add address 10.0.0.2/24" in real["actions"]


def example_inventory(work):
    """In work: the example inventory's group_vars and node1's host_vars, for localhost in netns_hosts."""
    for sub in ("group_vars", "host_vars"):
        os.makedirs(os.path.join(work, sub))
    shutil.copy(os.path.join(INVENTORY, "group_vars", "netns_hosts.yml"), os.path.join(work, "group_vars"))
    shutil.copy(os.path.join(INVENTORY, "host_vars", "node1.yml"), os.path.join(work, "host_vars", "localhost.yml"))
    with open(os.path.join(work, "hosts.yml"), "w", encoding="utf-8") as handle:
        json.dump({"netns_hosts": {"hosts": {"localhost": {}}}}, handle)
    return os.path.join(work, "hosts.yml")


def test_site_with_inventory(make_host):
    """site.yml, verify.yml (netns_verify from group_vars) and teardown.yml with the example fleet's
    group_vars and host_vars (node1's subnets)."""
    work = tempfile.mkdtemp(prefix="netfabric-inventory-")
    try:
        args = ("-i", example_inventory(work))
        real = scenario(make_host, "site.yml", ["db:tcp:5432"], None, args=args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert "bridge 'v-net-0' (host): add address 192.168.15.5/24" in real["actions"]
    assert "bridge 'v-net-1' (host): add address 192.168.25.5/24" in real["actions"]


def test_role_rejects_bad_items(host):
    """meta/argument_specs.yml checks every item before the role's tasks run: nothing is created."""
    play = host.play([{"name": "apply", "ansible.builtin.include_role": {"name": "netfabric.netns.topology"}, "vars": {
        "netns_topology": {"namespaces": [{"name": "red", "loopbak": True}], "veths": [{"netns": "red", "peer": "x"}],
                           "port_forwards": [{"port": 80, "protocol": "sctp", "destination": "192.168.15.2"}]},
        "netns_topology_state": "gone"}}])
    assert play.rc != 0, play.output
    failed = [r for r in play.results if r["failed"]]
    assert len(failed) == 1 and failed[0]["task"].startswith("Validating arguments"), play.output
    for text in ("netns_topology_state must be one of: present, absent, got: gone",
                 "missing required arguments: name found in netns_topology -> veths",
                 "protocol must be one of: tcp, udp, got: sctp", "netns_topology.namespaces.loopbak"):
        assert text in failed[0]["msg"], (text, failed[0]["msg"])
    assert host.netns_names() == []
    assert state_files(host) == []
