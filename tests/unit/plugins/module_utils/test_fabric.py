"""The fabric role's computations (module_utils/fabric.py, the filters of plugins/filter/fabric.py)."""

from __future__ import annotations

import pytest

from ansible_collections.netfabric.netns.plugins.module_utils import fabric

INFO = {"host": {"links": [
    {"name": "lo", "mtu": 65536, "addresses": ["127.0.0.1/8"]},
    {"name": "eth0", "mtu": 9000, "addresses": ["10.10.0.11/24", "fd10::11/64"]},
    {"name": "eth1", "mtu": 1500, "addresses": []},
]}}
TOPOLOGY = {"bridges": [{"name": "br-red", "addresses": ["10.1.1.1/24", "fd01::1/64"]},
                        {"name": "br-in", "netns": "inner", "addresses": ["10.9.9.1/24"]},
                        {"name": "br-old", "addresses": ["10.1.9.1/24"], "state": "absent"},
                        {"name": "br-blue", "addresses": ["10.1.2.1/24"]}]}


def test_host_facts_from_the_interface_or_the_default_address():
    assert fabric.host_facts(INFO, TOPOLOGY, "h1", interface="eth0") == {
        "host": "h1", "address": "10.10.0.11", "mtu": 9000, "subnets": ["10.1.1.0/24", "10.1.2.0/24"]}
    facts = fabric.host_facts(INFO, TOPOLOGY, "h1", default_ipv4="10.10.0.11")
    assert facts["mtu"] == 9000 and facts["address"] == "10.10.0.11"  # the link that carries it
    ipv6 = fabric.host_facts(INFO, TOPOLOGY, "h1", address="fd10::11")
    assert ipv6["subnets"] == ["fd01::/64"]
    assert fabric.host_facts(INFO, TOPOLOGY, "h1", address="10.10.0.11", subnets=["10.7.0.0/16"])["subnets"] == \
        ["10.7.0.0/16"]


def test_no_underlay_address_names_what_to_set():
    with pytest.raises(fabric.FabricError, match=r"no underlay address: set netns_fabric_address, or "
                                                 r"netns_fabric_interface .* \(eth1 has none\)"):
        fabric.host_facts(INFO, TOPOLOGY, "h1", interface="eth1")


def me(host="h1", address="10.10.0.11", subnets=("10.1.1.0/24",), mtu=1500):
    return {"host": host, "address": address, "mtu": mtu, "subnets": list(subnets)}


def test_peers_are_the_other_members_with_facts_of_this_run_or_of_the_last():
    facts = {"h2": me("h2", "10.10.0.12", ["10.2.1.0/24"]), "h1": me()}
    known = {"h3": me("h3", "10.10.0.13", ["10.3.1.0/24"]), "h2": me("h2", "10.10.0.99", [])}
    peers = fabric.peers("h1", ["h1", "h2", "h3", "h4"], facts.get, known)
    assert peers == {"h2": facts["h2"], "h3": known["h3"]}  # h4: nothing known, left out


def test_routed_routes_every_peer_subnet_and_exempts_every_fabric_subnet():
    peers = {"h3": me("h3", "10.10.0.13", ["10.3.1.0/24"]), "h2": me("h2", "10.10.0.12", ["10.2.1.0/24", "10.2.2.0/24"])}
    topology = fabric.routed_topology(me(), peers)
    assert topology == {
        "forwarding": True,
        "routes": [{"dst": "10.2.1.0/24", "gateway": "10.10.0.12"}, {"dst": "10.2.2.0/24", "gateway": "10.10.0.12"},
                   {"dst": "10.3.1.0/24", "gateway": "10.10.0.13"}],
        "nat_exemptions": [{"destination": "10.1.1.0/24"}, {"destination": "10.2.1.0/24"},
                           {"destination": "10.2.2.0/24"}, {"destination": "10.3.1.0/24"}]}


def test_routed_refuses_a_subnet_exported_twice():
    with pytest.raises(fabric.FabricError, match="subnet 10.1.1.0/24 is exported by both h1 and h2"):
        fabric.routed_topology(me(), {"h2": me("h2", "10.10.0.12")})


def test_vxlan_device_with_every_peer_fitting_the_bridge_to_its_mtu():
    peers = {"h2": me("h2", "10.10.0.12"), "h3": me("h3", "10.10.0.13")}
    topology = fabric.vxlan_topology(me(mtu=1500), peers, {}, vni=42, bridge="br-vx", interface="eth0")
    assert topology == {"bridges": [{"name": "br-vx", "mtu": 1450}], "vxlans": [{
        "name": "vxf42", "vni": 42, "local": "10.10.0.11", "remotes": ["10.10.0.12", "10.10.0.13"], "dstport": 4789,
        "bridge": "br-vx", "mtu": 1450, "fit_ports": True, "dev": "eth0"}]}
    ipv6 = fabric.vxlan_topology(me(address="fd10::11", mtu=9000), {}, {"bridges": [{"name": "br-vx"}]}, vni=7,
                                 bridge="br-vx", dstport=8472)
    assert ipv6["bridges"] == [] and ipv6["vxlans"][0]["mtu"] == 8930 and ipv6["vxlans"][0]["dstport"] == 8472
    assert fabric.vxlan_topology(me(), {}, {}, vni=7, bridge="br-vx", mtu=1400)["vxlans"][0]["mtu"] == 1400


def test_vxlan_refuses_a_declared_mtu_above_its_own_and_leaves_unmanaged_ones_to_fit():
    declared = {"bridges": [{"name": "br-vx", "mtu": 1500}],
                "veths": [{"name": "veth-a", "netns": "a", "peer": "veth-a-br", "peer_bridge": "br-vx", "mtu": 9000},
                          {"name": "veth-b", "netns": "b", "peer": "veth-b-br", "peer_bridge": "br-vx"},
                          {"name": "veth-c", "netns": "c", "peer": "veth-c-br", "peer_bridge": "br-vx", "mtu": 1400}]}
    with pytest.raises(fabric.FabricError, match=r"the bridge itself \(mtu 1500\), veth veth-a \(mtu 9000\) on br-vx: "
                                                 r"MTU above 1450 in netns_topology"):
        fabric.vxlan_topology(me(), {}, declared, vni=42, bridge="br-vx")
    declared["bridges"][0]["mtu"] = 1450
    declared["veths"][0]["mtu"] = 1450
    assert fabric.vxlan_topology(me(), {}, declared, vni=42, bridge="br-vx")["vxlans"][0]["fit_ports"] is True


def test_vxlan_needs_its_vni_and_bridge():
    with pytest.raises(fabric.FabricError, match="needs netns_fabric_vni and netns_fabric_bridge"):
        fabric.vxlan_topology(me(), {}, {}, vni=None, bridge="br-vx")
