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


def test_the_peer_rules_leave_other_vxlan_users_of_the_port_alone(host):
    """Docker Swarm overlays and Calico use port 4789 too, on the host's own address with other
    VNIs: h1's vxlan (VNI 42, peer h2 only) must not cut an overlay of VNI 4096 between h1 and h3
    that another tool made, nor VXLAN traffic to another address of h1, while h3 stays cut off
    on VNI 42."""
    build_underlay(host)
    commands = ["ip -n h1 addr add 10.10.0.21/24 dev eth0"]
    for name, local, remote, address in (("h1", "10.10.0.11", "10.10.0.13", "192.168.60.1"),
                                         ("h3", "10.10.0.13", "10.10.0.11", "192.168.60.3")):
        commands += [f"ip -n {name} link add swarm0 type vxlan id 4096 dstport 4789 local {local} dev eth0",
                     f"bridge -n {name} fdb append 00:00:00:00:00:00 dev swarm0 dst {remote}",
                     f"ip -n {name} addr add {address}/24 dev swarm0", f"ip -n {name} link set swarm0 up"]
    commands += ["ip -n h3 link add other0 type vxlan id 7 dstport 4789 local 10.10.0.13 dev eth0",
                 "bridge -n h3 fdb append 00:00:00:00:00:00 dev other0 dst 10.10.0.21",
                 "ip -n h3 addr add 192.168.70.3/24 dev other0", "ip -n h3 link set other0 up",
                 "ip -n h1 link add other0 type vxlan id 7 dstport 4789 local 10.10.0.21 dev eth0",
                 "bridge -n h1 fdb append 00:00:00:00:00:00 dev other0 dst 10.10.0.13",
                 "ip -n h1 addr add 192.168.70.1/24 dev other0", "ip -n h1 link set other0 up"]
    host.run(" && ".join(commands))
    play = host.play([task("vxlan", vxlan("h1", ["h2"]), "h1"), task("vxlan", vxlan("h3", ["h1"]), "h3")])
    assert play.rc == 0, play.stdout
    assert host.tcp_ok("h1", "192.168.60.1", 8080, client_ns="h3")  # the other tool's overlay, VNI 4096
    assert host.tcp_ok("h1", "192.168.70.1", 8080, client_ns="h3")  # to another address of h1
    assert not host.tcp_ok("h1", OVERLAY["h1"], 8080, client_ns="h3", timeout=1.5)  # VNI 42: h1 drops h3
    rules = host.run("ip netns exec h1 nft list chain inet netfabric input").stdout
    assert 'iifname "eth0" ip daddr 10.10.0.11 udp dport 4789 @th,96,24 0x2a drop' in rules, rules


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


def test_fit_ports_lowers_the_bridges_members_and_gives_their_mtu_back(host):
    """The vxlan's bridge has a member veth at 1500 (both ends), made by another topology; the
    vxlan fits both ends to its 1450 and, when it goes, gives back 1500 where 1450 is still set."""
    build_underlay(host)
    host.run("ip -n h1 link add name veth-m-br master br0 type veth peer name veth-m netns h2"
             " && ip -n h1 link add name veth-n-br master br0 type veth peer name veth-n"
             " && ip -n h1 link set veth-m-br up && ip -n h1 link set veth-n-br up")
    args = vxlan("h1", ["h2", "h3"], fit_ports=True)
    play = host.play([task("vxlan", args, "check", check_mode=True), task("vxlan", args, "real"),
                      task("vxlan", args, "real again")])
    check, real, again = play.results
    assert check["actions"] == real["actions"] and not again["changed"], play.output
    assert "veth 'veth-m' (netns h2): set mtu 1450 (to fit vxlan 'vx0' on bridge 'br0')" in real["actions"]
    mtus = {(ns, name): host.ip(f"-n {ns} link show {name}")[0]["mtu"]
            for ns, name in (("h1", "veth-m-br"), ("h2", "veth-m"), ("h1", "veth-n-br"), ("h1", "veth-n"))}
    assert set(mtus.values()) == {1450}, mtus
    host.run("ip -n h1 link set veth-n mtu 1400")  # changed by hand since: not given back
    gone = host.play([task("vxlan", dict(args, state="absent"), "absent")])
    assert gone.results[0]["changed"], gone.output
    after = {(ns, name): host.ip(f"-n {ns} link show {name}")[0]["mtu"] for ns, name in mtus}
    assert after == {("h1", "veth-m-br"): 1500, ("h2", "veth-m"): 1500, ("h1", "veth-n-br"): 1500,
                     ("h1", "veth-n"): 1400}
    assert host.run("cat /var/lib/netfabric/settings.json", check=False).returncode != 0  # nothing left to give back
