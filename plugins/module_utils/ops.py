# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kinds of action a plan is made of, each declared once, and the registries that tie
them and the resource kinds to their code (private to the collection).

An op names one thing the applier does and the arguments it takes. The planner adds
actions only through these constants (``Planner.add`` refuses an argument the op does not
take), and the applier has exactly one handler per op, registered with ``handles`` next to
its code. Each resource kind has one planning method, registered with ``plans``.
tests/unit/plugins/module_utils/test_ops.py checks that every op has a handler and every
handler an op, and that every resource kind has a planner.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Op:
    name: str
    args: tuple  # always given
    optional: tuple = ()  # may be left out

    def check(self, args):
        """``args`` as the op takes them: a programming error (ValueError) otherwise."""
        missing = [name for name in self.args if name not in args]
        unknown = [name for name in args if name not in self.args and name not in self.optional]
        if missing or unknown:
            raise ValueError(f"action {self.name}: missing {missing}, unknown {unknown}")
        return args


_ROUTE = ("dst", "gateway", "dev", "metric", "table", "family")

NETNS_ADD = Op("netns_add", ("name",))
NETNS_DEL = Op("netns_del", ("name",))
NETNS_FILE = Op("netns_file", ("path", "content"))
LINK_ADD_VETH = Op("link_add_veth", ("name", "peer", "peer_netns"), ("mtu", "up", "master", "from_peer"))
LINK_ADD_BRIDGE = Op("link_add_bridge", ("name",), ("mtu",))
LINK_ADD_VXLAN = Op("link_add_vxlan", ("name", "vni", "dstport"), ("local", "dev", "mtu"))
LINK_ADD_ON_PARENT = Op("link_add_on_parent", ("name", "kind", "parent", "mode"), ("flags", "mac", "mtu"))
LINK_DEL = Op("link_del", ("name",))
LINK_MARK = Op("link_mark", ("name",))
LINK_SET = Op("link_set", ("name",), ("up", "mtu"))
LINK_MASTER = Op("link_master", ("name", "master"))
BRIDGE_SET = Op("bridge_set", ("name",), ("stp", "vlan_filtering"))
BRPORT_SET = Op("brport_set", ("name",), ("hairpin", "isolated"))
FDB_APPEND = Op("fdb_append", ("name", "remote"))
FDB_DEL = Op("fdb_del", ("name", "remote"))
ADDR_ADD = Op("addr_add", ("name", "cidr"))
ADDR_DEL = Op("addr_del", ("name", "cidr"))
ROUTE_ADD = Op("route_add", _ROUTE, ("scope",))
ROUTE_REPLACE = Op("route_replace", _ROUTE, ("scope",))
ROUTE_DEL = Op("route_del", _ROUTE, ("scope",))
SYSCTL_SET = Op("sysctl_set", ("key", "value"))
NFT_RULE = Op("nft_rule", ("rules", "commit"))
CONNTRACK_FLUSH = Op("conntrack_flush", ("protocol", "first", "last"), ("keep",))
# Openings in other tools' rules (coexist.py): a DOCKER-USER rule, an interface's firewalld zone.
DOCKER_RULE = Op("docker_rule", ("command", "binary", "rule"))
FIREWALLD_ZONE = Op("firewalld_zone", ("interface", "zone", "add"))

OPS = {op.name: op for op in globals().values() if isinstance(op, Op)}
CREATES_LINK = (LINK_ADD_VETH.name, LINK_ADD_BRIDGE.name, LINK_ADD_VXLAN.name, LINK_ADD_ON_PARENT.name)

HANDLERS = {}  # op name -> the applier's method for it
PLANNERS = {}  # resource kind -> the planner's method for it


def _registering(registry, key, what):
    def register(func):
        if key in registry:
            raise ValueError(f"{what} {key} has two")
        registry[key] = func
        return func
    return register


def handles(op):
    """Register the decorated applier method as the one handler of ``op``."""
    return _registering(HANDLERS, op.name, "action")


def plans(kind):
    """Register the decorated planner method as the one planner of resources of ``kind``."""
    return _registering(PLANNERS, kind, "resource kind")
