# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One entry point for every module: read, plan, apply (private to the collection)."""

from __future__ import annotations

import fcntl
import functools
import gc
import ipaddress
import os
from contextlib import contextmanager

from ansible_collections.netfabric.netns.plugins.module_utils import diagram
from ansible_collections.netfabric.netns.plugins.module_utils import facts as netfacts
from ansible_collections.netfabric.netns.plugins.module_utils.errors import KernelError
from ansible_collections.netfabric.netns.plugins.module_utils.kernel import Applier, KernelReader
from ansible_collections.netfabric.netns.plugins.module_utils.namespaces import Namespaces
from ansible_collections.netfabric.netns.plugins.module_utils.nft import NftError
from ansible_collections.netfabric.netns.plugins.module_utils.planner import Planner
from ansible_collections.netfabric.netns.plugins.module_utils.topology import StateFile
from ansible_collections.netfabric.netns.plugins.module_utils.topology import check as topology_check
from ansible_collections.netfabric.netns.plugins.module_utils.topology import desired as topology_desired
from ansible_collections.netfabric.netns.plugins.module_utils.topology import parse as topology_parse


STATE_DIR = "/var/lib/netfabric"
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


@contextmanager
def host_lock():
    """Serialises runs on one host (two playbooks, or AWX and a shell): read, plan and
    apply see no other run's half-made changes."""
    os.makedirs(STATE_DIR, mode=0o755, exist_ok=True)
    with open(os.path.join(STATE_DIR, "lock"), "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@collecting_seldom
def converge(resources, check_mode=False, protected_addresses=(), path_of=lambda i, r: "", connection_port=None):
    """Bring the host to the desired resources; returns the plan and what happened.

    Validation of each resource already happened when it was built; the planner
    adds the checks that need the host (missing namespaces, kinds, references).
    In check mode the same plan is computed and nothing is applied.
    """
    with host_lock(), _session(check_mode, protected_addresses, connection_port) as (namespaces, planner):
        plan, warnings = _plan_and_apply(namespaces, planner, resources, path_of, check_mode)
    return {
        "changed": plan.changed,
        "actions": [action.text for action in plan.actions],
        "warnings": warnings,
        "diffs": plan.diffs,
    }


@collecting_seldom
def converge_topology(topology, name="default", state="present", prune=False, check_mode=False,
                      protected_addresses=(), connection_port=None, force=False, state_dir=STATE_DIR):
    """netns_topology: validate the whole topology, plan every resource, apply in order.

    Nothing is changed when validation or planning fails. When the kernel refuses a
    step, the links and namespaces this run created are removed again (the applier's
    rollback) and the state file keeps everything this topology may have made, so a
    later run (or state=absent) converges.
    """
    items, forwarding = topology_parse(topology, force=force)  # no host access: before the lock
    state_file = StateFile(state_dir, name)
    drawn = {}
    with host_lock(), _session(check_mode, protected_addresses, connection_port) as (namespaces, planner):
        recorded = state_file.load()
        if state == "present":
            topology_check(items, planner.reader.netns_exists, lambda netns: _subnets(planner, netns))
        ordered, record = topology_desired(items, forwarding, state, recorded, prune)
        try:
            plan, warnings = _plan_and_apply(
                namespaces, planner, [r for unused, r in ordered], lambda i, r: ordered[i][0], check_mode,
                on_plan=lambda: drawn.update(diagram=diagram.mermaid(diagram.host_graph(
                    netfacts.planned(namespaces, planner)))))
        except KernelError:
            state_file.save({**recorded, **record})  # whatever may exist stays known
            raise
        if not check_mode:
            state_file.save(record)
    paths = [path for path, unused in ordered]
    return {
        "changed": plan.changed,
        "actions": [action.text for action in plan.actions],
        "warnings": warnings,
        "diff": {"before": {p: d[0] for p, d in zip(paths, plan.diffs)},
                 "after": {p: d[1] for p, d in zip(paths, plan.diffs)}},
        "resources": paths,
        "state_file": state_file.path,
        "diagram": drawn["diagram"],
    }


@contextmanager
def _session(check_mode, protected_addresses, connection_port):
    """The namespaces (one socket each while in use) and a planner reading through them."""
    namespaces = Namespaces()
    try:
        yield namespaces, Planner(KernelReader(namespaces), check_mode, protected_addresses, connection_port)
    finally:
        namespaces.close()


def _plan_and_apply(namespaces, planner, resources, path_of, check_mode, on_plan=None):
    """(plan, warnings): the plan of all resources, applied unless in check mode (``on_plan()``
    runs in between)."""
    plan = planner.plan_resources(resources, path_of)
    if on_plan is not None:
        on_plan()
    warnings = list(plan.warnings)
    if plan.actions and not check_mode:
        applier = Applier(namespaces, planner.reader.indexes())
        try:
            applier.apply(plan.actions)
        finally:
            warnings.extend(applier.warnings)
    return plan, warnings


def _subnets(planner, netns):
    """Subnets connected to a namespace that exists (for the topology's gateway check)."""
    state = planner.namespace(netns, "netns", required=False)
    if state is None or state.planned:
        return []
    return [str(ipaddress.ip_interface(cidr).network) for link in state.links.values() for cidr in link.addresses]


@collecting_seldom
def describe(netns=None):
    """Facts: namespaces, and per namespace its links (with veth peers resolved) and routes."""
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
            except NftError:  # no nftables on this host: nothing of ours can be there
                state.nft = []
            states[name] = state
        nsids = _nsids(namespaces, states)
    finally:
        namespaces.close()
    result = {
        "namespaces": names,
        "host": _facts(states[None], states, nsids) if None in states else None,
        "netns": {name: _facts(state, states, nsids) for name, state in states.items() if name is not None},
    }
    result["diagram"] = diagram.mermaid(diagram.host_graph(result))
    return result


def _nsids(namespaces, states):
    """For each read namespace: nsid -> name of the namespaces it can see."""
    table = {}
    for name in states:
        rtnl = namespaces.rtnl(name)
        seen = {}
        for other in states:
            if other == name:
                continue
            try:
                nsid = rtnl.netnsid(namespaces.fd(other))
            except OSError:
                nsid = None
            if nsid is not None:
                seen[nsid] = other
        table[name] = seen
    return table


def _facts(state, states, nsids):
    def peer_of(where, link):
        """(name, namespace) of a veth's peer or a macvlan's parent, from the namespace ids."""
        peer_ns = where.name if link.peer_nsid is None else nsids[where.name].get(link.peer_nsid, "?")
        peer_state = states.get(peer_ns) if peer_ns != "?" else None
        peer = peer_state.link_by_index(link.peer_index) if peer_state is not None else None
        return (peer.name, peer_ns) if peer else (None, None)

    return netfacts.namespace_facts(state, peer_of, state.routes[None], state.nft)
