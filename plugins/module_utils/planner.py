# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state + observed state -> ordered actions (private to the collection).

The planner never touches the kernel: it asks a reader for observed state, one
namespace at a time, and returns the list of actions that check mode reports,
diff mode shows and the applier executes. Resources are planned in order; what
an earlier resource will create is recorded in the observed state, so that a
later one (or a later task in check mode) can refer to it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Optional

from ansible_collections.netfabric.netns.plugins.module_utils import netns_files, nft
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.guard import Path
from ansible_collections.netfabric.netns.plugins.module_utils.model import (
    ROUTE_TABLES,
    family_of,
    is_link_local_v6,
    join,
    sysctl_key,
)
from ansible_collections.netfabric.netns.plugins.module_utils.observed import MARK, Link, NetnsState, RouteEntry

RT_TABLE_MAIN = ROUTE_TABLES["main"]

# Values of a namespace the kernel has just created, so a new namespace is not
# reported as changing them to what they already are.
FRESH_NETNS_SYSCTLS = {"net.ipv4.ip_forward": "0", "net.ipv6.conf.all.forwarding": "0"}
_FORWARDING_KEYS = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding")


def _per_interface(key):
    """net.ipv4.conf.eth0.x and the like exist only where that interface does."""
    parts = key.split(".")
    return len(parts) > 4 and parts[2] in ("conf", "neigh") and parts[3] not in ("all", "default")


def where(netns):
    return f"netns '{netns}'" if netns else "the host namespace"


@dataclass
class Action:
    op: str  # what the applier calls
    netns: Optional[str]  # the namespace it runs in (None: host)
    subject: str  # "bridge 'v-net-0' (host)"
    verb: str  # "enslave 'veth-red-br'"
    args: dict = field(default_factory=dict)
    path: str = ""  # the topology item it serves ("veths[3]"); empty for a single module

    @property
    def text(self):
        return f"{self.subject}: {self.verb}"


@dataclass
class Plan:
    actions: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    diffs: list = field(default_factory=list)  # (before, after) per resource, in order

    @property
    def changed(self):
        return bool(self.actions)


class Planner:
    """Plans resources one after another against one lazily read view of the host."""

    def __init__(self, reader, check_mode=False, connection=None, forwarding_users=None):
        """connection: what is known of Ansible's connection (guard.Connection); None (library
        use, tests of planning alone) guards nothing. forwarding_users: the record of forwarding
        sysctls the collection turned on (hostfiles.ForwardingUsers); None keeps none."""
        self.reader = reader
        self.check_mode = check_mode
        self.connection = connection
        self.forwarding_users = forwarding_users
        self.plan = Plan()
        self._namespaces = {}  # name -> NetnsState, or None when it does not exist
        self._host_links = None  # the host namespace's links as read, before planning changed them
        self._path = None

    # ------------------------------------------------------------ the view

    def namespace(self, name, path, required=True):
        """Observed (or planned) state of a namespace; None if absent and not required."""
        if name not in self._namespaces:
            if name is None or self.reader.netns_exists(name):
                self._namespaces[name] = self.reader.read(name)
                self._mark_left_unmarked(self._namespaces[name])
                if name is None:
                    self._host_links = {n: replace(link, addresses=list(link.addresses))
                                        for n, link in self._namespaces[name].links.items()}
            else:
                self._namespaces[name] = None
        state = self._namespaces[name]
        if state is None and required:
            if not self.check_mode:
                raise ValidationError(path, f"namespace '{name}' does not exist")
            self.plan.warnings.append(
                f"{path}: namespace '{name}' does not exist; check mode assumes an earlier task creates it")
            state = self._namespaces[name] = NetnsState(name, planned=True)
        return state

    def _mark_left_unmarked(self, ns):
        """Links an interrupted run created (its journal names them) but did not mark yet."""
        for link in ns.links.values():
            if link.ours and link.alias != MARK:
                self.add("link_mark", ns.name, f"{link.kind or 'link'} '{link.name}' ({_short(ns.name)})",
                         "mark as created by netfabric.netns (a run was interrupted after creating it)",
                         name=link.name)
                link.alias = MARK

    def routes(self, ns, table=RT_TABLE_MAIN):
        """The routes of one table, read once (the kernel filters them: no local table to decode)."""
        if ns.routes is None:
            ns.routes = {}
        if table not in ns.routes:
            ns.routes[table] = [] if ns.planned else self.reader.read_routes(ns.name, table)
        return ns.routes[table]

    def sysctl(self, ns, key, path):
        if key not in ns.sysctls:
            if ns.planned:
                # A namespace still to be created has the same net.* tree as the host one,
                # apart from per-interface keys: check the name there, before anything is made.
                if not _per_interface(key) and self.reader.read_sysctl(None, key) is None:
                    raise ValidationError(path, f"'{key}' does not exist")
                ns.sysctls[key] = FRESH_NETNS_SYSCTLS.get(key)
            else:
                value = self.reader.read_sysctl(ns.name, key)
                if value is None:
                    raise ValidationError(path, f"'{key}' does not exist in {where(ns.name)}")
                ns.sysctls[key] = value
        return ns.sysctls[key]

    def existing_link(self, ns, name, path, kind=None, what="interface"):
        """A link that must exist (or be planned); check mode assumes it will."""
        link = ns.links.get(name)
        if link is None:
            if not (self.check_mode or ns.planned):
                raise ValidationError(path, f"{what} '{name}' does not exist in {where(ns.name)}")
            if not ns.planned:
                self.plan.warnings.append(
                    f"{path}: {what} '{name}' does not exist in {where(ns.name)}; "
                    "check mode assumes an earlier task creates it")
            link = ns.links[name] = Link(name, None, kind=kind, ours=True)
        if kind is not None and link.kind != kind:
            raise ValidationError(path, f"'{name}' in {where(ns.name)} is a {link.kind or 'device'}, not a {kind}")
        return link

    def connection_path(self):
        """The links, addresses and routes of the host namespace that carry Ansible's connection
        (guard.Path), worked out on first use from the host as read before any planning."""
        if self._path is None:
            self.namespace(None, "netns")
            routes = self.reader.read_routes(None, RT_TABLE_MAIN) if not self.connection.is_local else []
            self._path = Path(self.connection, self._host_links, routes)
        return self._path

    def _refuse(self, path, what, why):
        raise ValidationError(path, f"refusing to {what} in the host namespace: {why} "
                                    "(set force: true to do it anyway)")

    def guard(self, link, ns, verb, force, path):
        """Never enslave, release, delete, down or re-size a link on the path of the connection."""
        if force or self.connection is None or ns.name is not None or link.index is None:
            return
        why = self.connection_path().link(link.name)
        if why:
            self._refuse(path, f"{verb} '{link.name}'", why)

    def guard_address(self, link, ns, cidr, force, path):
        """Never remove the address the connection uses (or, when that is unknown, the host's)."""
        if force or self.connection is None or ns.name is not None or link.index is None:
            return
        why = self.connection_path().addresses.get(cidr.split("/")[0])
        if why:
            self._refuse(path, f"remove address {cidr} from '{link.name}'", why)

    def guard_route(self, ns, entry, verb, subject_text, force, path):
        """Never delete or replace the route to the controller (the default routes when it is unknown)."""
        if force or self.connection is None or ns.name is not None or ns.planned:
            return
        why = self.connection_path().route(entry)
        if why:
            self._refuse(path, f"{verb} {subject_text}", why)

    def add(self, op, netns, subject, verb, **args):
        self.plan.actions.append(Action(op, netns, subject, verb, args))

    # ------------------------------------------------------------ resources

    def plan_resources(self, resources, path_of=lambda i, r: ""):
        for i, resource in enumerate(resources):
            path, first = path_of(i, resource), len(self.plan.actions)
            before, after = getattr(self, "plan_" + resource.kind)(resource, path)
            self.plan.diffs.append((before, after))
            for action in self.plan.actions[first:]:
                action.path = path
        self._one_nft_transaction_per_namespace()
        return self.plan

    def _one_nft_transaction_per_namespace(self):
        """Only the last rule action of a namespace writes its table, with the final rules."""
        last = {}
        for action in self.plan.actions:
            if action.op == "nft_rule":
                action.args["commit"] = False
                last[action.netns] = action
        for action in last.values():
            action.args.update(commit=True, rules=list(action.args["rules"].rules))  # the Table, as it ends

    def plan_netns(self, r, path):
        subject = f"namespace '{r.name}'"
        if r.state == "absent":
            # whether it exists is all a removal needs (what is inside goes with it, unread), unless
            # it may be somebody else's: then its loopback tells whether the collection made it
            known = self._namespaces.get(r.name, False)
            exists = self.reader.netns_exists(r.name) if known is False else known is not None
            before = {"name": r.name, "state": "present" if exists else "absent"}
            if not exists and self.reader.netns_stale(r.name):
                self.add("netns_del", None, subject, f"remove the stale file /run/netns/{r.name} (an interrupted "
                         "run or ip netns add left it)", name=r.name)
            ns = self.namespace(r.name, join(path, "name"), required=False) if exists and r.if_ours else None
            lo = ns.links.get("lo") if ns is not None else None
            if exists and r.if_ours and not (lo is not None and lo.ours):
                self.plan.warnings.append(f"{join(path, 'name')}: namespace '{r.name}' was not created by "
                                          "netfabric.netns: left in place")
            elif exists:
                self.add("netns_del", None, subject, "delete", name=r.name)
                self._namespaces[r.name] = None
                if self.forwarding_users is not None:
                    self.forwarding_users.forget(r.name)
            after = {"name": r.name, "state": "absent"}
            netns_files.plan(self, r, subject, before, after)
            return before, after
        ns = self.namespace(r.name, join(path, "name"), required=False)
        before = {"name": r.name, "state": "absent" if ns is None else "present"}
        stale = ns is None and self.reader.netns_stale(r.name)
        if ns is None:
            self.add("netns_add", None, subject, "create" + (f" (replacing the stale file /run/netns/{r.name})"
                                                             if stale else ""), name=r.name)
            ns = self._namespaces[r.name] = NetnsState(r.name, planned=True)
            ns.links["lo"] = Link("lo", None, mtu=65536)
        after = {"name": r.name, "state": "present"}
        lo = ns.links.get("lo")
        if lo is not None:
            before["loopback"] = lo.up if not ns.planned or lo.index is not None else False
            if r.loopback is not None:
                after["loopback"] = r.loopback
                if lo.up != r.loopback:
                    self.add("link_set", r.name, subject, "set loopback " + ("up" if r.loopback else "down"),
                             name="lo", up=r.loopback)
                    lo.up = r.loopback
        wanted = r.desired_sysctls()
        if wanted:
            before["sysctls"], after["sysctls"] = {}, {}
            for key, value in wanted.items():
                current = self.sysctl(ns, key, join(path, "sysctls"))
                before["sysctls"][key] = current
                after["sysctls"][key] = value
                if current != value:
                    self.add("sysctl_set", r.name, subject, f"set {key}={value}", key=key, value=value)
                    ns.sysctls[key] = value
        netns_files.plan(self, r, subject, before, after)
        return before, after

    def _link_absent(self, r, ns, name, kind, path, addresses=None):
        """Delete a link the collection made. One it did not make is only un-configured (the
        declared ``addresses`` removed) and left in place, unless ``force``.
        False: there is no such link."""
        link = ns.links.get(name) if ns is not None else None
        if link is None:
            return False
        if link.kind != kind:
            raise ValidationError(path, f"'{name}' in {where(ns.name)} is a {link.kind or 'device'}, not a {kind}")
        if not (link.ours or r.force):
            self.plan.warnings.append(f"{path}: {kind} '{name}' in {where(ns.name)} was not created by netfabric.netns: "
                                      "left in place (set force: true to delete it)")
            self._unconfigure(r, ns, link, kind, addresses, path)
            return True
        self.guard(link, ns, "delete", r.force, path)
        self.add("link_del", ns.name, f"{kind} '{name}' ({_short(ns.name)})", "delete", name=name)
        del ns.links[name]
        return True

    def _unconfigure(self, r, ns, link, kind, addresses, path):
        """Remove the listed addresses from a link (one the collection adopted, or netns_address's)."""
        for cidr in addresses or ():
            if cidr in link.addresses or cidr in link.link_local:
                self.guard_address(link, ns, cidr, r.force, path)
                self.add("addr_del", ns.name, f"{kind} '{link.name}' ({_short(ns.name)})", f"remove address {cidr}",
                         name=link.name, cidr=cidr)
                (link.addresses if cidr in link.addresses else link.link_local).remove(cidr)

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
            return before, {"name": name, "netns": netns, "state": "absent"}

        ns = self.namespace(netns, join(path, "netns"))
        pns = self.namespace(peer_netns, join(path, "peer_netns"))
        a, b = ns.links.get(name), pns.links.get(peer)
        for link, owner, p in ((a, ns, "name"), (b, pns, "peer")):
            if link is not None and link.kind != "veth":
                raise ValidationError(join(path, p), f"'{link.name}' exists in {where(owner.name)} as a "
                                      f"{link.kind or 'device'}, not a veth")
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
                    self.add("link_del", owner.name, f"veth '{link.name}' ({_short(owner.name)})",
                             "delete (not paired as declared)", name=link.name)
                    del owner.links[link.name]
            a = b = None
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
            verb = f"create with peer '{peer}' ({_short(peer_netns)})" + (f", mtu {r.mtu}" if r.mtu else "")
            if up or master:
                verb += f", '{first}'" + (" up" if up else "") + (f" on bridge '{master}'" if master else "")
            self.add("link_add_veth", netns, r.describe(), verb, name=name, peer=peer, peer_netns=peer_netns,
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

    def plan_bridge(self, r, path):
        if r.state == "absent":
            ns = self.namespace(r.netns, join(path, "netns"), required=False)
            before = _link_view(r, ns.links.get(r.name) if ns else None)
            self._link_absent(r, ns, r.name, "bridge", join(path, "name"), r.addresses)
            if ns is not None and self._owns_rules(ns, f"isolate {r.name}"):  # its isolation leaves with it
                self._plan_rules(ns, f"isolate {r.name}", [])
            return before, {"name": r.name, "netns": r.netns, "state": "absent"}
        ns = self.namespace(r.netns, join(path, "netns"))
        link = ns.links.get(r.name)
        if link is not None and link.kind != "bridge":
            raise ValidationError(join(path, "name"),
                                  f"'{r.name}' exists in {where(ns.name)} as a {link.kind or 'device'}, not a bridge")
        before = _link_view(r, link)
        if link is None:
            self.add("link_add_bridge", r.netns, r.describe(), "create" + (f", mtu {r.mtu}" if r.mtu else ""),
                     name=r.name, mtu=r.mtu)
            link = ns.links[r.name] = Link(r.name, None, kind="bridge", mtu=r.mtu or 1500, stp=False, ours=True,
                                           vlan_filtering=False)
        for option in ("stp", "vlan_filtering"):
            wanted = getattr(r, option)
            if wanted is not None and getattr(link, option) != wanted:
                self.add("bridge_set", r.netns, r.describe(), f"set {option} {'on' if wanted else 'off'}",
                         name=r.name, **{option: wanted})
                setattr(link, option, wanted)
        self._link_settings(r, ns, link, "bridge", r.addresses, r.mtu, r.up, path)
        after = _link_view(r, link)
        if r.isolate_subnet is not None:
            subnets = sorted({str(ipaddress.ip_interface(cidr).network) for cidr in link.addresses})
            rules = nft.isolation_rules(subnets, f"isolate {r.name}") if r.isolate_subnet else []
            before["isolate_subnet"] = bool(self.nft_table(ns).owned(f"isolate {r.name}"))
            self._plan_rules(ns, f"isolate {r.name}", rules)
            after["isolate_subnet"] = r.isolate_subnet
        return before, after

    def plan_vxlan(self, r, path):
        if r.state == "absent":
            ns = self.namespace(r.netns, join(path, "netns"), required=False)
            before = _link_view(r, ns.links.get(r.name) if ns else None)
            self._link_absent(r, ns, r.name, "vxlan", join(path, "name"), r.addresses)
            if ns is not None and self._owns_rules(ns, r.identity):
                self._plan_rules(ns, r.identity, [])
            return before, {"name": r.name, "netns": r.netns, "state": "absent"}
        ns = self.namespace(r.netns, join(path, "netns"))
        link = ns.links.get(r.name)
        if link is not None and link.kind != "vxlan":
            raise ValidationError(join(path, "name"),
                                  f"'{r.name}' exists in {where(ns.name)} as a {link.kind or 'device'}, not a vxlan")
        if r.dev:
            self.existing_link(ns, r.dev, join(path, "dev"))
        before = _link_view(r, link)
        if link is not None:
            before.update(vni=link.vni, dstport=link.dstport, local=link.local)
            if link.index is not None and link.remotes is None:
                link.remotes = self.reader.read_remotes(ns.name, link.index)
            before["remotes"] = list(link.remotes or [])
            changed = self._vxlan_identity_changes(r, ns, link)
            if changed:  # the kernel cannot change these on a live device
                if not (link.ours or r.force):
                    raise ValidationError(join(path, changed[0] if changed[0] != "port" else "dstport"),
                                          f"vxlan '{r.name}' in {where(ns.name)} exists with another "
                                          f"{', '.join(changed)}, and netfabric.netns did not create it: it is not "
                                          "recreated (remove it, or set force: true to replace it)")
                self.guard(link, ns, "delete", r.force, path)
                self.add("link_del", ns.name, r.describe(), f"delete ({', '.join(changed)} changed)", name=r.name)
                del ns.links[r.name]
                link = None
        if link is None:
            self.add("link_add_vxlan", ns.name, r.describe(),
                     f"create, vni {r.vni}, port {r.dstport}" + (f", local {r.local}" if r.local else "")
                     + (f", dev {r.dev}" if r.dev else "") + (f", mtu {r.mtu}" if r.mtu else ""),
                     name=r.name, vni=r.vni, dstport=r.dstport, local=r.local, dev=r.dev, mtu=r.mtu)
            link = ns.links[r.name] = Link(r.name, None, kind="vxlan", mtu=r.mtu or 1450, vni=r.vni, ours=True,
                                           dstport=r.dstport, local=r.local, remotes=[])
        if r.remotes is not None:
            for remote in r.remotes:
                if remote not in link.remotes:
                    self.add("fdb_append", ns.name, r.describe(), f"add remote {remote}", name=r.name, remote=remote)
            for remote in link.remotes:
                if remote not in r.remotes:
                    self.add("fdb_del", ns.name, r.describe(), f"remove remote {remote}", name=r.name, remote=remote)
            link.remotes = list(r.remotes)
            self._plan_rules(ns, r.identity, nft.vxlan_rules(r, r.identity))
        if r.bridge:
            self._attach(r, ns, link, r.bridge, join(path, "bridge"))
        self._link_settings(r, ns, link, "vxlan", r.addresses, r.mtu, r.up, path)
        after = _link_view(r, link)
        after.update(vni=r.vni, dstport=r.dstport, local=r.local, remotes=list(link.remotes or []), bridge=link.master)
        return before, after

    def _vxlan_identity_changes(self, r, ns, link):
        changed = []
        if link.vni != r.vni:
            changed.append("vni")
        if link.dstport != r.dstport:
            changed.append("port")
        if r.local is not None and link.local != r.local:
            changed.append("local")
        if r.dev is not None:
            dev = ns.links.get(r.dev)
            if dev is None or dev.index != link.dev_index:
                changed.append("dev")
        return changed

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
                self.add("link_master", r.netns, r.describe(), f"release '{r.port}'", name=r.port, master=None)
                port.master = None
            return before, {"bridge": r.bridge, "port": r.port, "netns": r.netns, "state": "absent"}
        self.existing_link(ns, r.bridge, join(path, "bridge"), kind="bridge", what="bridge")
        port = self.existing_link(ns, r.port, join(path, "port"))
        self._attach(r, ns, port, r.bridge, join(path, "port"))
        settings = {k: getattr(r, k) for k in ("hairpin", "isolated") if getattr(r, k) is not None}
        changes = {k: v for k, v in settings.items() if getattr(port, k) != v}
        if changes:
            text = ", ".join(f"{k} {'on' if v else 'off'}" for k, v in changes.items())
            self.add("brport_set", r.netns, r.describe(), f"set port '{r.port}' {text}", name=r.port, **changes)
            for key, value in changes.items():
                setattr(port, key, value)
        after = {"bridge": r.bridge, "port": r.port, "netns": r.netns, "state": "present"}
        after.update(hairpin=port.hairpin, isolated=port.isolated)
        return before, after

    def plan_address(self, r, path):
        ns = self.namespace(r.netns, join(path, "netns"), required=r.state == "present")
        link = ns.links.get(r.interface) if ns is not None else None
        before = {"interface": r.interface, "netns": r.netns, "addresses": _shown(link, r.addresses) if link else []}
        subject = f"interface '{r.interface}' ({_short(r.netns)})"
        if r.state == "absent":
            if link is not None:
                self._unconfigure(r, ns, link, "interface", r.addresses, join(path, "addresses"))
        else:
            link = self.existing_link(ns, r.interface, join(path, "interface"))
            for cidr in r.addresses:
                if cidr not in link.addresses and cidr not in link.link_local:
                    self.add("addr_add", r.netns, subject, f"add address {cidr}", name=r.interface, cidr=cidr)
                    link.addresses.append(cidr)
        return before, {"interface": r.interface, "netns": r.netns,
                        "addresses": _shown(link, r.addresses) if link else []}

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
                    self.add("route_del", r.netns, subject, "delete" + _via(entry.gateway, entry.dev),
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
            self.add("route_add", r.netns, subject, "add" + _via(r.gateway, r.dev), **_route_args(wanted))
            routes.append(wanted)
        elif current.gateway != r.gateway or (r.dev is not None and current.dev != r.dev):
            self.guard_route(ns, current, "replace", f"route {r.label()}", r.force, path)
            wanted.metric = current.metric
            self.add("route_replace", r.netns, subject,
                     f"replace{_via(current.gateway, current.dev)} with{_via(r.gateway, r.dev)}",
                     **_route_args(wanted))
            routes[routes.index(current)] = wanted
        else:
            wanted = current
        after = {"dst": r.label(), "netns": r.netns, "table": table}
        after.update(_route_view(wanted))
        return before, after

    # ------------------------------------------------------------ shared steps

    def _link_settings(self, r, ns, link, kind, addresses, mtu, up, path):
        """Addresses (the whole set), MTU and up/down of a link the collection owns."""
        subject = f"{kind} '{link.name}' ({_short(ns.name)})"
        if addresses is not None:
            # Removals first: deleting an IPv4 primary address makes the kernel delete the
            # secondaries of its subnet too, which would take a just-added address with it.
            for cidr in list(link.addresses):
                if cidr not in addresses and not is_link_local_v6(cidr):
                    self.guard_address(link, ns, cidr, r.force, join(path, "addresses"))
                    self.add("addr_del", ns.name, subject, f"remove address {cidr}", name=link.name, cidr=cidr)
            for cidr in addresses:
                if cidr not in link.addresses and cidr not in link.link_local:
                    self.add("addr_add", ns.name, subject, f"add address {cidr}", name=link.name, cidr=cidr)
            link.addresses = list(addresses) + [a for a in link.addresses if is_link_local_v6(a) and a not in addresses]
        if mtu is not None and link.mtu != mtu:
            self.guard(link, ns, "change the MTU of", r.force, join(path, "mtu"))
            self.add("link_set", ns.name, subject, f"set mtu {mtu}", name=link.name, mtu=mtu)
            link.mtu = mtu
        if up is not None and link.up != up:
            if not up:
                self.guard(link, ns, "take down", r.force, join(path, "up"))
            self.add("link_set", ns.name, subject, "set up" if up else "set down", name=link.name, up=up)
            link.up = up

    def _attach(self, r, ns, link, bridge, path):
        if link.master == bridge:
            return
        self.existing_link(ns, bridge, path, kind="bridge", what="bridge")
        self.guard(link, ns, "enslave", r.force, path)
        self.add("link_master", ns.name, f"bridge '{bridge}' ({_short(ns.name)})", f"enslave '{link.name}'",
                 name=link.name, master=bridge)
        link.master = bridge

    # ------------------------------------------------------------ nftables

    def nft_table(self, ns):
        if ns.nft is None:
            ns.nft = nft.Table() if ns.planned else nft.Table(*self.reader.read_nft(ns.name))
        return ns.nft

    def _owns_rules(self, ns, identity):
        """Whether ``identity`` has rules here; False where nftables is not installed."""
        try:
            return bool(self.nft_table(ns).owned(identity))
        except nft.NftUnavailable:
            return False

    def _plan_rules(self, ns, identity, rules):
        """Make ``rules`` the whole set owned by ``identity``; one action per rule changed."""
        table = self.nft_table(ns)
        before = [rule.text for rule in table.owned(identity)]
        table.set_owner(identity, rules)
        removed, added, reordered = table.pending()
        steps = [f"remove rule {rule.text}" for rule in removed] + [f"add rule {rule.text}" for rule in added]
        if reordered:
            steps.append("restore the order of its rules")
        subject = f"nftables table {nft.FAMILY} {nft.TABLE} ({_short(ns.name)})"
        for verb in steps:  # plan_resources makes the last one of the namespace commit the table
            self.add("nft_rule", ns.name, subject, verb, rules=table, commit=False)
        return before, [rule.text for rule in table.owned(identity)], bool(steps)

    def _need_forwarding(self, ns, r, path, uplink=None):
        """A resource with ``forwarding`` (masquerade, port forward) turns routing on while it is
        present; when it goes (or stops asking), what the collection turned on for it goes back."""
        if r.state == "present" and r.forwarding:
            self._forwarding(ns, r.family, join(path, "forwarding"), uplink=uplink, user=r.identity)
        else:
            self._release_forwarding(ns, r.identity)

    def _release_forwarding(self, ns, user):
        """Turn back off what the collection turned on, once its last user is gone, unless another
        firewall (Docker, libvirt, firewalld) may route through it."""
        if self.forwarding_users is None or ns.planned:
            return
        for key, value in sorted(self.forwarding_users.leave(ns.name, user).items()):
            if self.sysctl(ns, key, "forwarding") == value:
                continue
            others = self.nft_table(ns).foreign_forwarders if self._has_nft(ns) else []
            if others:
                self.plan.warnings.append(f"{key} in {where(ns.name)} stays {self.sysctl(ns, key, 'forwarding')}: "
                                          f"netfabric.netns turned it on and no longer needs it, but table "
                                          f"{others[0]} may (turn it off by hand if nothing does)")
                continue
            self.add("sysctl_set", ns.name, f"namespace '{ns.name}'" if ns.name else "the host namespace",
                     f"set {key}={value} (as before netfabric.netns turned it on)", key=key, value=value)
            ns.sysctls[key] = value

    def _has_nft(self, ns):
        try:
            self.nft_table(ns)
            return True
        except nft.NftUnavailable:
            return False

    def _forwarding(self, ns, family, path, uplink=None, user=None):
        """Routing on in the namespace; for IPv6 first accept_ra=2 on the uplinks (``uplink``,
        else the devices of the IPv6 default routes), or forwarding=1 makes them ignore
        router advertisements (and lose a SLAAC route). ``user``: the resource that needs it,
        recorded where the collection turns it on."""
        subject = f"namespace '{ns.name}'" if ns.name else "the host namespace"
        if family == 6:
            for dev in [uplink] if uplink else self._ipv6_default_devs(ns):
                link = ns.links.get(dev)
                if link is None or link.index is None:
                    continue
                key = sysctl_key("net", "ipv6", "conf", dev, "accept_ra")
                if self.sysctl(ns, key, path) == "1":
                    self.add("sysctl_set", ns.name, subject, f"set {key}=2", key=key, value="2")
                    ns.sysctls[key] = "2"
        key = "net.ipv4.ip_forward" if family == 4 else "net.ipv6.conf.all.forwarding"
        current = self.sysctl(ns, key, path)
        if current != "1":
            self.add("sysctl_set", ns.name, subject, f"set {key}=1", key=key, value="1")
            ns.sysctls[key] = "1"
            if self.forwarding_users is not None and user and not ns.planned:
                self.forwarding_users.turned_on(ns.name, key, current, user)
        elif self.forwarding_users is not None and user:
            self.forwarding_users.join(ns.name, key, user)

    def _warn_foreign_drops(self, ns, what, family):
        for chain in self.nft_table(ns).foreign_drops:
            if chain.split(" ", 1)[0] not in ("inet", "ip" if family == 4 else "ip6"):
                continue  # an ip table cannot drop IPv6 traffic, nor ip6 IPv4
            self.plan.warnings.append(
                f"table {chain.rsplit(' ', 1)[0]} chain {chain.rsplit(' ', 1)[1]} in {where(ns.name)} drops forwarded "
                f"packets by policy (Docker sets FORWARD to drop): the accepts in table {nft.FAMILY} {nft.TABLE} "
                f"cannot override another table's drop, so {what} may not pass; accept it in that chain too "
                f"(with Docker: iptables -I DOCKER-USER ... -j ACCEPT)")

    def _ipv6_default_devs(self, ns):
        if ns.planned:
            return []
        return sorted({r.dev for r in self.routes(ns) if r.dst == "::/0" and r.dev})

    def _plan_owner(self, r, path, fields, build_rules):
        """The common part of a resource made of nft rules: its namespace, its rules (built by
        ``build_rules(ns)`` when present) and its before/after views. ns is None when the
        namespace is gone (and the resource absent)."""
        ns = self.namespace(r.netns, join(path, "netns"), required=r.state == "present")
        if ns is None:
            return None, dict(fields, state="absent", rules=[]), dict(fields, state="absent", rules=[]), False
        rules = build_rules(ns) if r.state == "present" else []
        before, after, changed = self._plan_rules(ns, r.identity, rules)
        return (ns, dict(fields, state="present" if before else "absent", rules=before),
                dict(fields, state=r.state, rules=after), changed)

    def plan_masquerade(self, r, path):
        def rules(ns):
            if r.out_interface:
                self.existing_link(ns, r.out_interface, join(path, "out_interface"))
            return nft.masquerade_rules(r.source, r.out_interface, r.identity)

        fields = {"source": r.source, "out_interface": r.out_interface, "netns": r.netns}
        ns, before, after, unused = self._plan_owner(r, path, fields, rules)
        if ns is not None:
            self._need_forwarding(ns, r, path, uplink=r.out_interface)
        if ns is not None and r.state == "present":
            self._warn_foreign_drops(ns, f"traffic from {r.source}", r.family)
            after["forwarding"] = r.forwarding
        return before, after

    def plan_port_forward(self, r, path):
        def rules(ns):
            self._guard_connection_port(r, ns, path)
            if r.in_interface:
                self.existing_link(ns, r.in_interface, join(path, "in_interface"))
            return nft.port_forward_rules(r, r.identity, self._connected_subnet(ns, r.destination))

        fields = {"protocol": r.protocol, "port": r.port_text, "host_address": r.host_address, "netns": r.netns}
        ns, before, after, changed = self._plan_owner(r, path, fields, rules)
        if changed and r.protocol == "udp":
            first, last = r.ports
            self.add("conntrack_flush", ns.name, r.describe(), f"forget conntrack entries of udp ports {r.port_text}",
                     protocol="udp", first=first, last=last, keep=r.destination if r.state == "present" else None)
        if ns is not None:
            self._need_forwarding(ns, r, path)
        if ns is not None and r.state == "present":
            self._warn_foreign_drops(ns, f"traffic to {r.destination}", r.family)
            after.update(forwarding=r.forwarding, destination=r.destination,
                         destination_port=r.destination_port or r.ports[0], in_interface=r.in_interface)
        return before, after

    def plan_forwarding(self, r, path):
        """Routing in the host namespace on (or off), for IPv4 and, when used, IPv6."""
        ns = self.namespace(None, path)
        families = (4, 6) if r.ipv6 else (4,)
        before = {key: self.sysctl(ns, key, path) for key in _FORWARDING_KEYS[:len(families)]}
        if r.state == "absent":
            self._release_forwarding(ns, r.owner)
        elif r.enabled:
            for family in families:
                self._forwarding(ns, family, path, user=r.owner)
        else:
            self._release_forwarding(ns, r.owner)
            for key in before:
                if self.sysctl(ns, key, path) != "0":
                    self.add("sysctl_set", None, "the host namespace", f"set {key}=0", key=key, value="0")
                    ns.sysctls[key] = "0"
        return {"forwarding": before}, {"forwarding": {key: ns.sysctls[key] for key in before}}

    def plan_policy(self, r, path):
        fields = {"source": r.source, "destination": r.destination, "protocol": r.protocol,
                  "port": r.port_text if r.ports else None, "netns": r.netns}
        ns, before, after, unused = self._plan_owner(r, path, fields, lambda ns: nft.policy_rules(r, r.identity))
        if ns is not None and r.state == "present":
            if r.action == "accept":
                self._warn_foreign_drops(ns, f"what {r.identity} accepts", r.family)
            after["action"] = r.action
        return before, after

    def plan_nat_exemption(self, r, path):
        fields = {"source": r.source, "destination": r.destination, "netns": r.netns}
        unused, before, after, unused_changed = self._plan_owner(
            r, path, fields, lambda ns: nft.nat_exemption_rules(r, r.identity))
        return before, after

    def _connected_subnet(self, ns, destination):
        """The subnet of this namespace that holds ``destination``, for the hairpin masquerade."""
        target = ipaddress.ip_address(destination)
        for link in ns.links.values():
            for cidr in link.addresses:
                network = ipaddress.ip_interface(cidr).network
                if target.version == network.version and target in network and network.prefixlen < network.max_prefixlen:
                    return str(network)
        return None

    def _guard_connection_port(self, r, ns, path):
        """Never forward away the port Ansible reaches this host on."""
        port = self.connection.port if self.connection is not None else None
        if r.force or ns.name is not None or port is None or r.protocol != "tcp":
            return
        first, last = r.ports
        if not first <= port <= last:
            return
        hit = sorted(a for a in self.connection_path().addresses if r.host_address in (None, a))
        if hit:
            raise ValidationError(join(path, "port"), f"refusing to forward tcp port {port} of {hit[0]}: it is the "
                                  "port of the Ansible connection (set force: true to do it anyway)")

    def _guard_diversion(self, r, ns, path):
        """Never add a route that takes the controller's traffic off the route it uses."""
        if r.force or self.connection is None or ns.name is not None or ns.planned:
            return
        why = self.connection_path().diverted(r.dst, r.table)
        if why:
            self._refuse(path, f"add route {r.label()}", why)


def _short(netns):
    return f"netns {netns}" if netns else "host"


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
