"""Planning on plain data: observed state in, ordered actions out."""

from __future__ import annotations

import pytest

from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.guard import Connection
from ansible_collections.netfabric.netns.plugins.module_utils.model import (
    AddressSet, Bridge, BridgePort, Namespace, Route, Veth)
from ansible_collections.netfabric.netns.plugins.module_utils.observed import MARK, Link, NetnsState, RouteEntry
from ansible_collections.netfabric.netns.plugins.module_utils.planner import Planner


class FakeReader:
    """Observed state given as plain data; counts reads so tests can check there is one per namespace."""

    def __init__(self, namespaces, routes=None, sysctls=None):
        self.namespaces = namespaces  # name -> list of Link
        self.routes = routes or {}
        self.sysctls = sysctls or {}
        self.reads = []

    def netns_stale(self, name):
        return False

    def netns_exists(self, name):
        return name in self.namespaces

    def read(self, name):
        self.reads.append(name)
        return NetnsState(name, links={link.name: link for link in self.namespaces[name]})

    def read_routes(self, name, table=None):
        return [entry for entry in self.routes.get(name, []) if table is None or entry.table == table]

    def read_sysctl(self, name, key):
        return self.sysctls.get((name, key))

    def read_nft(self, name):
        return [], []


def plan(resources, namespaces, check_mode=False, protected=(), **reader):
    connection = Connection(local=tuple(protected)) if protected else None
    planner = Planner(FakeReader(namespaces, **reader), check_mode, connection)
    return planner.plan_resources([cls.from_params(p) for cls, p in resources])


def texts(result):
    return [action.text for action in result.actions]


HOST = [Link("lo", 1, up=True, mtu=65536), Link("eth0", 2, up=True, addresses=["192.168.1.12/24"])]


def test_classic_bridge_walkthrough_from_scratch_in_dependency_order():
    result = plan([
        (Namespace, {"name": "red"}),
        (Bridge, {"name": "v-net-0", "addresses": ["192.168.15.5/24"]}),
        (Veth, {"name": "veth-red", "netns": "red", "addresses": ["192.168.15.1/24"],
                "peer": "veth-red-br", "peer_bridge": "v-net-0"}),
        (Route, {"netns": "red", "dst": "default", "gateway": "192.168.15.5"}),
    ], {None: list(HOST)})
    assert texts(result) == [
        "namespace 'red': create",
        "namespace 'red': set loopback up",
        "bridge 'v-net-0' (host): create",
        "bridge 'v-net-0' (host): add address 192.168.15.5/24",
        "bridge 'v-net-0' (host): set up",
        "veth 'veth-red' (netns red): create with peer 'veth-red-br' (host), 'veth-red-br' up on bridge 'v-net-0'",
        "veth 'veth-red' (netns red): add address 192.168.15.1/24",
        "veth 'veth-red' (netns red): set up",
        "route default (netns red): add via 192.168.15.5",
    ]


def test_converged_state_plans_nothing_and_reads_each_namespace_once():
    red = [Link("lo", 1, up=True),
           Link("veth-red", 2, kind="veth", peer_index=5, peer_nsid=0, up=True,
                addresses=["192.168.15.1/24", "fe80::1/64"])]
    host = list(HOST) + [Link("v-net-0", 4, kind="bridge", up=True, addresses=["192.168.15.5/24"], stp=False),
                         Link("veth-red-br", 5, kind="veth", peer_index=2, peer_nsid=1, up=True, master="v-net-0")]
    reader = FakeReader({None: host, "red": red},
                        routes={"red": [RouteEntry("0.0.0.0/0", gateway="192.168.15.5", dev="veth-red", metric=0)]})
    planner = Planner(reader)
    result = planner.plan_resources([
        Bridge.from_params({"name": "v-net-0", "addresses": ["192.168.15.5/24"]}),
        Veth.from_params({"name": "veth-red", "netns": "red", "addresses": ["192.168.15.1/24"],
                          "peer": "veth-red-br", "peer_bridge": "v-net-0"}),
        Route.from_params({"netns": "red", "dst": "default", "gateway": "192.168.15.5"}),
        Namespace.from_params({"name": "red"}),
    ])
    assert texts(result) == []
    assert sorted(reader.reads, key=str) == [None, "red"]


def test_addresses_are_the_whole_set_on_owned_links_but_link_local_stays():
    host = list(HOST) + [Link("v-net-0", 4, kind="bridge", up=True,
                              addresses=["192.168.15.5/24", "10.9.9.9/24", "fe80::5/64"])]
    result = plan([(Bridge, {"name": "v-net-0", "addresses": ["192.168.15.5/24"]})], {None: host})
    assert texts(result) == ["bridge 'v-net-0' (host): remove address 10.9.9.9/24"]
    assert result.diffs[0][1]["addresses"] == ["192.168.15.5/24", "fe80::5/64"]


def test_netns_address_only_adds_and_removes_what_is_listed():
    result = plan([(AddressSet, {"interface": "eth0", "addresses": ["192.168.1.13/24", "192.168.1.12/24"]})],
                  {None: list(HOST)})
    assert texts(result) == ["interface 'eth0' (host): add address 192.168.1.13/24"]
    result = plan([(AddressSet, {"interface": "eth0", "addresses": ["192.168.1.99/24"], "state": "absent"})],
                  {None: list(HOST)})
    assert texts(result) == []


def test_link_of_another_kind_fails_clearly():
    with pytest.raises(ValidationError, match="name: 'eth0' exists in the host namespace as a device, not a bridge"):
        plan([(Bridge, {"name": "eth0"})], {None: list(HOST)})
    with pytest.raises(ValidationError, match="name: 'eth0' exists in the host namespace as a device, not a veth"):
        plan([(Veth, {"name": "eth0", "state": "absent"})], {None: list(HOST)})


def test_missing_references_fail_in_a_real_run_and_warn_in_check_mode():
    with pytest.raises(ValidationError, match="netns: namespace 'lab9' does not exist"):
        plan([(Veth, {"name": "a", "peer": "b", "netns": "lab9"})], {None: list(HOST)})
    with pytest.raises(ValidationError, match="bridge: bridge 'v-net-0' does not exist in the host namespace"):
        plan([(BridgePort, {"bridge": "v-net-0", "port": "eth0"})], {None: list(HOST)})
    result = plan([(Veth, {"name": "a", "peer": "b", "netns": "lab9"})], {None: list(HOST)}, check_mode=True)
    assert result.warnings == ["netns: namespace 'lab9' does not exist; check mode assumes an earlier task creates it"]
    assert texts(result)[:2] == ["veth 'a' (netns lab9): create with peer 'b' (host), 'a' up",
                                 "veth 'b' (host): set up"]


def test_absent_of_what_is_gone_is_not_a_change():
    namespaces = {None: list(HOST)}
    for resource in [(Namespace, {"name": "red", "state": "absent"}),
                     (Veth, {"name": "x", "netns": "gone", "state": "absent"}),
                     (Bridge, {"name": "v-net-0", "state": "absent"}),
                     (BridgePort, {"bridge": "v-net-0", "port": "eth0", "state": "absent"}),
                     (Route, {"dst": "default", "netns": "gone", "state": "absent"})]:
        assert texts(plan([resource], namespaces)) == []


def test_veth_paired_elsewhere_is_replaced_when_the_collection_made_it():
    # veth-red is in red but its peer is not veth-red-br in the host: recreate the declared pair.
    red = [Link("veth-red", 2, kind="veth", peer_index=9, peer_nsid=0, up=True, alias=MARK, ours=True)]
    result = plan([(Veth, {"name": "veth-red", "netns": "red", "peer": "veth-red-br"})],
                  {None: list(HOST), "red": red})
    assert texts(result)[:2] == ["veth 'veth-red' (netns red): delete (not paired as declared)",
                                 "veth 'veth-red' (netns red): create with peer 'veth-red-br' (host), 'veth-red' up"]


def test_a_veth_the_collection_did_not_make_is_never_replaced():
    """An LXD guest's eth0 is a veth whose peer is outside: declaring it as a peer is an error."""
    host = list(HOST[:1]) + [Link("eth0", 2, kind="veth", peer_index=7, peer_nsid=0, up=True)]
    with pytest.raises(ValidationError, match="peer: 'eth0' exists in the host namespace as a veth that is not "
                                              "paired with 'v1' as declared, and netfabric.netns did not create it"):
        plan([(Veth, {"name": "v1", "peer": "eth0"})], {None: host})
    assert texts(plan([(Veth, {"name": "v1", "peer": "eth0", "force": True})], {None: host}))[0] == \
        "veth 'eth0' (host): delete (not paired as declared)"


def test_absent_deletes_only_what_the_collection_made():
    host = list(HOST) + [Link("br-pre", 4, kind="bridge", up=True, addresses=["10.7.0.1/24", "10.7.1.1/24"]),
                         Link("br-ours", 5, kind="bridge", up=True, alias=MARK, ours=True)]
    result = plan([(Bridge, {"name": "br-pre", "addresses": ["10.7.0.1/24"], "state": "absent"}),
                   (Bridge, {"name": "br-ours", "state": "absent"})], {None: host})
    assert texts(result) == ["bridge 'br-pre' (host): remove address 10.7.0.1/24", "bridge 'br-ours' (host): delete"]
    assert any("'br-pre' in the host namespace was not created by netfabric.netns: left in place" in warning
               for warning in result.warnings)


def test_a_link_an_interrupted_run_made_is_marked_first():
    red = [Link("veth-red", 2, kind="veth", peer_index=9, peer_nsid=0, up=True, ours=True)]  # journal, no alias
    result = plan([(Namespace, {"name": "red"})], {None: list(HOST), "red": red})
    assert texts(result) == ["veth 'veth-red' (netns red): mark as created by netfabric.netns "
                             "(a run was interrupted after creating it)"]


def test_the_connection_interface_is_never_enslaved_without_force():
    host = list(HOST) + [Link("v-net-0", 4, kind="bridge", up=True)]
    bridge_port = (BridgePort, {"bridge": "v-net-0", "port": "eth0"})
    with pytest.raises(ValidationError, match="refusing to enslave 'eth0' .* connection address 192.168.1.12"):
        plan([bridge_port], {None: host}, protected=["192.168.1.12"])
    forced = (BridgePort, {"bridge": "v-net-0", "port": "eth0", "force": True})
    assert texts(plan([forced], {None: host}, protected=["192.168.1.12"])) == [
        "bridge 'v-net-0' (host): enslave 'eth0'"]


def test_route_with_another_gateway_is_replaced_keeping_its_metric():
    routes = {None: [RouteEntry("0.0.0.0/0", gateway="192.168.1.1", dev="eth0", metric=100)]}
    planner = Planner(FakeReader({None: list(HOST)}, routes=routes))
    result = planner.plan_resources([Route.from_params({"dst": "default", "gateway": "192.168.1.254"})])
    assert [(a.op, a.args["metric"]) for a in result.actions] == [("route_replace", 100)]


def test_sysctls_change_only_when_different():
    reader = {"sysctls": {("red", "net.ipv4.ip_forward"): "1", ("red", "net.ipv6.conf.all.forwarding"): "0"}}
    result = plan([(Namespace, {"name": "red", "forwarding": True, "loopback": None})],
                  {"red": [Link("lo", 1, up=False)]}, **reader)
    assert texts(result) == ["namespace 'red': set net.ipv6.conf.all.forwarding=1"]


def test_unknown_sysctl_is_an_error_before_any_change():
    with pytest.raises(ValidationError, match="sysctls: 'net.ipv4.nope' does not exist in netns 'red'"):
        plan([(Namespace, {"name": "red", "sysctls": {"net.ipv4.nope": 1}})], {"red": [Link("lo", 1, up=True)]})


class Recorded:
    """hostfiles.Settings in memory."""

    def __init__(self):
        from ansible_collections.netfabric.netns.plugins.module_utils.hostfiles import Settings
        self.inner = Settings("/nonexistent-netfabric-test")

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_fit_ports_lowers_both_ends_of_the_bridges_veths_and_gives_them_back():
    from ansible_collections.netfabric.netns.plugins.module_utils.model import Vxlan
    host = list(HOST) + [Link("br0", 4, kind="bridge", up=True, mtu=1500, alias=MARK, ours=True),
                         Link("v-red-br", 5, kind="veth", master="br0", peer_index=2, peer_nsid=0, mtu=1500, up=True),
                         Link("vx42", 6, kind="vxlan", master="br0", mtu=1450, vni=42, dstport=4789, alias=MARK,
                              ours=True, remotes=[], up=True)]
    red = [Link("lo", 1, up=True, mtu=65536), Link("eth0", 2, kind="veth", peer_index=5, peer_nsid=0, mtu=1500)]
    reader = FakeReader({None: host, "red": red})
    reader.netns_by_nsid = lambda name, nsid: "red"
    settings = Recorded()
    planner = Planner(reader, settings=settings)
    vxlan = {"name": "vx42", "vni": 42, "bridge": "br0", "mtu": 1450, "fit_ports": True}
    result = planner.plan_resources([Vxlan.from_params(vxlan)])
    assert texts(result) == ["veth 'v-red-br' (host): set mtu 1450 (to fit vxlan 'vx42' on bridge 'br0')",
                             "veth 'eth0' (netns red): set mtu 1450 (to fit vxlan 'vx42' on bridge 'br0')"]
    assert settings.entries == {"": {"mtu v-red-br": {"restore": "1500", "set": "1450", "users": ["vxlan vx42"]}},
                                "red": {"mtu eth0": {"restore": "1500", "set": "1450", "users": ["vxlan vx42"]}}}
    host[4].mtu = red[1].mtu = 1450  # as the apply left them
    gone = Planner(FakeReader({None: host, "red": red}), settings=settings)
    result = gone.plan_resources([Vxlan.from_params(dict(vxlan, state="absent"))])
    assert texts(result)[1:] == ["veth 'v-red-br' (host): set mtu 1500 (as before vxlan 'vx42' lowered it)",
                                 "veth 'eth0' (netns red): set mtu 1500 (as before vxlan 'vx42' lowered it)"]
    assert settings.entries == {"": {}, "red": {}}
