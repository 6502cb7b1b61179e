# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One entry point for every module: read, plan, apply (private to the collection)."""

from __future__ import annotations

import functools
import gc
import ipaddress
import signal
from contextlib import contextmanager

from ansible_collections.netfabric.netns.plugins.module_utils import ops
from ansible_collections.netfabric.netns.plugins.module_utils import diagram
from ansible_collections.netfabric.netns.plugins.module_utils import facts as netfacts
from ansible_collections.netfabric.netns.plugins.module_utils.errors import Interrupted, ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.hostfiles import (
    LOCK_TIMEOUT, STATE_DIR, Journal, Settings, host_lock)
from ansible_collections.netfabric.netns.plugins.module_utils.kernel import Applier
from ansible_collections.netfabric.netns.plugins.module_utils.namespaces import Namespaces
from ansible_collections.netfabric.netns.plugins.module_utils.nft import NftUnavailable
from ansible_collections.netfabric.netns.plugins.module_utils.planner import Planner
from ansible_collections.netfabric.netns.plugins.module_utils.rtnl import AnswerError, NetlinkError
from ansible_collections.netfabric.netns.plugins.module_utils.statefile import (
    StateFile, others_claims, recorded_topologies)
from ansible_collections.netfabric.netns.plugins.module_utils.topology import check_claims, claims, mark_created
from ansible_collections.netfabric.netns.plugins.module_utils.topology import check as topology_check
from ansible_collections.netfabric.netns.plugins.module_utils.topology import desired as topology_desired
from ansible_collections.netfabric.netns.plugins.module_utils.topology import parse as topology_parse
from ansible_collections.netfabric.netns.plugins.module_utils.reader import KernelReader

# pyroute2 makes some hundred short-lived objects per netlink message; with Python's default
# threshold (700) the collector ran every few messages, each time over everything alive:
# a third of a re-run at 1,000 namespaces. Collecting seldom costs a few MiB at most.
GC_THRESHOLD = (100000, 50, 1000)


def collecting_seldom(func):
    """Run ``func`` with the garbage collector's first threshold raised (restored after)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        before = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLD)
        try:
            return func(*args, **kwargs)
        finally:
            gc.set_threshold(*before)
    return wrapper


@collecting_seldom
def converge(resources, check_mode=False, connection=None, lock_timeout=LOCK_TIMEOUT, state_dir=STATE_DIR):
    """Bring the host to the desired resources; returns the plan and what happened.

    Validation of each resource already happened when it was built; the planner
    adds the checks that need the host (missing namespaces, kinds, references).
    In check mode the same plan is computed and nothing is applied. Removing what a
    topology on this host records is refused: its own run removes it.
    """
    with host_lock(state_dir, lock_timeout), _session(check_mode, connection, state_dir) as session:
        absent = [r for r in resources if r.state == "absent"]
        if absent:
            others = others_claims(state_dir, None)
            for resource in absent:
                taken = sorted({others[c] for c in claims(resource) if c in others})
                if taken:
                    raise ValidationError("", f"{resource.describe()} belongs to topology '{taken[0][0]}' (recorded "
                                              f"in {taken[0][1]}): remove it from that topology instead")
        plan, warnings = session.plan_and_apply(resources, lambda i, r: "")
    return {
        "changed": plan.changed,
        "actions": [action.text for action in plan.actions],
        "warnings": warnings,
        "diffs": plan.diffs,
    }


@collecting_seldom
def converge_topology(topology, name="default", state="present", prune=False, check_mode=False,
                      connection=None, force=False, state_dir=STATE_DIR, lock_timeout=LOCK_TIMEOUT, annotations=None):
    """netns_topology: validate the whole topology, plan every resource, apply in order.

    Nothing is changed when validation or planning fails. Before the first change the
    state file records everything the topology may make, so that a run killed at any
    moment leaves a record the next run (or state=absent) converges from; when the kernel
    refuses a step (or the run is interrupted), the links and namespaces this run created
    are removed again (the applier's rollback) and the record stays. ``annotations`` (None:
    keep what is recorded) are kept with the record.
    """
    items, forwarding = topology_parse(topology, force=force)  # no host access: before the lock
    state_file = StateFile(state_dir, name)
    drawn = {}
    with host_lock(state_dir, lock_timeout), _session(check_mode, connection, state_dir) as session:
        recorded, warnings = state_file.load(tolerant=state == "absent")
        others = others_claims(state_dir, name)
        if state == "present":
            check_claims(items, others)
            topology_check(items, session.planner.reader.netns_exists, lambda netns: _subnets(session.planner, netns),
                           forwarding)
        ordered, record, notes = topology_desired(items, forwarding, state, recorded, prune, others, name)
        warnings += notes
        kept = {} if state == "absent" else state_file.annotations if annotations is None else annotations

        def record_first(plan):
            mark_created(record, {a.args["name"] for a in plan.actions if a.op == ops.NETNS_ADD.name})
            state_file.save({**recorded, **record}, kept)  # whatever may exist from here on stays known

        def draw():
            drawn["diagram"] = diagram.mermaid(diagram.host_graph(netfacts.planned(session.namespaces,
                                                                                   session.planner)))

        plan, run_warnings = session.plan_and_apply([r for unused, r in ordered], lambda i, r: ordered[i][0],
                                                    on_plan=draw, before_apply=record_first)
        noted = [] if kept == state_file.annotations or state == "absent" else [
            f"topology '{name}': record its annotations in {state_file.path}"]
        if not check_mode:
            state_file.save(record, kept)
    paths = [path for path, unused in ordered]
    return {
        "changed": plan.changed or bool(noted),
        "actions": [action.text for action in plan.actions] + noted,
        "warnings": warnings + run_warnings,
        "diff": {"before": {p: d[0] for p, d in zip(paths, plan.diffs)},
                 "after": {p: d[1] for p, d in zip(paths, plan.diffs)}},
        "resources": paths,
        "state_file": state_file.path,
        "diagram": drawn["diagram"],
    }


class _Session:
    """One run on the host: the namespaces (a socket each while in use), the journal of links
    being created, and a planner reading through them."""

    def __init__(self, check_mode, connection, state_dir):
        self.check_mode = check_mode
        self.journal = Journal(state_dir)
        self.pending = self.journal.load()
        self.settings = Settings(state_dir)
        self.namespaces = Namespaces()
        self.planner = Planner(KernelReader(self.namespaces, self.pending), check_mode, connection,
                               self.settings)

    def plan_and_apply(self, resources, path_of, on_plan=None, before_apply=None):
        """(plan, warnings): the plan of all resources, applied unless in check mode. ``on_plan()``
        runs after planning; ``before_apply(plan)`` right before the first change."""
        plan = self.planner.plan_resources(resources, path_of)
        if on_plan is not None:
            on_plan()
        warnings = list(plan.warnings)
        if plan.actions and not self.check_mode:
            creating = {(a.netns, a.args["name"]) for a in plan.actions if a.op in ops.CREATES_LINK}
            creating |= {(a.args["peer_netns"], a.args["peer"]) for a in plan.actions if a.op == ops.LINK_ADD_VETH.name}
            if before_apply is not None:
                before_apply(plan)
            self.journal.save(self.pending | creating)
            self.settings.save()
            applier = Applier(self.namespaces, self.planner.reader.indexes())
            try:
                with _signals_interrupt():
                    applier.apply(plan.actions)
            finally:
                warnings.extend(applier.warnings)
                # what this run read is settled: marked by it, or gone; the rest stays pending
                read = self.planner.reader.read_namespaces()
                self.journal.save({(netns, link) for netns, link in self.pending if netns not in read})
        return plan, warnings

    def close(self):
        self.namespaces.close()


@contextmanager
def _session(check_mode, connection, state_dir):
    session = _Session(check_mode, connection, state_dir)
    try:
        yield session
    finally:
        session.close()


@contextmanager
def _signals_interrupt():
    """SIGTERM and SIGINT raise Interrupted while the plan is applied, so the applier rolls back
    (by default SIGTERM ends the process on the spot, half-made)."""
    def interrupt(signum, unused_frame):
        raise Interrupted(f"interrupted by {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _subnets(planner, netns):
    """Subnets connected to a namespace that exists (for the topology's gateway check)."""
    state = planner.namespace(netns, "netns", required=False)
    if state is None or state.planned:
        return []
    return [str(ipaddress.ip_interface(cidr).network) for link in state.links.values() for cidr in link.addresses]


@collecting_seldom
def describe(netns=None, state_dir=STATE_DIR):
    """Facts: namespaces, and per namespace its links (with veth peers resolved) and routes; the
    topologies recorded on the host."""
    namespaces = Namespaces()
    try:
        reader = KernelReader(namespaces)
        names = namespaces.names()
        wanted = [None] + names if netns is None else [netns]
        states = {}
        for name in wanted:
            if not namespaces.exists(name):
                continue
            state = reader.read(name)
            for link in state.links.values():
                if link.kind == "vxlan":
                    link.remotes = reader.read_remotes(name, link.index)
            state.routes = {None: reader.read_routes(name)}
            try:
                state.nft = reader.read_nft(name)[0]
            except NftUnavailable:  # no nftables on this host: nothing of ours can be there
                state.nft = []
            states[name] = state
        nsids = _nsids(namespaces, states)
    finally:
        namespaces.close()
    topologies = recorded_topologies(state_dir)
    result = {
        "namespaces": names,
        "warnings": [f"/run/netns/{name} is a plain file, not a namespace (an interrupted run or ip netns add "
                     "left it): skipped; netfabric.netns.netns with state=absent removes it"
                     for name in namespaces.stale_names()]
        + [warning for facts in topologies.values() for warning in facts.pop("warnings")],
        "topologies": topologies,
        "host": _facts(states[None], states, nsids) if None in states else None,
        "netns": {name: _facts(state, states, nsids) for name, state in states.items() if name is not None},
    }
    result["diagram"] = diagram.mermaid(diagram.host_graph(result))
    return result


def _nsids(namespaces, states):
    """For each read namespace: nsid -> name, for the namespaces its links lead to (a veth's
    peer, a macvlan's parent).

    Linear in the number of such links: a veth's peer can only be a link, in another read
    namespace, whose index is the veth's peer index and whose own peer index is the veth's
    (a veth pair points both ways); a parent, a link with the index the child points to.
    Each candidate is confirmed with one namespace-id request, and each id is resolved
    once per namespace."""
    ends = {}  # (index, peer index) of veths whose peer is elsewhere -> their namespaces
    by_index = {}  # index -> namespaces that have a link with it
    for name, state in states.items():
        for link in state.links.values():
            by_index.setdefault(link.index, []).append(name)
            if link.peer_nsid is not None and link.peer_index:
                ends.setdefault((link.index, link.peer_index), []).append(name)
    table = {}
    for name, state in states.items():
        seen = table[name] = {}
        for link in state.links.values():
            if link.peer_nsid is None or link.peer_nsid in seen:
                continue
            candidates = ends.get((link.peer_index, link.index), []) if link.kind == "veth" \
                else by_index.get(link.peer_index, [])
            for other in candidates:
                if other == name or other in seen.values():
                    continue
                try:
                    nsid = namespaces.rtnl(name).netnsid(namespaces.fd(other))
                except (OSError, NetlinkError, AnswerError):
                    nsid = None
                if nsid is not None:
                    seen[nsid] = other
                if nsid == link.peer_nsid:
                    break
    return table


def _facts(state, states, nsids):
    def peer_of(where, link):
        """(name, namespace) of a veth's peer or a macvlan's parent, from the namespace ids."""
        peer_ns = where.name if link.peer_nsid is None else nsids[where.name].get(link.peer_nsid, "?")
        peer_state = states.get(peer_ns) if peer_ns != "?" else None
        peer = peer_state.link_by_index(link.peer_index) if peer_state is not None else None
        return (peer.name, peer_ns) if peer else (None, None)

    return netfacts.namespace_facts(state, peer_of, state.routes[None], state.nft)
