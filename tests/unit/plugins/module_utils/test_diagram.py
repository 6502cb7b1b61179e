"""Diagrams from netns_info facts: what the picture holds, read back by parsing the Mermaid
text and by Graphviz reading the DOT text (dot -Tjson), never by comparing strings."""

from __future__ import annotations

import os
import sys

import pytest

from ansible_collections.netfabric.netns.plugins.module_utils import diagram, nft
from ansible_collections.netfabric.netns.plugins.module_utils.model_rules import Masquerade, PortForward

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "integration"))
from diagrams import parse_dot, parse_mermaid, render_dot  # noqa: E402  pylint: disable=wrong-import-position

HOSTNS = "host namespace"


def link(name, index, kind=None, addresses=(), master=None, state="up", **extra):
    return dict({"name": name, "index": index, "kind": kind, "master": master, "mtu": 1500, "state": state,
                 "addresses": list(addresses)}, **extra)


def rules(*resources):
    out = []
    for resource in resources:
        if isinstance(resource, Masquerade):
            made = nft.masquerade_rules(resource.source, resource.out_interface, resource.identity)
        else:
            made = nft.port_forward_rules(resource, resource.identity, None)
        out += [{"owner": r.comment, "chain": r.chain, "rule": r.text.split(": ", 1)[1]} for r in made]
    return out


def walkthrough():
    """The bridge walkthrough with NAT and a port forward, as netns_info reports it."""
    return {
        "namespaces": ["blue", "empty", "red"],
        "host": {
            "links": [link("lo", 1, addresses=["127.0.0.1/8"]), link("eth0", 2, addresses=["10.0.0.1/24"]),
                      link("v-net-0", 3, "bridge", ["192.168.15.5/24"]),
                      link("veth-red-br", 4, "veth", master="v-net-0", peer="veth-red", peer_netns="red"),
                      link("veth-blue-br", 5, "veth", master="v-net-0", peer="veth-blue", peer_netns="blue")],
            "routes": [{"dst": "default", "family": 4, "gateway": "10.0.0.100", "dev": "eth0", "metric": 0,
                        "table": 254}],
            "rules": rules(Masquerade.from_params({"source": "192.168.15.0/24"}),
                           PortForward.from_params({"port": 8080, "destination": "192.168.15.2",
                                                    "destination_port": 80})),
        },
        "netns": {
            "red": {"links": [link("lo", 1), link("veth-red", 2, "veth", ["192.168.15.1/24"], peer="veth-red-br",
                                                  peer_netns=None)], "routes": [], "rules": []},
            "blue": {"links": [link("lo", 1), link("veth-blue", 2, "veth",
                                                   ["192.168.15.2/24", "fd00::2/64", "fe80::2/64"],
                                                   peer="veth-blue-br", peer_netns=None, state="down")],
                     "routes": [], "rules": []},
            "empty": {"links": [link("lo", 1, state="down")], "routes": [], "rules": []},
        },
    }


def both(data):
    """The picture of the data read back from Mermaid and from DOT; they must agree."""
    graph = diagram.draw(data)
    from_mermaid = parse_mermaid(diagram.mermaid(graph))
    from_dot = parse_dot(diagram.dot(graph))
    assert from_mermaid.same_as(from_dot), from_mermaid.differences(from_dot)
    return from_mermaid


def test_walkthrough_has_every_namespace_interface_address_port_and_cable():
    picture = both(walkthrough())
    assert set(picture.groups) == {(HOSTNS,), ("red",), ("blue",), ("empty",)}
    assert picture.names_in([HOSTNS]) == ["eth0", "v-net-0", "veth-blue-br", "veth-red-br"]
    bridge = {"kind": "bridge", "lines": ["v-net-0", "192.168.15.5/24"], "down": False}
    assert picture.node(HOSTNS, "v-net-0") == bridge
    blue = {"kind": "interface", "down": True, "lines": ["veth-blue", "192.168.15.2/24", "fd00::2/64"]}
    assert picture.node("blue", "veth-blue") == blue
    assert picture.node("empty", "no links")["kind"] == "empty"  # the loopback is not drawn
    assert picture.has((HOSTNS, "veth-red-br"), (HOSTNS, "v-net-0"), "===", None)
    assert picture.has((HOSTNS, "veth-blue-br"), (HOSTNS, "v-net-0"), "===", None)
    assert picture.has((HOSTNS, "veth-red-br"), ("red", "veth-red"), "---", None)
    assert picture.has((HOSTNS, "veth-blue-br"), ("blue", "veth-blue"), "---", None)
    # NAT from the bridge that holds the subnet to the default route's interface, the forward back in
    assert picture.has((HOSTNS, "v-net-0"), (HOSTNS, "eth0"), "-->", "masquerade 192.168.15.0/24")
    assert picture.has((HOSTNS, "eth0"), ("blue", "veth-blue"), "-->", "tcp 8080 \u2192 192.168.15.2:80")
    assert len(picture.edges) == 6


def test_nat_without_uplink_or_holder_draws_outside_and_the_address():
    facts = walkthrough()
    facts["host"]["routes"] = []
    facts["host"]["rules"] = rules(
        Masquerade.from_params({"source": "10.9.0.0/24", "out_interface": "eth0"}),
        Masquerade.from_params({"source": "192.168.15.0/24"}),
        PortForward.from_params({"port": "8000-8010", "destination": "10.9.0.7", "host_address": "10.0.0.1"}),
        PortForward.from_params({"port": 53, "protocol": "udp", "destination": "fd00::2", "in_interface": "eth0"}))
    picture = both(facts)
    assert picture.node(HOSTNS, "outside")["kind"] == "outside"
    assert picture.node(HOSTNS, "10.9.0.0/24")["kind"] == "network"
    assert picture.node(HOSTNS, "10.9.0.7")["kind"] == "network"
    assert picture.has((HOSTNS, "10.9.0.0/24"), (HOSTNS, "eth0"), "-->", "masquerade 10.9.0.0/24")
    assert picture.has((HOSTNS, "v-net-0"), (HOSTNS, "outside"), "-->", "masquerade 192.168.15.0/24")
    assert picture.has((HOSTNS, "outside"), (HOSTNS, "10.9.0.7"), "-->", "tcp 10.0.0.1:8000-8010 \u2192 10.9.0.7")
    assert picture.has((HOSTNS, "eth0"), ("blue", "veth-blue"), "-->", "udp 53 \u2192 [fd00::2]:53")


def test_names_that_look_like_syntax_survive_both_formats():
    odd = 'a"b#c<d>|e`f\\g'
    facts = {"namespaces": ["end", odd], "host": None, "netns": {
        "end": {"links": [link("end", 2, "veth", ["10.1.0.1/24"], peer="x&y", peer_netns=odd)], "rules": []},
        odd: {"links": [link("x&y", 2, "veth", ["10.1.0.2/24"], peer="end", peer_netns="end")], "rules": []}}}
    picture = both(facts)
    assert set(picture.groups) == {("end",), (odd,)}
    assert picture.has(("end", "end"), (odd, "x&y"), "---", None)


def fabric_host(index, mode):
    underlay = f"10.10.0.1{index}"
    others = [f"10.10.0.1{i}" for i in (1, 2, 3) if i != index]
    host_links = [link("lo", 1), link("eth0", 2, addresses=[f"{underlay}/24"]),
                  link("br-red", 3, "bridge", [f"10.{index}.1.1/24"])]
    routes = []
    if mode == "vxlan":
        host_links.append(link("vx-fabric", 4, "vxlan", master="br-red", vni=42, local=underlay, dstport=4789,
                               remotes=others + ["192.0.2.99"]))
    else:
        routes = [{"dst": f"10.{i}.1.0/24", "family": 4, "gateway": f"10.10.0.1{i}", "dev": "eth0", "metric": 0,
                   "table": 254} for i in (1, 2, 3) if i != index]
    return {"namespaces": [], "host": {"links": host_links, "routes": routes, "rules": []}, "netns": {}}


@pytest.mark.parametrize("mode", ["routed", "vxlan"])
def test_fleet_draws_links_between_hosts(mode):
    picture = both({f"host{i}": fabric_host(i, mode) for i in (1, 2, 3)})
    assert {("host1",), ("host1", HOSTNS), ("host2", HOSTNS), ("host3", HOSTNS)} <= set(picture.groups)
    pairs = [(1, 2), (1, 3), (2, 3)]
    if mode == "vxlan":
        for a, b in pairs:
            ends = (f"host{a}", HOSTNS, "vx-fabric"), (f"host{b}", HOSTNS, "vx-fabric")
            assert picture.has(*ends, "-.-", "vxlan 42")
        # a remote that is no host of the fleet stays a remote node, shared by all
        assert picture.node("192.0.2.99")["kind"] == "remote"
        assert sum(1 for e in picture.edges if e[2] == "-.-") == 3 + 3
    else:
        for a, b in pairs + [(b, a) for a, b in pairs]:
            ends = (f"host{a}", HOSTNS, "eth0"), (f"host{b}", HOSTNS, "eth0")
            assert picture.has(*ends, "==>", f"route 10.{b}.1.0/24")


def test_a_single_host_draws_vxlan_remotes_outside():
    picture = both(fabric_host(1, "vxlan"))
    assert {key[0] for key in picture.nodes if picture.nodes[key]["kind"] == "remote"} == {
        "10.10.0.12", "10.10.0.13", "192.0.2.99"}


def test_macvlan_to_its_parent():
    facts = {"namespaces": ["red"], "host": {"links": [link("eth0", 2, addresses=["10.0.0.1/24"])], "rules": []},
             "netns": {"red": {"links": [link("m1", 3, "macvlan", ["10.0.0.50/24"], parent="eth0", parent_netns=None)],
                               "rules": []}}}
    picture = both(facts)
    assert picture.node("red", "m1") == {"kind": "macvlan", "lines": ["m1", "macvlan", "10.0.0.50/24"], "down": False}
    assert picture.has((HOSTNS, "eth0"), ("red", "m1"), "-.-", "macvlan")


def test_bad_input_is_named():
    with pytest.raises(diagram.DiagramError, match="'web1': not a netns_info result"):
        diagram.draw({"web1": {"changed": False}})
    with pytest.raises(diagram.DiagramError, match="got list"):
        diagram.draw([])


def test_dot_renders_svg():
    graph = diagram.draw(walkthrough())
    svg = render_dot(diagram.dot(graph), "svg")
    assert svg.count('<g id="node') == len(graph.nodes) and svg.count('<g id="edge') == len(graph.edges)
