"""netns_address and netns_route: addresses on foreign interfaces, IPv4 and IPv6 routes."""

from __future__ import annotations

import pytest

from helpers import LIFECYCLE_CHANGES, changed_flags, lifecycle, snapshots, task


def test_address_lifecycle_touches_only_what_is_listed(host):
    host.run("ip link add name uplink type veth peer name uplink-peer && ip addr add 192.168.1.12/24 dev uplink")
    args = {"interface": "uplink", "addresses": ["192.168.1.13/24", "fd01::13/64"]}
    play = host.play(lifecycle("netns_address", args))
    assert play.rc == 0, play.stdout
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    snap = snapshots(play.results)
    assert snap["after check"].addresses(None, "uplink") == ["192.168.1.12/24"]
    assert snap["after real"].addresses(None, "uplink") == ["192.168.1.12/24", "192.168.1.13/24", "fd01::13/64"]
    assert snap["after absent"].addresses(None, "uplink") == ["192.168.1.12/24"]


def blue_on_a_bridge(host):
    host.run("ip netns add blue && ip link add name v-net-0 type bridge && ip link set v-net-0 up"
             " && ip addr add 192.168.15.5/24 dev v-net-0 && ip addr add fd15::5/64 dev v-net-0 nodad"
             " && ip link add name veth-blue-br master v-net-0 type veth peer name veth-blue netns blue"
             " && ip link set veth-blue-br up && ip -n blue link set veth-blue up && ip -n blue link set lo up"
             " && ip -n blue addr add 192.168.15.2/24 dev veth-blue && ip -n blue addr add fd15::2/64 dev veth-blue nodad"
             " && ip link add name lan type veth peer name lan-peer && ip link set lan up"
             " && ip addr add 192.168.1.12/24 dev lan")


@pytest.mark.parametrize("args,dst", [
    ({"netns": "blue", "dst": "default", "gateway": "192.168.15.5"}, "default"),
    ({"netns": "blue", "dst": "default", "gateway": "fd15::5", "metric": 50}, "default"),
    ({"netns": "blue", "dst": "10.20.0.0/16", "dev": "veth-blue", "table": 100}, "10.20.0.0/16"),
])
def test_route_lifecycle(host, args, dst):
    blue_on_a_bridge(host)
    play = host.play(lifecycle("netns_route", args))
    assert play.rc == 0, play.stdout
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    snap = snapshots(play.results)
    family = 6 if ":" in args.get("gateway", "") else 4

    def routes(label):
        return [r for r in snap[label].routes("blue", dst) if (":" in str(r.get("gateway", ""))) == (family == 6)
                and (r.get("table", "main") == "main") == ("table" not in args)]

    assert routes("after check") == []
    [route] = routes("after real")
    assert route.get("gateway") == args.get("gateway")
    if "metric" in args:
        assert route["metric"] == args["metric"]
    assert routes("after absent") == []


def test_blue_reaches_the_lan_through_the_host_route(host):
    """The walkthrough's 'ip route add 192.168.1.0/24 via 192.168.15.5' (host forwarding is not needed:
    192.168.1.12 is the host's own address on the LAN side)."""
    blue_on_a_bridge(host)
    assert not host.tcp_ok(None, "192.168.1.12", 8080, client_ns="blue")
    play = host.play([task("netns_route", {"netns": "blue", "dst": "192.168.1.0/24", "gateway": "192.168.15.5"})])
    assert play.rc == 0, play.stdout
    assert host.tcp_ok(None, "192.168.1.12", 8080, client_ns="blue")


def test_changed_gateway_replaces_the_route_in_place(host):
    blue_on_a_bridge(host)
    host.run("ip -n blue route add default via 192.168.15.5 metric 100")
    play = host.play([task("netns_route", {"netns": "blue", "dst": "default", "gateway": "192.168.15.6"})])
    assert play.results[0]["actions"] == [
        "route default (netns blue): replace via 192.168.15.5 dev veth-blue with via 192.168.15.6"]
    [route] = host.ip("-n blue route show default")
    assert (route["gateway"], route["metric"]) == ("192.168.15.6", 100)


def test_unreachable_gateway_is_refused_by_name_with_the_kernels_words(host):
    blue_on_a_bridge(host)
    play = host.play([task("netns_route", {"netns": "blue", "dst": "default", "gateway": "10.99.0.1"})])
    assert play.results[0]["failed"]
    # what `ip route add default via 10.99.0.1` prints as "Error: Nexthop has invalid gateway."
    assert play.results[0]["msg"] == ("route default (netns blue): cannot add via 10.99.0.1: "
                                      "Nexthop has invalid gateway (ENETUNREACH: the gateway is not on a "
                                      "connected network)")
    assert host.ip("-n blue route show default") == []
