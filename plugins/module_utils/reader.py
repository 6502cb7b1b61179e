# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel side of the engine: the reader (private to the collection).

It dumps links and addresses once per namespace, routes only where a route is planned,
and reads nftables, Docker's and firewalld's rules and sysctls where the planner asks,
through the namespaces' sockets (namespaces.py, rtnl.py); kernel.py applies.
"""

from __future__ import annotations

import ipaddress
import socket
import time

from ansible_collections.netfabric.netns.plugins.module_utils import docker, firewalld, nft
from ansible_collections.netfabric.netns.plugins.module_utils.checks import sysctl_path
from ansible_collections.netfabric.netns.plugins.module_utils.errors import KernelError, where
from ansible_collections.netfabric.netns.plugins.module_utils.kernel import reason
from ansible_collections.netfabric.netns.plugins.module_utils.link_kinds import kind_missing
from ansible_collections.netfabric.netns.plugins.module_utils.observed import MARK, Link, NetnsState, RouteEntry
from ansible_collections.netfabric.netns.plugins.module_utils.rtnl import (
    RT_SCOPE_LINK, RTN_UNICAST, ZERO_MAC, AnswerError, NetlinkError)

FAMILIES = {socket.AF_INET: 4, socket.AF_INET6: 6}
# A link whose peer sits in a namespace the kernel is removing (right after a teardown) holds
# its name until the kernel's cleanup gets to it: well under a second for 1,000 namespaces here.
HELD_WAIT = 30.0
HELD_POLL = 0.05
# what a link read tells about its kind, bridge and port settings, besides its own fields
LINK_EXTRAS = ("stp", "vlan_filtering", "vni", "dstport", "local", "dev_index", "hairpin", "isolated", "alias", "mode",
               "flags", "mac")


class KernelReader:
    """Observes namespaces through netlink: links and addresses in one pass each.

    A link is the collection's own (``Link.ours``) when it carries the alias MARK, or when
    ``pending`` (the journal of a run cut short between creating it and marking it) names it.
    """

    def __init__(self, namespaces, pending=()):
        self.ns = namespaces
        self.pending = set(pending)  # (netns, ifname)
        self._names = {}  # netns -> {index: ifname}
        self._nsid_names = {}  # netns -> {nsid: name of the namespace it knows by that id}

    def netns_exists(self, name):
        return self.ns.exists(name)

    def netns_stale(self, name):
        return self.ns.stale(name)

    def read(self, name):
        rtnl = self.ns.rtnl(name)
        state = NetnsState(name)
        by_index = {}
        masters = {}
        for fields in _settled_links(rtnl, name):
            link = _link(fields)
            link.ours = link.alias == MARK or (name, link.name) in self.pending
            by_index[link.index] = link
            masters[link.index] = fields["master"]
            state.links[link.name] = link
        for index, link in by_index.items():
            master = by_index.get(masters[index])
            link.master = master.name if master is not None else None
        for index, address, prefixlen, scope in _answered(rtnl.addrs, name):
            link = by_index.get(index)
            if link is None:
                continue
            if ":" in address:
                address = ipaddress.ip_address(address).compressed  # as the model writes it (::ffff:a.b.c.d)
                if scope == RT_SCOPE_LINK:  # fe80::/10: the kernel's own, or declared ones
                    link.link_local.append(f"{address}/{prefixlen}")
                    continue
            link.addresses.append(f"{address}/{prefixlen}")
        self._names[name] = {i: link.name for i, link in by_index.items()}
        return state

    def read_routes(self, name, table=None):
        """Unicast routes of one table (None: every table)."""
        names = self._names.get(name) or {}
        routes = []
        for msg in _answered(lambda: self.ns.rtnl(name).routes(table), name):
            family = FAMILIES.get(msg["family"])
            if family is None or msg["type"] != RTN_UNICAST:
                continue
            number = msg["table"]
            if table is not None and number != table:
                continue  # a kernel without strict dump checking sends every table
            dst = msg["dst"] or ("0.0.0.0" if family == 4 else "::")
            routes.append(RouteEntry(
                dst=str(ipaddress.ip_network(f"{dst}/{msg['dst_len']}", strict=False)),
                table=number,
                gateway=msg["gateway"],
                dev=names.get(msg["oif"]),
                metric=msg["priority"] or 0,
                scope=msg["scope"],
            ))
        return routes

    def read_remotes(self, name, index):
        """The destinations of the all-zero forwarding entries (head-end replication) of the
        vxlan with this index (as read by read())."""
        return sorted(dst for ifindex, lladdr, dst in _answered(self.ns.rtnl(name).fdb_entries, name)
                      if ifindex == index and lladdr == ZERO_MAC and dst)

    def netns_by_nsid(self, name, nsid):
        """The name of the namespace that ``name`` knows by the id ``nsid`` (None: the host's own;
        "?": none of the named ones), resolved once per namespace."""
        known = self._nsid_names.setdefault(name, {})
        if nsid not in known:
            for other in [None] + self.ns.names():
                if other == name or other in known.values():
                    continue
                found = self.ns.rtnl(name).netnsid(self.ns.fd(other))
                if found is not None:
                    known[found] = other
                if found == nsid:
                    break
        return known.get(nsid, "?")

    def kind_missing(self, kind):
        """True when this kernel has no driver for links of ``kind`` (macvlan, ipvlan)."""
        return kind_missing(self.ns.rtnl(None), kind)

    def read_namespaces(self):
        """The namespaces read so far (None: the host's own)."""
        return set(self._names)

    def indexes(self):
        """(netns, ifname) -> index of every link read so far, for the applier."""
        return {(netns, ifname): index for netns, names in self._names.items() for index, ifname in names.items()}

    def read_nft(self, name):
        """(rules of the collection's table, other tables' forward chains that drop (iptables-legacy's
        too), tables that route, the chains of Docker and firewalld), for nft.Table."""
        with self.ns.inside(name):
            rules, drops, forwarders, chains = nft.Nft().read_table()
            legacy_drops, legacy_chains = docker.read_legacy()
            return rules, drops + legacy_drops, forwarders, chains + legacy_chains

    def read_docker(self, name, chains):
        with self.ns.inside(name):
            return docker.read(chains)

    def read_zones(self, interfaces):
        return firewalld.zones(interfaces)

    def read_sysctl(self, name, key):
        try:
            with self.ns.inside(name), open(sysctl_path(key)) as handle:
                return handle.read().strip()
        except (FileNotFoundError, IsADirectoryError):
            return None


def _answered(read, netns):
    """read(), with an answer the engine cannot trust reported as the failure it is."""
    try:
        return read()
    except (AnswerError, NetlinkError, OSError) as exc:
        raise KernelError(f"{where(netns)}: cannot read its state: {reason(exc)}") from exc


def _settled_links(rtnl, netns):
    """The links of a namespace once none of them belongs to a namespace the kernel is
    still removing (a veth whose peer went with ``ip netns del`` keeps its name until the
    kernel's cleanup gets to it): such links are waited for, at most HELD_WAIT seconds.
    Their peer's namespace id is gone from the namespace's table already."""
    deadline = None
    while True:
        links = _answered(rtnl.links, netns)
        held = []
        if any(fields["peer_nsid"] is not None for fields in links):
            alive = _answered(rtnl.netnsids, netns)
            held = [f["name"] for f in links if f["peer_nsid"] is not None and f["peer_nsid"] not in alive]
        if not held:
            return links
        deadline = deadline or time.monotonic() + HELD_WAIT
        if time.monotonic() >= deadline:
            raise KernelError(f"{where(netns)}: {', '.join(repr(n) for n in held[:5])}"
                              + (f" and {len(held) - 5} more" if len(held) > 5 else "")
                              + f" still belong to a namespace the kernel is removing, {HELD_WAIT:.0f} s after "
                              "they were first seen; try again once the kernel is done")
        time.sleep(HELD_POLL)


def _link(fields):
    """A Link from what rtnl.link_fields() read (the bridge is filled in by name later)."""
    link = Link(name=fields["name"], index=fields["index"], kind=fields["kind"], mtu=fields["mtu"], up=fields["up"],
                peer_index=fields["peer_index"], peer_nsid=fields["peer_nsid"])
    for key in LINK_EXTRAS:
        if key in fields:
            setattr(link, key, fields[key])
    return link
