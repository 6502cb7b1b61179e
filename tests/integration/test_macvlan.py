"""macvlan and ipvlan: namespaces straight on the LAN (seed 003, option 2).

Layout: the sandbox host ``lan`` plays the switch (bridge br-lan); h1 (eth0 10.20.0.1/24) is
the host whose namespaces get macvlans on eth0, h2 (eth0 10.20.0.2/24) another host of the LAN.
Reachability is a real TCP echo: a listener in a namespace of h1, a client in h2 (or in h1's own
namespace). Single-host tests give the sandbox an eth0 of its own (a veth to a namespace "wire").
"""

from __future__ import annotations

import os
import sys
import time

import pytest

from helpers import LIFECYCLE_CHANGES, changed_flags, lifecycle, task

from sandbox import wire  # noqa: E402  pylint: disable=wrong-import-order

from conftest import REPO

H1, H2 = "10.20.0.1", "10.20.0.2"
RED, BLUE, SHIM = "10.20.0.50", "10.20.0.51", "10.20.0.60"
# an eth0 for a single sandbox host: a veth whose other end waits in a namespace of its own
ETH0 = "ip netns add wire && ip link add eth0 type veth peer name lan0 netns wire && ip link set eth0 up" \
       " && ip -n wire link set lan0 up"

_SERVER = r"""
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen(4); srv.settimeout(float(sys.argv[3]))
try:
    while True:
        conn, peer = srv.accept()
        conn.recv(64); conn.sendall(peer[0].encode()); conn.close()
except OSError:
    pass
"""
_CLIENT = r"""
import socket, sys
sock = socket.socket(); sock.settimeout(2)
sock.connect((sys.argv[1], int(sys.argv[2]))); sock.sendall(b"ping"); print(sock.recv(64).decode())
"""


class Lan:
    """h1 and h2 on the lan switch, with a TCP listener started in h1 per check."""

    def __init__(self, lan, h1, h2):
        self.lan, self.h1, self.h2 = lan, h1, h2
        self._port = 7100
        self.server = os.path.join(h1.dir, "server.py")
        self.client = os.path.join(h2.dir, "client.py")
        for path, text in ((self.server, _SERVER), (self.client, _CLIENT), (os.path.join(h1.dir, "client.py"), _CLIENT)):
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)

    def peer_seen(self, netns, address, client=None, attempts=20):
        """The address the listener on ``address`` in h1's ``netns`` saw the client come from
        (client: the h2 host, or h1 itself), or None when the connection fails."""
        client = client or self.h2
        self._port += 1
        prefix = f"ip netns exec {netns} " if netns else ""
        self.h1.run(f"{prefix}setsid {sys.executable} {self.server} {address} {self._port} 6 </dev/null >/dev/null 2>&1 &")
        for unused in range(attempts):
            proc = client.run([sys.executable, os.path.join(client.dir, "client.py"), address, str(self._port)], check=False)
            if proc.returncode == 0:
                return proc.stdout.strip()
            if "Connection refused" not in proc.stderr:
                return None
            time.sleep(0.1)
        return None


@pytest.fixture
def on_lan(make_host):
    lan, h1, h2 = make_host("lan"), make_host("h1"), make_host("h2")
    wire(lan, h1, [f"{H1}/24"])
    wire(lan, h2, [f"{H2}/24"])
    h1.run("ip netns add red && ip netns add blue && ip -n red link set lo up && ip -n blue link set lo up")
    return Lan(lan, h1, h2)


def macvlan(name, netns, address, **extra):
    return dict({"name": name, "netns": netns, "parent": "eth0", "addresses": [f"{address}/24"]}, **extra)


def ipvlan_missing(host):
    """The kernel's answer to an ipvlan without a parent: "Unknown device type" without the driver."""
    proc = host.run("ip link add nf-try0 type ipvlan mode l2", check=False)
    return "Unknown device type" in proc.stderr


def links_everywhere(host):
    """Every link of the host and of its namespaces as ip shows them (carrier left out: a fresh
    veth's settles on its own)."""
    def shown(links):
        return [(lk["ifname"], lk["mtu"], lk.get("address"), lk.get("ifalias"), lk.get("master"), "UP" in lk["flags"],
                 lk.get("linkinfo", {}).get("info_kind"), lk.get("linkinfo", {}).get("info_data", {}).get("mode"))
                for lk in links]
    found = {"": shown(host.ip("-d link show"))}
    for netns in host.netns_names():
        found[netns] = shown(host.ip(f"-d -n {netns} link show"))
    return found


def test_namespaces_on_the_lan_reach_and_are_reached_without_nat(on_lan):
    """playbooks/macvlan.yml on h1: h2 reaches red and blue at their own addresses and sees each
    with its own MAC; the listeners see h2's own address (no NAT, no port forward, no route)."""
    h1, h2 = on_lan.h1, on_lan.h2
    h1.run("ip netns del red && ip netns del blue")  # the playbook makes them
    play = h1.playbook(os.path.join(REPO, "playbooks", "macvlan.yml"),
                       extra_vars={"netns_red_address": f"{RED}/24", "netns_blue_address": f"{BLUE}/24"})
    assert play.rc == 0, play.output
    assert on_lan.peer_seen("red", RED) == H2
    assert on_lan.peer_seen("blue", BLUE) == H2
    macs = {ns: h1.ip(f"-n {ns} link show m-{ns}")[0]["address"] for ns in ("red", "blue")}
    eth0 = h1.ip("link show eth0")[0]["address"]
    neighbours = {n["dst"]: n.get("lladdr") for n in h2.ip("neigh show dev eth0")}
    assert neighbours[RED] == macs["red"] and neighbours[BLUE] == macs["blue"]
    assert len({macs["red"], macs["blue"], eth0}) == 3
    assert h1.run("nft list ruleset").stdout.strip() == ""  # nothing translated on the way
    assert [r for r in h1.ip("-n red route show") if r["dst"] != "10.20.0.0/24"] == []
    again = h1.playbook(os.path.join(REPO, "playbooks", "macvlan.yml"),
                        extra_vars={"netns_red_address": f"{RED}/24", "netns_blue_address": f"{BLUE}/24"})
    assert again.rc == 0 and "changed=0" in again.stdout, again.output


def test_the_host_reaches_its_macvlans_only_through_a_shim(on_lan):
    h1 = on_lan.h1
    red = macvlan("m-red", "red", RED)
    play = h1.play([task("macvlan", red)])
    assert play.rc == 0, play.output
    assert on_lan.peer_seen("red", RED, client=h1, attempts=3) is None  # through eth0: the frames never come back
    shim = {"name": "mvshim", "parent": "eth0", "addresses": [f"{SHIM}/32"]}
    play = h1.play([task("macvlan", shim, "shim"), task("macvlan", dict(red, shim="mvshim"), "red through the shim"),
                    task("macvlan", dict(red, shim="mvshim"), "again")])
    assert play.rc == 0, play.output
    assert play.results[1]["actions"] == ["route 10.20.0.50/32 (host): add dev mvshim"]
    assert play.results[2]["changed"] is False
    assert on_lan.peer_seen("red", RED, client=h1) == SHIM
    assert on_lan.peer_seen("red", RED) == H2  # the LAN still reaches it as before
    kernel = {r["dst"]: r["dev"] for r in h1.ip("route show")}
    assert kernel[RED] == "mvshim"
    play = h1.play([task("macvlan", dict(red, shim="mvshim", addresses=[f"{BLUE}/24"]), "new address"),
                    task("macvlan", dict(red, shim="mvshim", state="absent"), "absent")])
    assert play.rc == 0, play.output
    assert "route 10.20.0.50/32 (host): delete dev mvshim" in play.results[0]["actions"]
    assert "route 10.20.0.51/32 (host): add dev mvshim" in play.results[0]["actions"]
    assert {r["dst"] for r in h1.ip("route show")} == {"10.20.0.0/24"}
    assert h1.ip("-n red link show type macvlan") == []


def test_shim_needs_bridge_mode_and_a_namespace(host):
    host.run(ETH0 + " && ip netns add red")
    play = host.play([task("macvlan", {"name": "m1", "netns": "red", "parent": "eth0", "mode": "private",
                                       "shim": "mvshim"}, ignore_errors=True),
                      task("macvlan", {"name": "m1", "parent": "eth0", "shim": "mvshim"}, ignore_errors=True)])
    first, second = play.results
    assert first["failed"] and first["msg"].startswith("shim: needs mode bridge"), first["msg"]
    assert second["failed"] and second["msg"].startswith("shim: is for a macvlan in a namespace"), second["msg"]


def test_macvlan_lifecycle(host):
    host.run(ETH0 + " && ip netns add red")
    args = {"name": "m1", "netns": "red", "parent": "eth0", "mode": "private", "mac": "02:00:0a:14:00:32",
            "addresses": ["10.20.0.50/24"], "mtu": 1400}
    play = host.play(lifecycle("macvlan", args))
    assert play.rc == 0, play.output
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    check = next(r for r in play.results if r["task"] == "check")
    real = next(r for r in play.results if r["task"] == "real")
    assert check["actions"] == real["actions"] == [
        "macvlan 'm1' (netns red): create on 'eth0', mode private, mac 02:00:0a:14:00:32, mtu 1400",
        "macvlan 'm1' (netns red): add address 10.20.0.50/24", "macvlan 'm1' (netns red): set up"]
    assert real["macvlan"] == {"name": "m1", "netns": "red", "state": "present", "kind": "macvlan", "parent": "eth0",
                               "mode": "private", "mac": "02:00:0a:14:00:32", "mtu": 1400, "up": True,
                               "addresses": ["10.20.0.50/24"]}
    assert host.ip("-n red link show type macvlan") == []


def test_macvlan_is_born_in_its_namespace_and_reported(host):
    """Made in red directly (never in the host: no link of that name there at any moment would be
    the proof we cannot take, so the request is checked: one creating action, in red, and the
    kernel's link in red on the host's eth0); netns_info reports kind, parent and mode."""
    host.run(ETH0 + " && ip netns add red")
    play = host.play([task("macvlan", {"name": "m1", "netns": "red", "parent": "eth0", "mode": "vepa"}),
                      {"name": "info", "netfabric.netns.netns_info": {}}])
    assert play.rc == 0, play.output
    link = host.ip("-d -n red link show m1")[0]
    assert link["linkinfo"]["info_kind"] == "macvlan" and link["linkinfo"]["info_data"]["mode"] == "vepa"
    assert link["link_netnsid"] == 0 and link["ifalias"] == "netfabric.netns"
    assert [lk["ifname"] for lk in host.ip("link show")] == ["lo", "eth0"]
    facts = play.results[1]["netns"]["red"]["links"]
    m1 = next(lk for lk in facts if lk["name"] == "m1")
    assert (m1["kind"], m1["parent"], m1["parent_netns"], m1["mode"]) == ("macvlan", "eth0", None, "vepa")
    assert m1["mac"] == link["address"]


def test_a_mode_change_recreates_and_check_mode_says_so(host):
    host.run(ETH0 + " && ip netns add red")
    base = {"name": "m1", "netns": "red", "parent": "eth0", "addresses": ["10.20.0.50/24"]}
    play = host.play([task("macvlan", base, "bridge"),
                      task("macvlan", dict(base, mode="private"), "check private", check_mode=True),
                      task("macvlan", dict(base, mode="private"), "private")])
    assert play.rc == 0, play.output
    check, real = play.results[1], play.results[2]
    assert check["actions"] == real["actions"]
    assert real["actions"][:2] == ["macvlan 'm1' (netns red): delete (mode changed)",
                                   "macvlan 'm1' (netns red): create on 'eth0', mode private"]
    assert host.ip("-d -n red link show m1")[0]["linkinfo"]["info_data"]["mode"] == "private"
    assert [a["local"] for a in host.ip("-n red addr show m1")[0]["addr_info"] if a["family"] == "inet"] == ["10.20.0.50"]


def test_a_macvlan_we_did_not_make_is_not_recreated(host):
    host.run(ETH0 + " && ip netns add red && ip link add link eth0 name m1 netns red type macvlan mode bridge")
    play = host.play([task("macvlan", {"name": "m1", "netns": "red", "parent": "eth0", "mode": "private"},
                           ignore_errors=True),
                      task("macvlan", {"name": "m1", "netns": "red", "state": "absent"})])
    assert play.results[0]["failed"] and "did not create it" in play.results[0]["msg"], play.results[0]
    assert play.results[1]["changed"] is False and "left in place" in " ".join(play.results[1]["warnings"])
    assert host.ip("-d -n red link show m1")[0]["linkinfo"]["info_data"]["mode"] == "bridge"


BAD_INPUTS = [
    ({"parent": "eth9"}, "parent: parent interface 'eth9' does not exist in the host namespace"),
    ({"parent": "lan1"}, "parent: 'lan1' is in netns 'red': the parent of a macvlan must be an interface of the host"),
    ({"mode": "bridged"}, "mode"),
    ({"name": "veth-x"}, "name: 'veth-x' exists in netns 'red' as a veth, not a macvlan"),
    ({"mtu": 9000}, "mtu: 9000 is above the MTU of its parent 'eth0' (1500)"),
    ({"mac": "01:00:5e:00:00:01"}, "mac: '01:00:5e:00:00:01' is not a unicast address"),
]


def test_bad_inputs_name_the_option_and_change_nothing(host):
    host.run(ETH0 + " && ip netns add red && ip link add veth-x netns red type veth peer name lan1 netns red")
    before = links_everywhere(host)
    base = {"name": "m1", "netns": "red", "parent": "eth0", "addresses": ["10.20.0.50/24"]}
    play = host.play([task("macvlan", dict(base, **bad), str(i), ignore_errors=True)
                      for i, (bad, unused) in enumerate(BAD_INPUTS)])
    for (bad, expected), result in zip(BAD_INPUTS, play.results):
        assert result["failed"], (bad, result)
        assert expected in result["msg"], (bad, result["msg"])
        assert "Traceback" not in str(result.get("exception", "")), result
    assert "bridged" in play.results[2]["msg"]
    assert links_everywhere(host) == before


def test_passthru_on_the_connections_interface_is_refused(host):
    host.run(ETH0 + " && ip addr add 10.9.0.1/24 dev eth0 && ip netns add red")
    args = {"name": "m1", "netns": "red", "parent": "eth0", "mode": "passthru"}
    play = host.play([task("macvlan", args, ignore_errors=True)], vars={"ansible_host": "10.9.0.1"})
    result = play.results[0]
    assert result["failed"] and "refusing to put a passthru macvlan on 'eth0'" in result["msg"], result["msg"]
    assert host.ip("-n red link show type macvlan") == []
    play = host.play([task("macvlan", dict(args, force=True))], vars={"ansible_host": "10.9.0.1"})
    assert play.rc == 0, play.output
    assert host.ip("-d -n red link show m1")[0]["linkinfo"]["info_data"]["mode"] == "passthru"


def test_topology_kinds_prune_and_absent(host):
    host.run(ETH0 + f" && ip addr add {H1}/24 dev eth0")
    topology = {"namespaces": [{"name": "red"}, {"name": "blue"}],
                "macvlans": [{"name": "mvshim", "parent": "eth0", "addresses": [f"{SHIM}/32"]},
                             macvlan("m-red", "red", RED, shim="mvshim"), macvlan("m-blue", "blue", BLUE)]}
    smaller = dict(topology, macvlans=topology["macvlans"][:2])
    play = host.play([task("netns_topology", {"topology": topology}, "apply"),
                      task("netns_topology", {"topology": topology}, "again"),
                      task("netns_topology", {"topology": smaller, "prune": True}, "prune"),
                      {"name": "info", "netfabric.netns.netns_info": {}}])
    assert play.rc == 0, play.output
    assert [r["changed"] for r in play.results[:3]] == [True, False, True]
    assert play.results[2]["actions"] == ["macvlan 'm-blue' (netns blue): delete"]
    host_routes = {r["dst"]: r["dev"] for r in host.ip("route show")}
    assert host_routes[RED] == "mvshim"
    assert "m-red" in play.results[3]["diagram"] and "mvshim" in play.results[3]["diagram"]
    play = host.play([task("netns_topology", {"topology": smaller, "state": "absent"}, "absent")])
    assert play.rc == 0, play.output
    assert host.netns_names() == ["wire"]
    assert [lk["ifname"] for lk in host.ip("link show")] == ["lo", "eth0"]
    assert {r["dst"] for r in host.ip("route show")} == {"10.20.0.0/24"}


def test_ipvlan_fails_clearly_without_its_driver_and_changes_nothing(host):
    host.run(ETH0 + " && ip netns add red")
    if not ipvlan_missing(host):
        pytest.skip("this kernel has the ipvlan driver: test_ipvlan_lifecycle covers it")
    before = links_everywhere(host)
    play = host.play([task("netns_topology", {"topology": {
        "namespaces": [{"name": "blue"}],
        "ipvlans": [{"name": "i1", "netns": "blue", "parent": "eth0"}]}}, "topology", ignore_errors=True),
        task("ipvlan", {"name": "i1", "netns": "red", "parent": "eth0", "addresses": ["10.20.0.50/24"]}, "module",
             ignore_errors=True),
        task("ipvlan", {"name": "i1", "netns": "red", "parent": "eth0"}, "check", check_mode=True, ignore_errors=True)])
    for result in play.results:
        assert result["failed"], result
        assert "this kernel has no ipvlan driver" in result["msg"] and "nothing was changed" in result["msg"], result
    assert play.results[0]["msg"].startswith("ipvlans[0]: ")
    assert links_everywhere(host) == before and host.netns_names() == ["red", "wire"]


def test_ipvlan_lifecycle(host):
    host.run(ETH0 + " && ip netns add red")
    if ipvlan_missing(host):
        pytest.skip("this kernel has no ipvlan driver (ip link add ... type ipvlan: Unknown device type)")
    args = {"name": "i1", "netns": "red", "parent": "eth0", "mode": "l3", "flags": "private",
            "addresses": ["10.20.0.50/24"]}
    tasks = lifecycle("ipvlan", args) + [task("ipvlan", args, "again"), task("ipvlan", dict(args, mode="l2"), "l2")]
    play = host.play(tasks)
    assert play.rc == 0, play.output
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    assert play.results[-1]["actions"][0] == "ipvlan 'i1' (netns red): delete (mode changed)"
    data = host.ip("-d -n red link show i1")[0]["linkinfo"]["info_data"]
    assert data["mode"] == "l2"


def test_ipvlan_traffic_shows_the_parents_mac(on_lan):
    h1, h2 = on_lan.h1, on_lan.h2
    if ipvlan_missing(h1):
        pytest.skip("this kernel has no ipvlan driver (ip link add ... type ipvlan: Unknown device type)")
    play = h1.play([task("ipvlan", macvlan("i-red", "red", RED))])
    assert play.rc == 0, play.output
    assert on_lan.peer_seen("red", RED) == H2
    neighbours = {n["dst"]: n.get("lladdr") for n in h2.ip("neigh show dev eth0")}
    assert neighbours[RED] == h1.ip("link show eth0")[0]["address"]
