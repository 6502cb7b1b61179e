# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning links, addresses and routes (private to the collection): the part of the
Planner (planner.py) that plans veths, bridges, bridge ports, vxlans, addresses on
interfaces the collection does not own, and routes."""

from __future__ import annotations

import ipaddress

from ansible_collections.netfabric.netns.plugins.module_utils import nft, ops
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError, where
from ansible_collections.netfabric.netns.plugins.module_utils.checks import ROUTE_TABLES, family_of, is_link_local_v6, join
from ansible_collections.netfabric.netns.plugins.module_utils.observed import Link, RouteEntry

RT_TABLE_MAIN = ROUTE_TABLES["main"]


class LinkPlanning:
    """Mixed into Planner: the resources of links, addresses and routes."""

    def _link_absent(self, r, ns, name, kind, path, addresses=None):
        """Delete a link the collection made. One it did not make is only un-configured (the
        declared ``addresses`` removed) and left in place, unless ``force``.
        False: there is no such link."""
        link = ns.links.get(name) if ns is not None else None
        if link is None:
            return False
        if link.kind != kind:
            self.wrong_kind(path, ns, link, kind)
        if not (link.ours or r.force):
            self.plan.warnings.append(f"{path}: {kind} '{name}' in {where(ns.name)} was not created by netfabric.netns: "
                                      "left in place (set force: true to delete it)")
            self._unconfigure(r, ns, link, kind, addresses, path)
            return True
        self.guard(link, ns, "delete", r.force, path)
        self.add(ops.LINK_DEL, ns.name, f"{kind} '{name}' ({where(ns.name, short=True)})", "delete", name=name)
        del ns.links[name]
        return True

    def _plan_gone(self, r, path, identity):
        """state=absent of a bridge or vxlan: the link (as _link_absent decides) and the rules it owns."""
        ns = self.namespace(r.netns, join(path, "netns"), required=False)
        before = _link_view(r, ns.links.get(r.name) if ns else None)
        self._link_absent(r, ns, r.name, r.kind, join(path, "name"), r.addresses)
        if ns is not None and self._owns_rules(ns, identity):
            self._plan_rules(ns, identity, [])
        self.plan_openings(r, ns, [])
        return before, {"name": r.name, "netns": r.netns, "state": "absent"}

    def _unconfigure(self, r, ns, link, kind, addresses, path):
        """Remove the listed addresses from a link (one the collection adopted, or netns_address's)."""
        for cidr in addresses or ():
            if cidr in link.addresses or cidr in link.link_local:
                self.guard_address(link, ns, cidr, r.force, path)
                self.add(ops.ADDR_DEL, ns.name, f"{kind} '{link.name}' ({where(ns.name, short=True)})", f"remove address {cidr}",
                         name=link.name, cidr=cidr)
                (link.addresses if cidr in link.addresses else link.link_local).remove(cidr)

    @ops.plans("veth")
    def plan_veth(self, r, path):
        (name, netns, addrs, bridge), (peer, peer_netns, peer_addrs, peer_bridge) = r.ends()
        if r.state == "absent":
            ns = self.namespace(netns, join(path, "netns"), required=False)
            before = self._veth_view(r, ns, None)
            a = ns.links.get(name) if ns is not None else None
            pns = self.namespace(peer_netns, join(path, "peer_netns"), required=False) if peer else None
            b = pns.links.get(peer) if pns is not None else None
            paired = _paired(a, b, ns, pns)
            if not self._link_absent(r, ns, name, "veth", join(path, "name"), addrs) or (paired and not a.ours):
                self._link_absent(r, pns, peer, "veth", join(path, "peer"), peer_addrs)
            self.plan_openings(r, ns if netns is None else pns if peer_netns is None else None, [])
            return before, {"name": name, "netns": netns, "state": "absent"}

        ns = self.namespace(netns, join(path, "netns"))
        pns = self.namespace(peer_netns, join(path, "peer_netns"))
        a, b = ns.links.get(name), pns.links.get(peer)
        for link, owner, p in ((a, ns, "name"), (b, pns, "peer")):
            if link is not None and link.kind != "veth":
                self.wrong_kind(join(path, p), owner, link, "veth")
        before = self._veth_view(r, ns, pns)
        if (a or b) and not _paired(a, b, ns, pns):
            # An end that belongs to another pair (or whose peer was moved elsewhere): when the
            # collection made it, delete it with its partner and create the pair as declared.
            for link, owner, p, other in ((a, ns, "name", peer), (b, pns, "peer", name)):
                if link is not None and not (link.ours or r.force):
                    raise ValidationError(join(path, p), f"'{link.name}' exists in {where(owner.name)} as a veth that is "
                                          f"not paired with '{other}' as declared, and netfabric.netns did not create "
                                          "it: it is left alone (remove or rename it, or set force: true to replace it)")
            for link, owner, p in ((a, ns, "name"), (b, pns, "peer")):
                if link is not None:
                    self.guard(link, owner, "delete", r.force, join(path, p))
                    self.add(ops.LINK_DEL, owner.name, f"veth '{link.name}' ({where(owner.name, short=True)})",
                             "delete (not paired as declared)", name=link.name)
                    del owner.links[link.name]
            a = b = None
        elif a is not None:  # found paired as declared
            self.veth_pairs[(netns, name)], self.veth_pairs[(peer_netns, peer)] = (peer_netns, peer), (netns, name)
        if a is None:
            # One request creates the pair with one end already up and on its bridge (the end it
            # is made from: the kernel cannot bring the other end up before the pair exists).
            # Fewer requests per namespace, which counts with hundreds of them.
            from_peer = bridge is None and peer_bridge is not None
            first, first_ns, master = (peer, pns, peer_bridge) if from_peer else (name, ns, bridge)
            if master is not None:
                self.existing_link(first_ns, master, join(path, "peer_bridge" if from_peer else "bridge"),
                                   kind="bridge", what="bridge")
            up = bool(r.up)
            verb = f"create with peer '{peer}' ({where(peer_netns, short=True)})" + (f", mtu {r.mtu}" if r.mtu else "")
            if up or master:
                verb += f", '{first}'" + (" up" if up else "") + (f" on bridge '{master}'" if master else "")
            self.add(ops.LINK_ADD_VETH, netns, r.describe(), verb, name=name, peer=peer, peer_netns=peer_netns,
                     mtu=r.mtu, up=up, master=master, from_peer=from_peer)
            a = ns.links[name] = Link(name, None, kind="veth", mtu=r.mtu or 1500, ours=True)
            b = pns.links[peer] = Link(peer, None, kind="veth", mtu=r.mtu or 1500, ours=True)
            first_link = b if from_peer else a
            first_link.up, first_link.master = up, master
        for link, owner, addresses, master, p in ((a, ns, addrs, bridge, "bridge"),
                                                  (b, pns, peer_addrs, peer_bridge, "peer_bridge")):
            self._link_settings(r, owner, link, "veth", addresses, r.mtu, r.up, join(path, p))
            if master is not None:
                self._attach(r, owner, link, master, join(path, p))
        # the host's unbridged ends (a bridge opens the traffic of its ports)
        host_ends = [end for end, end_ns, unused, master in r.ends() if end_ns is None and master is None]
        self.plan_openings(r, ns if netns is None else pns if peer_netns is None else None, host_ends)
        return before, self._veth_view(r, ns, pns)

    def _veth_view(self, r, ns, pns):
        view = {"name": r.name, "netns": r.netns, "state": "absent"}
        a = ns.links.get(r.name) if ns is not None else None
        if a is None:
            return view
        b = pns.links.get(r.peer) if pns is not None else None
        view.update(state="present", mtu=a.mtu, up=a.up, addresses=_shown(a, r.addresses), bridge=a.master)
        if b is not None and _paired(a, b, ns, pns):
            view.update(peer=r.peer, peer_netns=r.peer_netns, peer_addresses=_shown(b, r.peer_addresses),
                        peer_bridge=b.master, peer_up=b.up)
        return view

    @ops.plans("bridge")
    def plan_bridge(self, r, path):
        if r.state == "absent":
            return self._plan_gone(r, path, f"isolate {r.name}")  # its isolation leaves with it
        ns = self.namespace(r.netns, join(path, "netns"))
        link = ns.links.get(r.name)
        if link is not None and link.kind != "bridge":
            self.wrong_kind(join(path, "name"), ns, link, "bridge")
        before = _link_view(r, link)
        if link is None:
            self.add(ops.LINK_ADD_BRIDGE, r.netns, r.describe(), "create" + (f", mtu {r.mtu}" if r.mtu else ""),
                     name=r.name, mtu=r.mtu)
            link = ns.links[r.name] = Link(r.name, None, kind="bridge", mtu=r.mtu or 1500, stp=False, ours=True,
                                           vlan_filtering=False)
        for option in ("stp", "vlan_filtering"):
            wanted = getattr(r, option)
            if wanted is not None and getattr(link, option) != wanted:
                self.add(ops.BRIDGE_SET, r.netns, r.describe(), f"set {option} {'on' if wanted else 'off'}",
                         name=r.name, **{option: wanted})
                setattr(link, option, wanted)
        self._link_settings(r, ns, link, "bridge", r.addresses, r.mtu, r.up, path)
        self.plan_openings(r, ns, [r.name])
        after = _link_view(r, link)
        if r.isolate_subnet is not None:
            subnets = sorted({str(ipaddress.ip_interface(cidr).network) for cidr in link.addresses})
            rules = nft.isolation_rules(subnets, f"isolate {r.name}") if r.isolate_subnet else []
            before["isolate_subnet"] = bool(self.nft_table(ns).owned(f"isolate {r.name}"))
            self._plan_rules(ns, f"isolate {r.name}", rules)
            after["isolate_subnet"] = r.isolate_subnet
        return before, after

    @ops.plans("bridge_port")
    def plan_bridge_port(self, r, path):
        ns = self.namespace(r.netns, join(path, "netns"), required=r.state == "present")
        port = ns.links.get(r.port) if ns is not None else None
        before = {"bridge": r.bridge, "port": r.port, "netns": r.netns,
                  "state": "present" if port is not None and port.master == r.bridge else "absent"}
        if port is not None and port.master == r.bridge:
            before.update(hairpin=port.hairpin, isolated=port.isolated)
        if r.state == "absent":
            if before["state"] == "present":
                self.guard(port, ns, "release", r.force, join(path, "port"))
                self.add(ops.LINK_MASTER, r.netns, r.describe(), f"release '{r.port}'", name=r.port, master=None)
                port.master = None
            return before, {"bridge": r.bridge, "port": r.port, "netns": r.netns, "state": "absent"}
        self.existing_link(ns, r.bridge, join(path, "bridge"), kind="bridge", what="bridge")
        port = self.existing_link(ns, r.port, join(path, "port"))
        self._attach(r, ns, port, r.bridge, join(path, "port"))
        settings = {k: getattr(r, k) for k in ("hairpin", "isolated") if getattr(r, k) is not None}
        changes = {k: v for k, v in settings.items() if getattr(port, k) != v}
        if changes:
            text = ", ".join(f"{k} {'on' if v else 'off'}" for k, v in changes.items())
            self.add(ops.BRPORT_SET, r.netns, r.describe(), f"set port '{r.port}' {text}", name=r.port, **changes)
            for key, value in changes.items():
                setattr(port, key, value)
        after = {"bridge": r.bridge, "port": r.port, "netns": r.netns, "state": "present"}
        after.update(hairpin=port.hairpin, isolated=port.isolated)
        return before, after

    @ops.plans("address")
    def plan_address(self, r, path):
        ns = self.namespace(r.netns, join(path, "netns"), required=r.state == "present")
        link = ns.links.get(r.interface) if ns is not None else None
        before = {"interface": r.interface, "netns": r.netns, "addresses": _shown(link, r.addresses) if link else []}
        subject = f"interface '{r.interface}' ({where(r.netns, short=True)})"
        if r.state == "absent":
            if link is not None:
                self._unconfigure(r, ns, link, "interface", r.addresses, join(path, "addresses"))
        else:
            link = self.existing_link(ns, r.interface, join(path, "interface"))
            for cidr in r.addresses:
                if cidr not in link.addresses and cidr not in link.link_local:
                    self.add(ops.ADDR_ADD, r.netns, subject, f"add address {cidr}", name=r.interface, cidr=cidr)
                    link.addresses.append(cidr)
        return before, {"interface": r.interface, "netns": r.netns,
                        "addresses": _shown(link, r.addresses) if link else []}

    @ops.plans("route")
    def plan_route(self, r, path):
        ns = self.namespace(r.netns, join(path, "netns"), required=r.state == "present")
        table = r.table or RT_TABLE_MAIN
        routes = self.routes(ns, table) if ns is not None else []
        same_key = [e for e in routes if e.table == table and e.dst == r.dst
                    and (r.metric is None or e.metric == r.metric)]
        before = {"dst": r.label(), "netns": r.netns, "table": table, "state": "absent"}
        if same_key:
            before.update(_route_view(same_key[0]))
        subject = r.describe()
        if r.state == "absent":
            for entry in same_key:
                if (r.gateway is None or entry.gateway == r.gateway) and (r.dev is None or entry.dev == r.dev):
                    self.guard_route(ns, entry, "delete", f"route {r.label()}", r.force, path)
                    self.add(ops.ROUTE_DEL, r.netns, subject, "delete" + _via(entry.gateway, entry.dev),
                             **_route_args(entry))
                    routes.remove(entry)
            return before, {"dst": r.label(), "netns": r.netns, "table": table, "state": "absent"}
        if r.dev is not None:
            self.existing_link(ns, r.dev, join(path, "dev"))
        wanted = RouteEntry(dst=r.dst, table=table, gateway=r.gateway, dev=r.dev, metric=r.metric)
        current = same_key[0] if same_key else None
        if current is None or current.gateway != r.gateway or (r.dev is not None and current.dev != r.dev):
            self._guard_diversion(r, ns, path)
        if current is None:
            self.add(ops.ROUTE_ADD, r.netns, subject, "add" + _via(r.gateway, r.dev), **_route_args(wanted))
            routes.append(wanted)
        elif current.gateway != r.gateway or (r.dev is not None and current.dev != r.dev):
            self.guard_route(ns, current, "replace", f"route {r.label()}", r.force, path)
            wanted.metric = current.metric
            self.add(ops.ROUTE_REPLACE, r.netns, subject,
                     f"replace{_via(current.gateway, current.dev)} with{_via(r.gateway, r.dev)}",
                     **_route_args(wanted))
            routes[routes.index(current)] = wanted
        else:
            wanted = current
        after = {"dst": r.label(), "netns": r.netns, "table": table}
        after.update(_route_view(wanted))
        return before, after

    def _guard_diversion(self, r, ns, path):
        """Never add a route that takes the controller's traffic off the route it uses."""
        if r.force or self.connection is None or ns.name is not None or ns.planned:
            return
        why = self.connection_path().diverted(r.dst, r.table)
        if why:
            self._refuse(path, f"add route {r.label()}", why)

    def _link_settings(self, r, ns, link, kind, addresses, mtu, up, path):
        """Addresses (the whole set), MTU and up/down of a link the collection owns."""
        subject = f"{kind} '{link.name}' ({where(ns.name, short=True)})"
        if addresses is not None:
            # Removals first: deleting an IPv4 primary address makes the kernel delete the
            # secondaries of its subnet too, which would take a just-added address with it.
            for cidr in list(link.addresses):
                if cidr not in addresses and not is_link_local_v6(cidr):
                    self.guard_address(link, ns, cidr, r.force, join(path, "addresses"))
                    self.add(ops.ADDR_DEL, ns.name, subject, f"remove address {cidr}", name=link.name, cidr=cidr)
            for cidr in addresses:
                if cidr not in link.addresses and cidr not in link.link_local:
                    self.add(ops.ADDR_ADD, ns.name, subject, f"add address {cidr}", name=link.name, cidr=cidr)
            link.addresses = list(addresses) + [a for a in link.addresses if is_link_local_v6(a) and a not in addresses]
        if mtu is not None and link.mtu != mtu:
            self.guard(link, ns, "change the MTU of", r.force, join(path, "mtu"))
            self.add(ops.LINK_SET, ns.name, subject, f"set mtu {mtu}", name=link.name, mtu=mtu)
            link.mtu = mtu
        if up is not None and link.up != up:
            if not up:
                self.guard(link, ns, "take down", r.force, join(path, "up"))
            self.add(ops.LINK_SET, ns.name, subject, "set up" if up else "set down", name=link.name, up=up)
            link.up = up

    def _attach(self, r, ns, link, bridge, path):
        if link.master == bridge:
            return
        self.existing_link(ns, bridge, path, kind="bridge", what="bridge")
        self.guard(link, ns, "enslave", r.force, path)
        self.add(ops.LINK_MASTER, ns.name, f"bridge '{bridge}' ({where(ns.name, short=True)})", f"enslave '{link.name}'",
                 name=link.name, master=bridge)
        link.master = bridge

    def recreate(self, r, ns, link, changed, option_path, path):
        """Plan the deletion of a link whose ``changed`` settings the kernel cannot change on a
        live link, so that it is created again as declared; only one the collection made (or
        with force)."""
        if not (link.ours or r.force):
            raise ValidationError(option_path, f"{r.describe()} exists with another {', '.join(changed)}, and "
                                  "netfabric.netns did not create it: it is not recreated (remove it, or set "
                                  "force: true to replace it)")
        self.guard(link, ns, "delete", r.force, path)
        self.add(ops.LINK_DEL, ns.name, r.describe(), f"delete ({', '.join(changed)} changed)", name=r.name)
        del ns.links[r.name]


def _paired(a, b, ns, pns):
    if a is None or b is None or a.kind != "veth" or b.kind != "veth":
        return False
    if a.index is None or b.index is None:  # planned by this run
        return a.index is None and b.index is None
    same = ns.name == pns.name
    return (a.peer_index == b.index and b.peer_index == a.index
            and (a.peer_nsid is None) == same and (b.peer_nsid is None) == same)


def _shown(link, declared):
    """The addresses of a link as views show them: IPv6 link-local ones only where declared."""
    return sorted(set(link.addresses) | {a for a in link.link_local if a in (declared or ())})


def _link_view(r, link):
    view = {"name": r.name, "netns": r.netns, "state": "absent"}
    if link is not None:
        view.update(state="present", mtu=link.mtu, up=link.up, addresses=_shown(link, r.addresses))
        if link.kind == "bridge":
            view.update(stp=link.stp, vlan_filtering=link.vlan_filtering)
    return view


def _via(gateway, dev):
    return (f" via {gateway}" if gateway else "") + (f" dev {dev}" if dev else "")


def _route_args(entry):
    return {"dst": entry.dst, "gateway": entry.gateway, "dev": entry.dev, "metric": entry.metric,
            "table": entry.table, "family": family_of(entry.dst), "scope": entry.scope}


def _route_view(entry):
    return {"state": "present", "gateway": entry.gateway, "dev": entry.dev, "metric": entry.metric}
