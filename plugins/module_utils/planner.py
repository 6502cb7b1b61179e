# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state + observed state -> ordered actions (private to the collection).

The planner never touches the kernel: it asks a reader for observed state, one
namespace at a time, and returns the list of actions that check mode reports,
diff mode shows and the applier executes. Resources are planned in order; what
an earlier resource will create is recorded in the observed state, so that a
later one (or a later task in check mode) can refer to it.

The work is split by domain: this file holds the view of the host, the connection guard,
namespaces and the plan itself; plan_links.py links, addresses and routes; plan_vxlan.py
VXLAN devices; plan_macvlan.py macvlans and ipvlans; plan_rules.py nftables rules and forwarding;
coexist.py the openings in Docker's and firewalld's rules. Each resource kind has one planning
method, registered with ``ops.plans``; each action is of an op declared in ops.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

from ansible_collections.netfabric.netns.plugins.module_utils import netns_files, ops
from ansible_collections.netfabric.netns.plugins.module_utils.coexist import CoexistPlanning
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError, where
from ansible_collections.netfabric.netns.plugins.module_utils.guard import Path
from ansible_collections.netfabric.netns.plugins.module_utils.checks import join
from ansible_collections.netfabric.netns.plugins.module_utils.observed import MARK, Link, NetnsState
from ansible_collections.netfabric.netns.plugins.module_utils.plan_links import RT_TABLE_MAIN, LinkPlanning
from ansible_collections.netfabric.netns.plugins.module_utils.plan_macvlan import MacvlanPlanning
from ansible_collections.netfabric.netns.plugins.module_utils.plan_rules import FORWARDING_KEYS, RulePlanning
from ansible_collections.netfabric.netns.plugins.module_utils.plan_vxlan import VxlanPlanning

# Values of a namespace the kernel has just created, so a new namespace is not
# reported as changing them to what they already are.
FRESH_NETNS_SYSCTLS = dict.fromkeys(FORWARDING_KEYS, "0")


def _per_interface(key):
    """net.ipv4.conf.eth0.x and the like exist only where that interface does."""
    parts = key.split(".")
    return len(parts) > 4 and parts[2] in ("conf", "neigh") and parts[3] not in ("all", "default")


@dataclass
class Action:
    op: str  # the name of its ops.Op: what the applier does
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


class Planner(LinkPlanning, VxlanPlanning, MacvlanPlanning, RulePlanning, CoexistPlanning):
    """Plans resources one after another against one lazily read view of the host."""

    def __init__(self, reader, check_mode=False, connection=None, settings=None):
        """connection: what is known of Ansible's connection (guard.Connection); None (library
        use, tests of planning alone) guards nothing. settings: the record of the settings the
        collection changed for resources (hostfiles.Settings); None keeps none."""
        self.reader = reader
        self.check_mode = check_mode
        self.connection = connection
        self.settings = settings
        self.plan = Plan()
        # (netns, name) -> (netns, name) of existing veth ends planned as paired, both ways
        self.veth_pairs = {}
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
                self.add(ops.LINK_MARK, ns.name, f"{link.kind or 'link'} '{link.name}' ({where(ns.name, short=True)})",
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
            self.wrong_kind(path, ns, link, kind)
        return link

    @staticmethod
    def wrong_kind(path, ns, link, kind):
        """A link that exists with another kind than declared is an error: never replaced."""
        raise ValidationError(path, f"'{link.name}' exists in {where(ns.name)} as a {link.kind or 'device'}, "
                                    f"not a {kind}")

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
        """Plan an action of ``op`` (an ops.Op) with the arguments that op takes."""
        self.plan.actions.append(Action(op.name, netns, subject, verb, op.check(args)))

    # ------------------------------------------------------------ resources

    def plan_resources(self, resources, path_of=lambda i, r: ""):
        for i, resource in enumerate(resources):
            path, first = path_of(i, resource), len(self.plan.actions)
            before, after = ops.PLANNERS[resource.kind](self, resource, path)
            self.plan.diffs.append((before, after))
            for action in self.plan.actions[first:]:
                action.path = path
        self._one_nft_transaction_per_namespace()
        return self.plan

    def _one_nft_transaction_per_namespace(self):
        """Only the last rule action of a namespace writes its table, with the final rules."""
        last = {}
        for action in self.plan.actions:
            if action.op == ops.NFT_RULE.name:
                action.args["commit"] = False
                last[action.netns] = action
        for action in last.values():
            action.args.update(commit=True, rules=list(action.args["rules"].rules))  # the Table, as it ends

    @ops.plans("netns")
    def plan_netns(self, r, path):
        subject = f"namespace '{r.name}'"
        if r.state == "absent":
            # whether it exists is all a removal needs (what is inside goes with it, unread), unless
            # it may be somebody else's: then its loopback tells whether the collection made it
            known = self._namespaces.get(r.name, False)
            exists = self.reader.netns_exists(r.name) if known is False else known is not None
            before = {"name": r.name, "state": "present" if exists else "absent"}
            if not exists and self.reader.netns_stale(r.name):
                self.add(ops.NETNS_DEL, None, subject, f"remove the stale file /run/netns/{r.name} (an interrupted "
                         "run or ip netns add left it)", name=r.name)
            ns = self.namespace(r.name, join(path, "name"), required=False) if exists and r.if_ours else None
            lo = ns.links.get("lo") if ns is not None else None
            if exists and r.if_ours and not (lo is not None and lo.ours):
                self.plan.warnings.append(f"{join(path, 'name')}: namespace '{r.name}' was not created by "
                                          "netfabric.netns: left in place")
            elif exists:
                self.add(ops.NETNS_DEL, None, subject, "delete", name=r.name)
                self._namespaces[r.name] = None
                if self.settings is not None:
                    self.settings.forget(r.name)
            after = {"name": r.name, "state": "absent"}
            netns_files.plan(self, r, subject, before, after)
            return before, after
        ns = self.namespace(r.name, join(path, "name"), required=False)
        before = {"name": r.name, "state": "absent" if ns is None else "present"}
        stale = ns is None and self.reader.netns_stale(r.name)
        if ns is None:
            verb = "create" + (f" (replacing the stale file /run/netns/{r.name})" if stale else "")
            self.add(ops.NETNS_ADD, None, subject, verb, name=r.name)
            ns = self._namespaces[r.name] = NetnsState(r.name, planned=True)
            ns.links["lo"] = Link("lo", None, mtu=65536)
        after = {"name": r.name, "state": "present"}
        lo = ns.links.get("lo")
        if lo is not None:
            before["loopback"] = lo.up if not ns.planned or lo.index is not None else False
            if r.loopback is not None:
                after["loopback"] = r.loopback
                if lo.up != r.loopback:
                    self.add(ops.LINK_SET, r.name, subject, "set loopback " + ("up" if r.loopback else "down"),
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
                    self.add(ops.SYSCTL_SET, r.name, subject, f"set {key}={value}", key=key, value=value)
                    ns.sysctls[key] = value
        netns_files.plan(self, r, subject, before, after)
        return before, after
