"""Random valid topologies (hypothesis), each applied in a sandbox host:

- check mode's action list equals the real run's;
- what netns_info reads back equals what was declared (namespaces, veth ends with their
  addresses, MTU and bridge, bridges with their addresses, routes, the owners of the rules);
- a second run changes nothing;
- state=absent leaves the host as it was.

``make test`` runs a few examples with a fixed seed; ``make soak`` runs many more, random
(NETFABRIC_PROPERTY_EXAMPLES, NETFABRIC_SOAK=1).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from helpers import task
from test_chaos import snapshot

EXAMPLES = int(os.environ.get("NETFABRIC_PROPERTY_EXAMPLES", "6"))
SOAK = os.environ.get("NETFABRIC_SOAK") == "1"


@st.composite
def topologies(draw):
    ipv6 = draw(st.booleans())
    bridges = []
    for b in range(draw(st.integers(0, 2))):
        bridge = {"name": f"pbr{b}", "addresses": [f"10.9{b}.0.1/24"] + ([f"fd9{b}::1/64"] if ipv6 else [])}
        if draw(st.booleans()):
            bridge["stp"] = draw(st.booleans())
        if draw(st.booleans()):
            bridge["mtu"] = draw(st.sampled_from([1400, 1500, 9000]))
        bridges.append(bridge)
    namespaces, veths, routes = [], [], []
    for i in range(draw(st.integers(1, 4))):
        name = f"p{i}"
        namespaces.append({"name": name, **({"forwarding": True} if draw(st.booleans()) else {})})
        mtu = draw(st.sampled_from([None, 1400, 1500]))
        if bridges and draw(st.booleans()):
            b = draw(st.integers(0, len(bridges) - 1))
            veth = {"name": "eth0", "netns": name, "peer": f"pv{i}", "peer_bridge": f"pbr{b}",
                    "addresses": [f"10.9{b}.0.{10 + i}/24"] + ([f"fd9{b}::{10 + i}/64"] if ipv6 else [])}
            if mtu and mtu <= bridges[b].get("mtu", 1500):
                veth["mtu"] = mtu
            if draw(st.booleans()):
                routes.append({"netns": name, "dst": "default", "gateway": f"10.9{b}.0.1"})
            if ipv6 and draw(st.booleans()):
                routes.append({"netns": name, "dst": "default", "gateway": f"fd9{b}::1"})
        else:  # a cable from the namespace to the host, or to the namespace before it
            other = f"p{i - 1}" if i and draw(st.booleans()) else None
            veth = {"name": f"c{i}", "netns": name, "peer": f"c{i}x", "addresses": [f"10.7{i}.0.1/30"],
                    "peer_addresses": [f"10.7{i}.0.2/30"]}
            if other:
                veth["peer_netns"] = other
            if mtu:
                veth["mtu"] = mtu
            if draw(st.booleans()):
                routes.append({"netns": name, "dst": f"10.6{i}.0.0/16", "gateway": f"10.7{i}.0.2"})
        veths.append(veth)
    topology = {"namespaces": namespaces, "bridges": bridges, "veths": veths, "routes": routes}
    nat = False
    if bridges and draw(st.booleans()):
        topology["masquerade"] = [{"source": "10.90.0.0/24"}]
        nat = True
    if draw(st.booleans()) and any(v.get("peer_bridge") for v in veths):
        nat = True
        target = next(v for v in veths if v.get("peer_bridge"))
        topology["port_forwards"] = [{"port": draw(st.integers(1024, 9000)),
                                      "destination": target["addresses"][0].split("/")[0]}]
    if draw(st.booleans()):
        topology["forwarding"] = True if nat else draw(st.booleans())  # false with NAT is refused
    return topology


def _links(facts, netns):
    scope = facts["result"]["host"] if netns is None else facts["netns"][netns]
    return {link["name"]: link for link in scope["links"]}


def assert_read_back(facts, topology):
    names = {ns["name"] for ns in topology["namespaces"]}
    assert names <= set(facts["namespaces"])
    for bridge in topology["bridges"]:
        link = _links(facts, None)[bridge["name"]]
        assert link["kind"] == "bridge" and sorted(link["addresses"]) == sorted(bridge["addresses"])
        if "mtu" in bridge:
            assert link["mtu"] == bridge["mtu"]
        if "stp" in bridge:
            assert link["stp"] == bridge["stp"]
    for veth in topology["veths"]:
        end = _links(facts, veth["netns"])[veth["name"]]
        peer = _links(facts, veth.get("peer_netns"))[veth["peer"]]
        assert end["kind"] == "veth" and end["peer"] == veth["peer"] and end["peer_netns"] == veth.get("peer_netns")
        assert sorted(end["addresses"]) == sorted(veth["addresses"])
        assert sorted(peer["addresses"]) == sorted(veth.get("peer_addresses", []))
        assert peer["master"] == veth.get("peer_bridge")
        assert end["state"] == "up" and peer["state"] == "up"
        if "mtu" in veth:
            assert end["mtu"] == peer["mtu"] == veth["mtu"]
    for route in topology["routes"]:
        found = [r for r in facts["netns"][route["netns"]]["routes"] if r["dst"] == route["dst"]
                 and r["gateway"] == route["gateway"] and r["table"] == 254]
        assert found, route
    owners = {rule["owner"] for rule in facts["result"]["host"]["rules"]}
    for masq in topology.get("masquerade", []):
        assert f"masquerade {masq['source']} out *" in owners
    for forward in topology.get("port_forwards", []):
        assert f"port_forward tcp * {forward['port']}" in owners


# make test: a fixed set of examples and no shrinking (a failure shows its example; make soak shrinks)
@settings(max_examples=EXAMPLES * (10 if SOAK else 1), deadline=None, derandomize=not SOAK, database=None,
          phases=list(Phase) if SOAK else [Phase.explicit, Phase.generate], print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(topology=topologies())
def test_random_topologies_round_trip(host, topology):
    clean = snapshot(host)
    args = {"topology": topology, "name": "prop"}
    absent = task("netns_topology", dict(args, state="absent"), "absent")
    play = host.play([task("netns_topology", args, "check", check_mode=True),
                      task("netns_topology", args, "real"),
                      task("netns_topology", args, "again"),
                      task("netns_info", {}, "info"),
                      absent])
    try:
        by = {r["task"]: r for r in play.results}
        assert play.rc == 0, play.output[-3000:]
        assert by["check"]["actions"] == by["real"]["actions"], topology
        assert not by["again"]["changed"], (topology, by["again"]["actions"])
        assert_read_back(by["info"], topology)
        assert not by["absent"]["failed"] and snapshot(host) == clean, topology
    finally:
        if snapshot(host) != clean:
            host.play([absent])
