# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Observed kernel state as plain data (private to the collection).

The reader fills these from netlink; unit tests build them by hand; the planner
reads them and, while planning, records what the plan will create, so that
later resources of the same run see it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

MARK = "netfabric.netns"  # the alias the applier gives every link it creates


@dataclass
class Link:
    name: str
    index: Optional[int]  # None: planned by this run, not created yet
    kind: Optional[str] = None  # 'veth', 'bridge', ... None for plain devices (lo, eth0)
    master: Optional[str] = None  # name of the bridge it is attached to
    peer_index: Optional[int] = None  # veth: IFLA_LINK, the peer's index in its namespace
    peer_nsid: Optional[int] = None  # veth: set when the peer lives in another namespace
    mtu: int = 1500
    up: bool = False  # administrative state (IFF_UP)
    addresses: list = field(default_factory=list)  # 'a.b.c.d/len', IPv6 link-local left out
    link_local: list = field(default_factory=list)  # IPv6 link-local addresses (fe80::/10)
    hairpin: Optional[bool] = None  # bridge port only
    isolated: Optional[bool] = None  # bridge port only
    stp: Optional[bool] = None  # bridge only
    vlan_filtering: Optional[bool] = None  # bridge only
    vni: Optional[int] = None  # vxlan only, like the three below
    dstport: Optional[int] = None
    local: Optional[str] = None
    dev_index: Optional[int] = None
    remotes: Optional[list] = None  # all-zero FDB destinations, read on demand
    mode: Optional[str] = None  # macvlan or ipvlan only, like the two below ('bridge', 'l2', ...)
    flags: Optional[str] = None  # ipvlan: 'bridge', 'private' or 'vepa'
    mac: Optional[str] = None
    parent: Optional[str] = None  # macvlan or ipvlan this run creates: its parent's name
    alias: Optional[str] = None  # IFLA_IFALIAS
    ours: bool = False  # created by netfabric.netns (its alias, or a run that was cut short made it)


@dataclass
class RouteEntry:
    dst: str  # '10.1.0.0/16', '0.0.0.0/0', '::/0'
    table: int = 254
    gateway: Optional[str] = None
    dev: Optional[str] = None
    metric: Optional[int] = None
    scope: Optional[int] = None


@dataclass
class NetnsState:
    name: Optional[str]  # None: the host's own namespace
    links: dict = field(default_factory=dict)  # ifname -> Link
    routes: Optional[dict] = None  # routing table -> RouteEntry list, None for every table; read on demand
    sysctls: dict = field(default_factory=dict)  # key -> value, filled on demand
    planned: bool = False  # created by this run (nothing to read in the kernel)
    nft: Optional[object] = None  # nft.Table of the collection's rules, read on demand

    def link_by_index(self, index):
        for link in self.links.values():
            if link.index == index and index is not None:
                return link
        return None
