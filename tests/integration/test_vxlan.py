"""vxlan: a stretched bridge between "hosts" (namespaces h1, h2, h3 on one underlay)."""

from __future__ import annotations

import json

from helpers import LIFECYCLE_CHANGES, changed_flags, lifecycle, task

UNDERLAY = {"h1": "10.10.0.11", "h2": "10.10.0.12", "h3": "10.10.0.13"}
OVERLAY = {"h1": "192.168.50.1", "h2": "192.168.50.2", "h3": "192.168.50.3"}


def build_underlay(host):
    """Three namespaces standing for hosts, on one underlay bridge in the sandbox's namespace,
    each with a bridge br0 that the vxlan stretches."""
    commands = ["ip link add name lan type bridge", "ip link set lan up"]
    for name, address in UNDERLAY.items():
        commands += [f"ip netns add {name}",
                     f"ip link add name {name}-lan master lan type veth peer name eth0 netns {name}",
                     f"ip link set {name}-lan up", f"ip -n {name} addr add {address}/24 dev eth0",
                     f"ip -n {name} link set eth0 up", f"ip -n {name} link set lo up",
                     f"ip -n {name} link add name br0 type bridge", f"ip -n {name} link set br0 up",
                     f"ip -n {name} addr add {OVERLAY[name]}/24 dev br0"]
    host.run(" && ".join(commands))


def vxlan(name, remotes, **extra):
    return dict({"name": "vx0", "netns": name, "vni": 42, "local": UNDERLAY[name], "dev": "eth0", "bridge": "br0",
                 "mtu": 1450, "remotes": [UNDERLAY[r] for r in remotes]}, **extra)


def test_lifecycle(host):
    build_underlay(host)
    play = host.play(lifecycle("vxlan", vxlan("h1", ["h2", "h3"])))
    assert play.rc == 0, play.stdout
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    real = next(r for r in play.results if r["task"] == "real")
    assert real["vxlan"]["remotes"] == ["10.10.0.12", "10.10.0.13"] and real["vxlan"]["bridge"] == "br0"
    assert host.ip("-n h1 link show type vxlan") == []
    assert host.run("ip netns exec h1 nft list table inet netfabric", check=False).returncode != 0


def test_stretched_bridge_carries_traffic_only_between_declared_peers(host):
    build_underlay(host)
    play = host.play([task("vxlan", vxlan("h1", ["h2"]), "h1"), task("vxlan", vxlan("h2", ["h1", "h3"]), "h2"),
                      task("vxlan", vxlan("h3", ["h1", "h2"]), "h3 (h1 does not list it)"),
                      task("vxlan", vxlan("h1", ["h2"]), "h1 again")])
    assert play.rc == 0, play.stdout
    assert [r["changed"] for r in play.results] == [True, True, True, False]
    details = host.ip("-d -n h1 link show vx0")[0]["linkinfo"]["info_data"]
    assert details["id"] == 42 and details["port"] == 4789 and details["local"] == "10.10.0.11"
    fdb = host.run("bridge -n h1 -j fdb show dev vx0").stdout
    assert [e["dst"] for e in json.loads(fdb) if e["mac"] == "00:00:00:00:00:00"] == ["10.10.0.12"]
    assert host.tcp_ok("h2", OVERLAY["h2"], 8080, client_ns="h1")  # across the stretched bridge
    assert host.tcp_ok("h3", OVERLAY["h3"], 8080, client_ns="h2")
    assert not host.tcp_ok("h1", OVERLAY["h1"], 8080, client_ns="h3", timeout=1.5)  # h1 drops h3's packets


def test_changing_the_vni_recreates_the_device_and_remotes_are_the_whole_set(host):
    build_underlay(host)
    play = host.play([task("vxlan", vxlan("h1", ["h2", "h3"]), "first"),
                      task("vxlan", vxlan("h1", ["h3"], vni=43), "new vni, fewer remotes")])
    assert play.rc == 0, play.stdout
    actions = play.results[1]["actions"]
    assert actions[0] == "vxlan 'vx0' (netns h1): delete (vni changed)"
    assert "vxlan 'vx0' (netns h1): create, vni 43, port 4789, local 10.10.0.11, dev eth0, mtu 1450" in actions
    fdb = json.loads(host.run("bridge -n h1 -j fdb show dev vx0").stdout)
    assert [e["dst"] for e in fdb if e["mac"] == "00:00:00:00:00:00"] == ["10.10.0.13"]
