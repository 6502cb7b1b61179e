"""veth: pairs between namespaces, addressed and up, with real traffic through them."""

from __future__ import annotations

from helpers import LIFECYCLE_CHANGES, changed_flags, lifecycle, snapshots, task

CABLE = {"name": "veth-red", "netns": "red", "addresses": ["192.168.15.1/24", "fd15::1/64"],
         "peer": "veth-blue", "peer_netns": "blue", "peer_addresses": ["192.168.15.2/24", "fd15::2/64"]}


def test_lifecycle_and_traffic(host):
    host.run("ip netns add red && ip netns add blue")
    play = host.play(lifecycle("veth", CABLE, absent={"name": "veth-red", "netns": "red"}))
    assert play.rc == 0, play.stdout
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    snap = snapshots(play.results)
    assert snap["after check"].link("red", "veth-red") is None
    after = snap["after real"]
    assert after.kind("red", "veth-red") == "veth" and after.kind("blue", "veth-blue") == "veth"
    assert after.link(None, "veth-red") is None and after.link(None, "veth-blue") is None
    assert after.addresses("red", "veth-red") == ["192.168.15.1/24", "fd15::1/64"]
    assert after.addresses("blue", "veth-blue") == ["192.168.15.2/24", "fd15::2/64"]
    assert after.is_up("red", "veth-red") and after.is_up("blue", "veth-blue")
    gone = snap["after absent"]
    assert gone.link("red", "veth-red") is None and gone.link("blue", "veth-blue") is None


def test_red_talks_to_blue_over_the_cable(host):
    host.run("ip netns add red && ip netns add blue")
    play = host.play([task("veth", CABLE)])
    assert play.rc == 0, play.stdout
    assert host.tcp_ok("blue", "192.168.15.2", 8080, client_ns="red")
    assert host.tcp_ok("red", "fd15::1", 8080, client_ns="blue")
    assert not host.tcp_ok("blue", "192.168.15.2", 8080, client_ns=None)  # the host has no leg there


def test_addresses_are_the_whole_set_and_mtu_is_managed(host):
    host.run("ip netns add red")
    first = dict(CABLE, peer_netns=None, peer_addresses=None, netns="red")
    second = dict(first, addresses=["192.168.15.9/24"], mtu=1400)
    play = host.play([task("veth", first, "first"), task("veth", second, "second")])
    assert [r["changed"] for r in play.results] == [True, True]
    assert play.results[1]["actions"] == [
        "veth 'veth-red' (netns red): remove address 192.168.15.1/24",
        "veth 'veth-red' (netns red): remove address fd15::1/64",
        "veth 'veth-red' (netns red): add address 192.168.15.9/24",
        "veth 'veth-red' (netns red): set mtu 1400",
        "veth 'veth-blue' (host): set mtu 1400",
    ]
    link = host.ip("-n red addr show dev veth-red")[0]
    assert link["mtu"] == 1400
    assert [a["local"] for a in link["addr_info"] if a["scope"] == "global"] == ["192.168.15.9"]


def test_end_moved_by_hand_is_recreated_as_declared(host):
    host.run("ip netns add red && ip netns add blue && ip netns add green")
    assert host.play([task("veth", CABLE)]).rc == 0
    host.run("ip -n blue link set veth-blue netns green")
    play = host.play([task("veth", CABLE, "converge"), task("veth", CABLE, "again")])
    assert play.results[0]["actions"][0] == "veth 'veth-red' (netns red): delete (not paired as declared)"
    assert play.results[1]["changed"] is False
    assert host.ip("-n green link show type veth") == []
    assert host.tcp_ok("blue", "192.168.15.2", 8080, client_ns="red")


def test_existing_link_of_another_kind_fails_clearly(host):
    host.run("ip link add name v-net-0 type bridge")
    play = host.play([task("veth", {"name": "v-net-0", "peer": "x"})])
    assert play.results[0]["failed"]
    assert play.results[0]["msg"] == "name: 'v-net-0' exists in the host namespace as a bridge, not a veth"
