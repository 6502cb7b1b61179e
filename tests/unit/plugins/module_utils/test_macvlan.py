"""macvlan and ipvlan: validation, planning on plain data, and pyroute2's decoding of what the kernel sends."""

from __future__ import annotations

import pytest

from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from ansible_collections.netfabric.netns.plugins.module_utils import rtnl
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.guard import Connection
from ansible_collections.netfabric.netns.plugins.module_utils.link_kinds import lower_data
from ansible_collections.netfabric.netns.plugins.module_utils.model import Namespace
from ansible_collections.netfabric.netns.plugins.module_utils.model_macvlan import Ipvlan, Macvlan
from ansible_collections.netfabric.netns.plugins.module_utils.observed import MARK, Link, RouteEntry
from ansible_collections.netfabric.netns.plugins.module_utils.planner import Planner

from test_planner import FakeReader, texts


class Reader(FakeReader):
    """FakeReader with a kernel that has the drivers in ``kinds``; the host is known to other
    namespaces by the id 0."""

    def __init__(self, namespaces, kinds=("macvlan", "ipvlan"), **kwargs):
        super().__init__(namespaces, **kwargs)
        self.kinds = kinds

    def kind_missing(self, kind):
        return kind not in self.kinds

    def netns_by_nsid(self, name, nsid):
        return None if nsid == 0 else "?"


HOST = [Link("lo", 1, up=True, mtu=65536), Link("eth0", 2, up=True, addresses=["10.20.0.1/24"]),
        Link("eth1", 3, up=True, mtu=9000)]


def plan(resources, namespaces, check_mode=False, protected=(), **reader):
    connection = Connection(local=tuple(protected)) if protected else None
    planner = Planner(Reader(namespaces, **reader), check_mode, connection)
    return planner.plan_resources([cls.from_params(p) for cls, p in resources])


def m1(**kwargs):
    return Link("m1", 7, kind="macvlan", peer_index=2, peer_nsid=0, up=True, mode="bridge", alias=MARK, ours=True,
                mac="02:00:00:00:00:51", addresses=["10.20.0.50/24"], **kwargs)


def base(**extra):
    return dict({"name": "m1", "netns": "red", "parent": "eth0", "addresses": ["10.20.0.50/24"]}, **extra)


def test_a_macvlan_is_created_in_its_namespace_from_scratch():
    result = plan([(Namespace, {"name": "red"}), (Macvlan, base(mac="02:00:00:00:00:51"))], {None: list(HOST)})
    assert texts(result)[2:] == [
        "macvlan 'm1' (netns red): create on 'eth0', mode bridge, mac 02:00:00:00:00:51",
        "macvlan 'm1' (netns red): add address 10.20.0.50/24",
        "macvlan 'm1' (netns red): set up"]
    create = result.actions[2]
    assert (create.op, create.netns, create.args["parent"], create.args["kind"]) == \
        ("link_add_on_parent", "red", "eth0", "macvlan")
    assert result.diffs[1][1]["parent"] == "eth0"


def test_converged_plans_nothing():
    result = plan([(Macvlan, base())], {None: list(HOST), "red": [Link("lo", 1, up=True), m1()]})
    assert texts(result) == []
    assert result.diffs[0][0] == result.diffs[0][1]
    assert result.diffs[0][1]["parent"] == "eth0" and result.diffs[0][1]["mode"] == "bridge"


@pytest.mark.parametrize("change, why", [({"mode": "private"}, "mode"), ({"parent": "eth1"}, "parent"),
                                         ({"mac": "02:00:00:00:00:52"}, "mac")])
def test_a_new_parent_mode_or_mac_recreates(change, why):
    result = plan([(Macvlan, base(**change))], {None: list(HOST), "red": [m1()]})
    assert texts(result)[0] == f"macvlan 'm1' (netns red): delete ({why} changed)"
    assert texts(result)[1].startswith("macvlan 'm1' (netns red): create on")


def test_one_we_did_not_make_is_not_recreated():
    theirs = m1()
    theirs.ours, theirs.alias = False, None
    with pytest.raises(ValidationError, match=r"^mode: macvlan 'm1' \(netns red\) exists with another mode, and "
                                              r"netfabric.netns did not create it"):
        plan([(Macvlan, base(mode="vepa"))], {None: list(HOST), "red": [theirs]})


def test_bad_parents_and_mtus_fail_before_any_change():
    red = [Link("lo", 1), Link("veth-x", 4, kind="veth")]
    with pytest.raises(ValidationError, match=r"^parent: parent interface 'eth9' does not exist in the host namespace"):
        plan([(Macvlan, base(parent="eth9"))], {None: list(HOST), "red": red})
    with pytest.raises(ValidationError, match=r"^parent: 'veth-x' is in netns 'red': the parent of a macvlan must be"):
        plan([(Macvlan, base(parent="veth-x"))], {None: list(HOST), "red": red})
    with pytest.raises(ValidationError, match=r"^mtu: 9000 is above the MTU of its parent 'eth0' \(1500\)"):
        plan([(Macvlan, base(mtu=9000))], {None: list(HOST), "red": red})
    with pytest.raises(ValidationError, match=r"^name: 'veth-x' exists in netns 'red' as a veth, not a macvlan"):
        plan([(Macvlan, base(name="veth-x"))], {None: list(HOST), "red": red})


def test_a_kernel_without_the_driver_fails_before_any_change():
    with pytest.raises(ValidationError, match=r"^ipvlan 'i1' \(netns red\): this kernel has no ipvlan driver .* "
                                              r"nothing was changed"):
        plan([(Ipvlan, dict(base(), name="i1"))], {None: list(HOST), "red": [Link("lo", 1)]}, kinds=("macvlan",))


def test_passthru_on_the_connections_interface_is_refused_without_force():
    with pytest.raises(ValidationError, match=r"^mode: refusing to put a passthru macvlan on 'eth0' in the host namespace"):
        plan([(Macvlan, base(mode="passthru"))], {None: list(HOST), "red": []}, protected=["10.20.0.1"])
    result = plan([(Macvlan, base(mode="passthru", force=True))], {None: list(HOST), "red": []}, protected=["10.20.0.1"])
    assert texts(result)[0] == "macvlan 'm1' (netns red): create on 'eth0', mode passthru"


def test_shim_routes_follow_the_addresses():
    host = list(HOST) + [Link("mvshim", 9, kind="macvlan", peer_index=2, mode="bridge", up=True, ours=True, alias=MARK,
                              addresses=["10.20.0.60/32"])]
    routes = {None: [RouteEntry("10.20.0.50/32", dev="mvshim", scope=253, metric=0)]}
    result = plan([(Macvlan, base(shim="mvshim", addresses=["10.20.0.51/24"]))], {None: host, "red": [m1()]},
                  routes=routes)
    assert texts(result) == ["macvlan 'm1' (netns red): remove address 10.20.0.50/24",
                             "macvlan 'm1' (netns red): add address 10.20.0.51/24",
                             "route 10.20.0.50/32 (host): delete dev mvshim",
                             "route 10.20.0.51/32 (host): add dev mvshim"]
    gone = plan([(Macvlan, base(shim="mvshim", state="absent"))], {None: host, "red": [m1()]}, routes=routes)
    assert texts(gone) == ["route 10.20.0.50/32 (host): delete dev mvshim", "macvlan 'm1' (netns red): delete"]


@pytest.mark.parametrize("params, error", [
    ({"mode": "bridged"}, r"^mode: must be one of bridge, vepa, private, passthru, got 'bridged'"),
    ({"mac": "02:00:00:00:00"}, r"^mac: '02:00:00:00:00' is not a MAC address"),
    ({"mac": "03:00:00:00:00:01"}, r"^mac: '03:00:00:00:00:01' is not a unicast address"),
    ({"parent": None}, r"parent"),
    ({"shim": "mvshim", "mode": "vepa"}, r"^shim: needs mode bridge"),
    ({"shim": "mvshim", "netns": None}, r"^shim: is for a macvlan in a namespace"),
])
def test_inputs_are_checked(params, error):
    with pytest.raises(ValidationError, match=error):
        Macvlan.from_params(base(**params))


def test_ipvlan_defaults_and_flags():
    ipvlan = Ipvlan.from_params(dict(base(), name="i1"))
    assert (ipvlan.mode, ipvlan.flags, ipvlan.kind) == ("l2", "bridge", "ipvlan")
    with pytest.raises(ValidationError, match=r"^flags: must be one of bridge, private, vepa, got 'open'"):
        Ipvlan.from_params(dict(base(), flags="open"))


@pytest.mark.parametrize("kind, data, expected", [
    ("macvlan", lower_data("macvlan", "vepa"), {"mode": "vepa", "flags": None}),
    ("ipvlan", lower_data("ipvlan", "l3s", "vepa"), {"mode": "l3s", "flags": "vepa"}),
])
def test_link_fields_read_the_mode_and_flags_back(kind, data, expected):
    """A link message as the kernel sends it, encoded and decoded by pyroute2's classes."""
    msg = ifinfmsg()
    msg["index"] = 7
    msg["attrs"] = [("IFLA_IFNAME", "x1"), ("IFLA_MTU", 1500), ("IFLA_LINK", 2), ("IFLA_ADDRESS", "02:00:00:00:00:51"),
                    ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", kind), ("IFLA_INFO_DATA", {"attrs": data})]})]
    msg.encode()
    decoded = ifinfmsg(msg.data)
    decoded.decode()
    fields = rtnl.link_fields(decoded)
    assert {key: fields[key] for key in ("mode", "flags")} == expected
    assert (fields["peer_index"], fields["mac"]) == (2, "02:00:00:00:00:51")
