# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Links that sit on a parent interface: macvlan and ipvlan (private to the collection).

Their IFLA_INFO_DATA is built and read with pyroute2's link classes. pyroute2 0.9.7's
``ipvlan`` class knows IFLA_IPVLAN_MODE only, not IFLA_IPVLAN_FLAGS (Linux 4.15): the
subclass below adds it to pyroute2's own attribute map and is registered through
pyroute2's plugin hook (``ifinfmsg.ifinfo.register_link_kind``), so that pyroute2 still
encodes and decodes every attribute.

The applier's handler for the creating action is here too (mixed into kernel.Applier):
the link is born in its namespace, from the parent's (the host's), never moved.
"""

from __future__ import annotations

import errno

from ansible_collections.netfabric.netns.plugins.module_utils import ops

try:
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.ifinfmsg.plugins.ipvlan import ipvlan as _pyroute2_ipvlan

    class ipvlan_data(_pyroute2_ipvlan):  # pylint: disable=invalid-name  # pyroute2's naming
        """pyroute2's ipvlan data with the flags attribute that follows the mode."""

        nla_map = tuple(_pyroute2_ipvlan.nla_map) + (("IFLA_IPVLAN_FLAGS", "uint16"),)

    if "IFLA_IPVLAN_FLAGS" not in dict(_pyroute2_ipvlan.nla_map):  # a newer pyroute2 has its own
        ifinfmsg.ifinfo.register_link_kind(module={"ipvlan": ipvlan_data})
except ImportError:  # common.require_pyroute2 reports it before anything runs
    class NetlinkError(Exception):
        """Stands in for pyroute2's."""

LOWER_KINDS = ("macvlan", "ipvlan")
MACVLAN_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8}  # if_link.h MACVLAN_MODE_*
IPVLAN_MODES = {"l2": 0, "l3": 1, "l3s": 2}  # IPVLAN_MODE_*
IPVLAN_FLAGS = {"bridge": 0, "private": 1, "vepa": 2}  # 0, IPVLAN_F_PRIVATE, IPVLAN_F_VEPA


def lower_data(kind, mode, flags=None):
    """IFLA_INFO_DATA of a new macvlan or ipvlan, as pyroute2 names the attributes."""
    if kind == "macvlan":
        return [("IFLA_MACVLAN_MODE", MACVLAN_MODES[mode])]
    return [("IFLA_IPVLAN_MODE", IPVLAN_MODES[mode]), ("IFLA_IPVLAN_FLAGS", IPVLAN_FLAGS[flags or "bridge"])]


def lower_fields(kind, data):
    """mode (and an ipvlan's flags) of a link read back, by the names the modules use."""
    def get(name):
        return data.get_attr(name) if data is not None else None
    if kind == "macvlan":  # pyroute2 decodes the mode to its name
        return {"mode": get("IFLA_MACVLAN_MODE"), "flags": None}
    return {"mode": _name(IPVLAN_MODES, get("IFLA_IPVLAN_MODE")), "flags": _name(IPVLAN_FLAGS, get("IFLA_IPVLAN_FLAGS"))}


def _name(names, value):
    return next((name for name, number in names.items() if number == value), value)


_MISSING = {}  # kind -> whether the driver is missing: asked once per process


def kind_missing(rtnl, kind):
    """True when this kernel has no driver for ``kind``. The request creates nothing: it has no
    parent (IFLA_LINK), which every driver of such links refuses (EINVAL) after the kernel found
    the driver; without one the kernel answers "Unknown device type" (EOPNOTSUPP) first."""
    if kind not in _MISSING:
        try:
            rtnl.link_add("nf-probe0", kind, data=lower_data(kind, "bridge" if kind == "macvlan" else "l2"))
            rtnl.link_del("nf-probe0")  # not seen on any kernel: created after all, so gone again
            _MISSING[kind] = False
        except NetlinkError as exc:
            _MISSING[kind] = exc.code == errno.EOPNOTSUPP
    return _MISSING[kind]


class LowerLinks:
    """Mixed into kernel.Applier: creating a macvlan or ipvlan."""

    @ops.handles(ops.LINK_ADD_ON_PARENT)
    def do_link_add_on_parent(self, netns, name, kind, parent, mode, flags=None, mac=None, mtu=None):
        """One request in the parent's namespace (the host's) with the target namespace's
        descriptor (IFLA_NET_NS_FD): the link is born there, as ``ip link add link eth0 name m1
        netns red type macvlan`` does."""
        self.ns.rtnl(None).link_add(name, kind, mtu=mtu, data=lower_data(kind, mode, flags),
                                    link=self._index(None, parent), address=mac,
                                    netns_fd=self.ns.fd(netns) if netns is not None else None)
        self._mark(netns, name)
