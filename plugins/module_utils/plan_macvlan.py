# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning macvlans and ipvlans (private to the collection): the part of the Planner
(planner.py) for links on a parent interface of the host namespace, and the host routes
through a macvlan "shim" by which the host reaches its own macvlans (the parent cannot:
the kernel hands a macvlan's frames to the wire or its siblings, never to the parent)."""

from __future__ import annotations

import ipaddress

from ansible_collections.netfabric.netns.plugins.module_utils import ops
from ansible_collections.netfabric.netns.plugins.module_utils.checks import is_link_local_v6, join
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError, where
from ansible_collections.netfabric.netns.plugins.module_utils.model import Route
from ansible_collections.netfabric.netns.plugins.module_utils.observed import Link
from ansible_collections.netfabric.netns.plugins.module_utils.plan_links import _link_view


class MacvlanPlanning:
    """Mixed into Planner: macvlans and ipvlans."""

    @ops.plans("macvlan")
    def plan_macvlan(self, r, path):
        return self._plan_on_parent(r, path)

    @ops.plans("ipvlan")
    def plan_ipvlan(self, r, path):
        return self._plan_on_parent(r, path)

    def _plan_on_parent(self, r, path):
        if r.state == "absent":
            ns = self.namespace(r.netns, join(path, "netns"), required=False)
            link = ns.links.get(r.name) if ns is not None else None
            before = self._lower_view(r, ns, link)
            if link is not None and link.kind == r.kind and r.shim in self.namespace(None, "netns").links:
                self._shim_routes(r, path, link.addresses, [])  # a shim that went took its routes along
            self._link_absent(r, ns, r.name, r.kind, join(path, "name"), r.addresses)
            return before, {"name": r.name, "netns": r.netns, "state": "absent"}
        ns = self.namespace(r.netns, join(path, "netns"))
        host = self.namespace(None, "netns")
        parent = self._parent_of(r, ns, host, path)
        link = ns.links.get(r.name)
        if link is not None and link.kind != r.kind:
            self.wrong_kind(join(path, "name"), ns, link, r.kind)
        if r.mtu is not None and parent.index is not None and r.mtu > parent.mtu:
            raise ValidationError(join(path, "mtu"), f"{r.mtu} is above the MTU of its parent '{r.parent}' "
                                                     f"({parent.mtu}): a {r.kind} cannot be larger")
        before = self._lower_view(r, ns, link)
        old_addresses = list(link.addresses) if link is not None else []
        if link is not None:
            changed = self._lower_changes(r, ns, link, parent)
            if changed:  # the kernel cannot move a link to another parent; one path for all of them
                self.recreate(r, ns, link, changed, join(path, changed[0]), path)
                link = None
        if link is None:
            if self.reader.kind_missing(r.kind):
                raise ValidationError(path, f"{r.describe()}: this kernel has no {r.kind} driver (creating one "
                                            f"answers 'Unknown device type': no module {r.kind} and no CONFIG_"
                                            f"{r.kind.upper()}); nothing was changed")
            if r.mode == "passthru":  # takes the parent's MAC and puts it in promiscuous mode
                self.guard(parent, host, "put a passthru macvlan on", r.force, join(path, "mode"))
            verb = f"create on '{r.parent}', mode {r.mode}" + (f", flags {r.flags}" if r.flags else "") \
                + (f", mac {r.mac}" if r.mac else "") + (f", mtu {r.mtu}" if r.mtu else "")
            self.add(ops.LINK_ADD_ON_PARENT, r.netns, r.describe(), verb, name=r.name, kind=r.kind,
                     parent=r.parent, mode=r.mode, flags=r.flags, mac=r.mac, mtu=r.mtu)
            link = ns.links[r.name] = Link(r.name, None, kind=r.kind, mtu=r.mtu or parent.mtu, ours=True,
                                           mode=r.mode, flags=r.flags, mac=r.mac, parent=r.parent)
        self._link_settings(r, ns, link, r.kind, r.addresses, r.mtu, r.up, path)
        if r.shim:
            self._shim_routes(r, path, old_addresses, link.addresses)
        return before, self._lower_view(r, ns, link)

    def _parent_of(self, r, ns, host, path):
        """The parent, an interface of the host namespace (check mode: possibly one still to come)."""
        if r.parent not in host.links and ns.name is not None and r.parent in ns.links:
            raise ValidationError(join(path, "parent"), f"'{r.parent}' is in {where(ns.name)}: the parent of a "
                                                        f"{r.kind} must be an interface of the host namespace")
        return self.existing_link(host, r.parent, join(path, "parent"), what="parent interface")

    def _lower_changes(self, r, ns, link, parent):
        """What differs from the declaration and cannot change on a live link (or is simpler
        recreated): the parent, the mode, an ipvlan's flags, a declared MAC."""
        changed = []
        if not self._on_parent(ns, link, parent):
            changed.append("parent")
        if link.mode != r.mode:
            changed.append("mode")
        if r.kind == "ipvlan" and link.flags != r.flags:
            changed.append("flags")
        if r.mac is not None and link.mac != r.mac:
            changed.append("mac")
        return changed

    def _on_parent(self, ns, link, parent):
        if link.index is None or parent.index is None:  # planned by this run
            return link.parent == parent.name
        if link.peer_index != parent.index:
            return False
        if ns.name is None:
            return link.peer_nsid is None
        return link.peer_nsid is not None and self.reader.netns_by_nsid(ns.name, link.peer_nsid) is None

    def _shim_routes(self, r, path, old, new):
        """Host routes through the shim to this macvlan's addresses: one per address, the
        ones of addresses it no longer has removed."""
        host = self.namespace(None, "netns")
        shim = self.existing_link(host, r.shim, join(path, "shim"), kind="macvlan", what="shim")
        if new and shim.index is not None and shim.mode != "bridge":
            raise ValidationError(join(path, "shim"), f"'{r.shim}' is a macvlan in mode {shim.mode}: a shim must be "
                                                      "in mode bridge to reach its siblings")
        wanted, gone = _host_routes(new), [dst for dst in _host_routes(old) if dst not in _host_routes(new)]
        for dst in gone:
            self.plan_route(Route(dst=dst, dev=r.shim, state="absent", force=r.force), join(path, "shim"))
        for dst in wanted:
            self.plan_route(Route(dst=dst, dev=r.shim, force=r.force), join(path, "shim"))

    def _lower_view(self, r, ns, link):
        view = _link_view(r, link)
        if link is not None and link.kind == r.kind:
            parent = link.parent
            if parent is None and link.peer_index is not None:
                host = self.namespace(None, "netns")
                found = host.link_by_index(link.peer_index) if self._on_parent(ns, link, _Index(link)) else None
                parent = found.name if found is not None else None
            view.update(parent=parent, mode=link.mode, mac=link.mac, kind=r.kind)
            if r.kind == "ipvlan":
                view["flags"] = link.flags
            if r.shim:
                view["shim"] = r.shim
        return view


class _Index:
    """Stands for a parent known by index only (the one the link names)."""

    def __init__(self, link):
        self.index, self.name = link.peer_index, None


def _host_routes(cidrs):
    """'192.168.1.50/24' -> '192.168.1.50/32' (IPv6: /128), link-local ones left out."""
    found = []
    for cidr in cidrs or ():
        if not is_link_local_v6(cidr):
            ip = ipaddress.ip_interface(cidr).ip
            found.append(f"{ip}/{ip.max_prefixlen}")
    return found
