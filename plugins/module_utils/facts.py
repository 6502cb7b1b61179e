# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netns_info's facts from observed or planned state (private to the collection).

``namespace_facts`` turns one namespace's state into the facts netns_info returns;
``planned`` makes the facts of the whole host as a plan leaves it, from the planner's
view (what it read, with what the plan changes), so that netns_topology can draw, even
in check mode, the same picture netns_info draws after the real run.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.netfabric.netns.plugins.module_utils import ops
from ansible_collections.netfabric.netns.plugins.module_utils.nft import NftError

PARENT_KINDS = ("macvlan", "ipvlan")  # links whose IFLA_LINK is their parent interface


def address_key(cidr):
    iface = ipaddress.ip_interface(cidr)
    return (iface.version, iface.ip)


def namespace_facts(state, peer_of, routes=(), rules=()):
    """Facts of one namespace: links (with veth peers and macvlan/ipvlan parents resolved by
    ``peer_of(state, link) -> (name, netns)``), unicast routes but the local table's, and the
    collection's nftables rules."""
    links = []
    for link in sorted(state.links.values(), key=lambda lk: (lk.index is None, lk.index or 0, lk.name)):
        entry = {"name": link.name, "index": link.index, "kind": link.kind, "master": link.master,
                 "mtu": link.mtu, "state": "up" if link.up else "down",
                 "addresses": sorted(link.addresses, key=address_key)}
        if link.kind == "veth":
            peer, peer_netns = peer_of(state, link)
            entry.update(peer=peer, peer_netns=peer_netns)
        if link.kind in PARENT_KINDS:
            parent, parent_netns = peer_of(state, link)
            entry.update(parent=parent, parent_netns=parent_netns, mode=link.mode, mac=link.mac)
            if link.kind == "ipvlan":
                entry["flags"] = link.flags
        if link.kind == "bridge":
            entry.update(stp=link.stp, vlan_filtering=link.vlan_filtering)
        if link.kind == "vxlan":
            entry.update(vni=link.vni, local=link.local, dstport=link.dstport, remotes=sorted(link.remotes or []))
        if link.hairpin is not None:
            entry.update(hairpin=link.hairpin, isolated=link.isolated)
        links.append(entry)
    return {"links": links, "routes": route_facts(routes), "rules": rule_facts(rules)}


def route_facts(routes):
    return [{"dst": "default" if r.dst.endswith("/0") else r.dst, "family": 6 if ":" in r.dst else 4,
             "gateway": r.gateway, "dev": r.dev, "metric": r.metric, "table": r.table}
            for r in routes if r.table != 255]


def rule_facts(rules):
    return [{"owner": rule.comment, "chain": rule.chain, "rule": rule.text.split(": ", 1)[1]} for rule in rules]


# ------------------------------------------------------------------ as a plan leaves the host


def planned(namespaces, planner):
    """netns_info's facts (namespaces, host, netns) of the host as the planner's plan leaves it.

    Call it after planning and before applying: namespaces the plan deletes can still be
    asked which veth ends they hold. Namespaces the plan did not read are read now; so are
    the nftables tables (the rules as the plan leaves them) and, where the collection has
    NAT rules, the main routing table (to find the uplink). Routes are otherwise left out:
    the diagram draws no other route of a single host.
    """
    plan = planner.plan
    names = set(namespaces.names()) | {a.args["name"] for a in plan.actions if a.op == ops.NETNS_ADD.name}
    states = {}
    for name in [None] + sorted(names):
        state = planner.namespace(name, "", required=False)
        if state is not None:
            states[name] = state
    peers = _PlannedPeers(namespaces, planner, states)
    result = {}
    for name, state in states.items():
        for link in state.links.values():
            if link.kind == "vxlan" and link.remotes is None and link.index is not None:
                link.remotes = planner.reader.read_remotes(name, link.index)
        try:
            rules = list(planner.nft_table(state).rules)
        except NftError:  # no nftables on this host: nothing of ours can be there
            rules = []
        routes = planner.routes(state) if _has_nat(rules) else []
        facts = namespace_facts(_Kept(state, peers.gone), peers.peer_of, routes, rules)
        for entry in facts["links"]:  # the kernel releases the ports of a deleted bridge
            if entry["master"] is not None and entry["master"] not in state.links:
                entry["master"] = None
        result[name] = facts
    return {"namespaces": sorted(n for n in states if n is not None),
            "host": result.get(None),
            "netns": {name: facts for name, facts in result.items() if name is not None}}


def _has_nat(rules):
    return any(rule.comment.startswith(("masquerade ", "port_forward ")) for rule in rules)


class _Kept:
    """A namespace's state without the links the kernel deletes with their veth peer."""

    def __init__(self, state, gone):
        self.name = state.name
        self.links = {name: link for name, link in state.links.items() if not gone(state, link)}


class _PlannedPeers:
    """Veth peers (and macvlan/ipvlan parents) in the planner's view.

    Links the plan creates are paired by its actions, and existing pairs a topology declares
    as the planner found them (crosswise indexes, as it decided to keep them). Any other
    link that exists names its peer by index and, in another namespace, by the id its
    namespace gives the peer's (IFLA_LINK_NETNSID): the candidates are the links with that
    index whose own peer index points back, and one RTM_GETNSID request confirms the
    namespace (the peer may be in a namespace nobody named, a container's). A veth whose
    peer the plan deletes (alone or with its namespace) goes with it.
    """

    def __init__(self, namespaces, planner, states):
        self.ns = namespaces
        self.states = states
        self.created = {}
        deleted_ns = set()
        deleted = []
        for action in planner.plan.actions:
            if action.op == ops.LINK_ADD_VETH.name:
                end, other = (action.netns, action.args["name"]), (action.args["peer_netns"], action.args["peer"])
                self.created[end], self.created[other] = other, end
            elif action.op == ops.LINK_ADD_ON_PARENT.name:  # its parent is in the host namespace
                self.created[(action.netns, action.args["name"])] = (None, action.args["parent"])
            elif action.op == ops.LINK_DEL.name:
                deleted.append((action.netns, action.args["name"]))
            elif action.op == ops.NETNS_DEL.name:
                deleted_ns.add(action.args["name"])
        indexes = planner.reader.indexes()  # (netns, ifname) -> index of every link read
        self.deleted = {}  # index -> namespaces where the plan deletes a link that had that index
        for (netns, ifname), index in indexes.items():
            if netns in deleted_ns or (netns, ifname) in deleted:
                self.deleted.setdefault(index, []).append(netns)
        self.by_pair = {}  # (index, peer index) -> [(netns, link)] of the links that exist
        for name, state in states.items():
            for link in state.links.values():
                if link.index is not None and link.peer_index is not None:
                    self.by_pair.setdefault((link.index, link.peer_index), []).append((name, link))
        self._nsids = {}
        self._reverse = {}
        self._found = {}  # (netns, ifname) -> (peer netns, peer link or None when deleted)
        for (netns, ifname), (peer_netns, peer) in planner.veth_pairs.items():
            # pairs the planner found as declared (crosswise indexes): no request to confirm them
            link = states[netns].links.get(ifname) if netns in states else None
            other = states[peer_netns].links.get(peer) if peer_netns in states else None
            if link is not None and other is not None:
                self._found[(netns, ifname)] = (peer_netns, other)

    def nsid(self, netns, other):
        """The id under which ``netns`` knows ``other`` (None: none)."""
        key = (netns, other)
        if key not in self._nsids:
            try:
                self._nsids[key] = self.ns.rtnl(netns).netnsid(self.ns.fd(other))
            except OSError:
                self._nsids[key] = None
        return self._nsids[key]

    def _is(self, state, link, netns):
        """Whether the peer of ``link`` lives in ``netns``."""
        if link.peer_nsid is None:
            return netns == state.name
        return netns != state.name and self.nsid(state.name, netns) == link.peer_nsid

    def _find(self, state, link):
        key = (state.name, link.name)
        if key not in self._found:
            self._found[key] = None
            for netns, peer in self.by_pair.get((link.peer_index, link.index), ()):
                if self._is(state, link, netns):
                    self._found[key] = (netns, peer)
                    self._found[(netns, peer.name)] = (state.name, link)  # a veth pair is symmetric
                    break
            else:
                candidates = self.deleted.get(link.peer_index, ())
                if link.peer_nsid is None:
                    netns = state.name if state.name in candidates else None
                else:
                    netns = self._deleted_by_nsid(state.name).get(link.peer_nsid)
                if netns is not None and netns in candidates:
                    self._found[key] = (netns, None)
        return self._found[key]

    def _deleted_by_nsid(self, netns):
        """nsid -> name of the namespaces where the plan deletes links, as ``netns`` knows them
        (one request each, once per ``netns``: a teardown asks this of the host only)."""
        if netns not in self._reverse:
            names = {name for names in self.deleted.values() for name in names if name != netns}
            self._reverse[netns] = {self.nsid(netns, name): name for name in sorted(names, key=str)}
            self._reverse[netns].pop(None, None)
        return self._reverse[netns]

    def gone(self, state, link):
        """Whether the kernel deletes this veth end with its peer."""
        if link.kind != "veth" or link.index is None or link.peer_index is None:
            return False
        found = self._find(state, link)
        return found is not None and found[1] is None

    def peer_of(self, state, link):
        if link.index is None:
            other = self.created.get((state.name, link.name))
            if other is not None and other[0] in self.states and other[1] in self.states[other[0]].links:
                return other[1], other[0]
            return None, None
        if link.kind == "veth":
            found = self._find(state, link) if link.peer_index is not None else None
            if found is None or found[1] is None:
                return None, None
            return found[1].name, found[0]
        return self._parent(state, link)

    def _parent(self, state, link):
        """A macvlan's or ipvlan's parent: the link with that index in the namespace it names."""
        if link.peer_index is None:
            return None, None
        for netns, other in self.states.items():
            parent = other.link_by_index(link.peer_index)
            if parent is not None and parent is not link and self._is(state, link, netns):
                return parent.name, netns
        return None, None
