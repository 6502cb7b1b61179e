# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The path Ansible uses to reach the host, which no change may cut (private to the collection).

The path is worked out from the host namespace as observed before the run changes
anything: the interfaces that carry the address Ansible connects to, the ports of those
that are bridges, the parents of VLAN/macvlan/ipvlan interfaces on it, and the route to
the controller with its interface. When the connection's address is not on the host
(a name that did not resolve, NAT, no information at all) the guard does not switch off:
the interfaces of the default routes and of the host's own addresses (those the
collection did not create) are the path, and the default routes are kept. A connection
over loopback (``connection: local``) has no path to cut.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional

LOWER_KINDS = ("vlan", "macvlan", "ipvlan", "macvtap", "ipvtap")
MAIN_TABLE = 254


@dataclass(frozen=True)
class Connection:
    """What is known of Ansible's connection: the host's addresses it connects to (``ansible_host``
    resolved on the controller, the server side of SSH_CONNECTION), the controller's addresses
    (the client side of SSH_CONNECTION, the source address the controller uses), and the port."""

    local: tuple = ()
    controllers: tuple = ()
    port: Optional[int] = None

    @property
    def is_local(self):
        """A connection over loopback only (``connection: local``): nothing on the network to cut."""
        return bool(self.local) and all(ipaddress.ip_address(a).is_loopback for a in self.local)


class Path:
    """Links and routes of the host namespace that carry the connection, with the reason for each."""

    def __init__(self, connection, links, routes):
        """links: name -> observed Link of the host namespace; routes: its main-table routes."""
        self.links = {}  # name -> why it is on the path
        self.routes = {}  # (dst, table, metric) -> why it is kept
        self.addresses = {}  # address -> why it may not be removed
        self.controllers = ()
        self.table = [r for r in routes if r.table == MAIN_TABLE]  # as read, before planning
        if connection.is_local:
            return
        present = {cidr.split("/")[0]: link for link in links.values() for cidr in link.addresses}
        matched = [a for a in connection.local if a in present]
        if matched:
            for address in matched:
                self.addresses[address] = f"it is the Ansible connection address {address}"
                self.links.setdefault(present[address].name, f"it carries the Ansible connection address {address}")
        else:
            told = f"the address Ansible connects to ({', '.join(connection.local)}) is not on this host" \
                if connection.local else "the address Ansible connects to is not known"
            for address, link in present.items():
                if link.name != "lo" and not getattr(link, "ours", False) and _is_global(address):
                    self.addresses[address] = f"{told}, so every address of the host is kept"
                    self.links.setdefault(link.name, f"it carries the host's address {address} ({told})")
        self.controllers = tuple(c for c in connection.controllers if c not in present)
        unicast = self.table
        if self.controllers:
            for controller in self.controllers:
                route = best_route(unicast, controller)
                if route is not None:
                    why = f"it carries the Ansible connection to the controller {controller}"
                    self.routes.setdefault(_route_key(route), why)
                    if route.dev:
                        self.links.setdefault(route.dev, why)
        else:
            # The controller's address is not known: it may be anywhere behind the default route.
            for route in unicast:
                if route.dst in ("0.0.0.0/0", "::/0"):
                    why = "the controller's address is not known, so the default route may carry the connection"
                    self.routes.setdefault(_route_key(route), why)
                    if route.dev:
                        self.links.setdefault(route.dev, why)
        self._expand(links)

    def _expand(self, links):
        """Bridge ports of path bridges and parents of path VLAN/macvlan links are on it too."""
        by_index = {link.index: link for link in links.values() if link.index is not None}
        changed = True
        while changed:
            changed = False
            for link in links.values():
                if link.name in self.links:
                    if link.kind in LOWER_KINDS and link.peer_index in by_index:
                        parent = by_index[link.peer_index].name
                        if parent not in self.links:
                            self.links[parent] = f"it is the parent of '{link.name}', which {_reason_tail(self.links[link.name])}"
                            changed = True
                elif link.master in self.links:
                    self.links[link.name] = f"it is a port of bridge '{link.master}', which {_reason_tail(self.links[link.master])}"
                    changed = True

    @property
    def empty(self):
        return not (self.links or self.routes)

    def link(self, name):
        """Why the link is on the path, or None."""
        return self.links.get(name)

    def route(self, entry):
        """Why the route may not be deleted or replaced, or None."""
        return self.routes.get(_route_key(entry))

    def diverted(self, dst, table):
        """Why a new route to ``dst`` would take a controller's traffic off its current route, or None."""
        if (table or MAIN_TABLE) != MAIN_TABLE:
            return None
        network = ipaddress.ip_network(dst)
        for controller in self.controllers:
            address = ipaddress.ip_address(controller)
            if address.version != network.version or address not in network:
                continue
            current = best_route(self.table, controller)
            if current is None or ipaddress.ip_network(current.dst).prefixlen < network.prefixlen:
                return f"it would take the traffic to the controller {controller} off its current route"
        return None


def best_route(routes, address):
    """The route the kernel picks for ``address`` in one table: longest prefix, then lowest metric."""
    target = ipaddress.ip_address(address)
    best = None
    for route in routes:
        network = ipaddress.ip_network(route.dst)
        if network.version != target.version or target not in network:
            continue
        key = (network.prefixlen, -(route.metric or 0))
        if best is None or key > best[0]:
            best = (key, route)
    return best[1] if best else None


def _route_key(entry):
    return (entry.dst, entry.table, entry.metric or 0)


def _is_global(address):
    ip = ipaddress.ip_address(address)
    return not (ip.is_loopback or ip.is_link_local)


def _reason_tail(reason):
    """'it carries X' -> 'carries X', to chain reasons."""
    return reason[3:] if reason.startswith("it ") else reason
