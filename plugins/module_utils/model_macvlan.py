# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resources of links on a parent interface of the host: macvlan and ipvlan (private to the
collection). Validated like model.py's, before anything on the host is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ansible_collections.netfabric.netns.plugins.module_utils.checks import (
    _required, check_choice, check_cidr_list, check_ifname, check_ipv6_mtu, check_mac, check_mtu, check_netns_name,
    check_state, join)
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError, where
from ansible_collections.netfabric.netns.plugins.module_utils.link_kinds import IPVLAN_FLAGS
from ansible_collections.netfabric.netns.plugins.module_utils.model import Resource


@dataclass(frozen=True, repr=False, eq=False)
class Macvlan(Resource):
    """An interface with its own MAC on a host interface (``parent``), born in its namespace."""

    name: str
    parent: Optional[str] = None
    netns: Optional[str] = None
    mode: str = "bridge"
    flags: Optional[str] = None  # ipvlan only
    addresses: Optional[tuple] = None
    mtu: Optional[int] = None
    mac: Optional[str] = None  # macvlan only
    up: Optional[bool] = True
    shim: Optional[str] = None  # macvlan only: the host's macvlan through which it reaches this one
    state: str = "present"
    force: bool = False

    kind = "macvlan"
    MODES = ("bridge", "vepa", "private", "passthru")  # the first is the default

    @classmethod
    def from_params(cls, p, path=""):
        state = check_state(join(path, "state"), p.get("state") or "present")
        parent = p.get("parent")
        if state == "present":
            parent = _required(p, "parent", path)
        link = cls(
            name=check_ifname(join(path, "name"), _required(p, "name", path)),
            parent=check_ifname(join(path, "parent"), parent) if parent else None,
            netns=check_netns_name(join(path, "netns"), p.get("netns")),
            mode=check_choice(join(path, "mode"), p.get("mode") or cls.MODES[0], cls.MODES),
            flags=cls._flags(p, path),
            addresses=check_cidr_list(join(path, "addresses"), p.get("addresses")),
            mtu=check_mtu(join(path, "mtu"), p.get("mtu")),
            mac=check_mac(join(path, "mac"), p.get("mac")),
            up=p.get("up", True),
            shim=check_ifname(join(path, "shim"), p["shim"]) if p.get("shim") else None,
            state=state,
            force=bool(p.get("force")),
        )
        check_ipv6_mtu(join(path, "mtu"), link.mtu, link.addresses)
        if link.parent is not None and link.parent == link.name and link.netns is None:
            raise ValidationError(join(path, "parent"), f"'{link.parent}' cannot be its own parent")
        if link.shim is not None:
            if link.netns is None:
                raise ValidationError(join(path, "shim"), "is for a macvlan in a namespace: one in the host namespace "
                                                          "is reached by the host directly")
            if link.mode != "bridge":
                raise ValidationError(join(path, "shim"), f"needs mode bridge: in mode {link.mode} the host's shim "
                                                          "cannot reach the macvlan")
        return link

    @classmethod
    def _flags(cls, p, path):
        return None

    @property
    def identity(self):
        return f"{self.kind} {self.name}"

    def describe(self):
        return f"{self.kind} '{self.name}' ({where(self.netns, short=True)})"


@dataclass(frozen=True, repr=False, eq=False)
class Ipvlan(Macvlan):
    """Like a macvlan, sharing the parent's MAC (one MAC per switch port)."""

    kind = "ipvlan"
    MODES = ("l2", "l3", "l3s")

    @classmethod
    def _flags(cls, p, path):
        return check_choice(join(path, "flags"), p.get("flags") or "bridge", tuple(IPVLAN_FLAGS))
