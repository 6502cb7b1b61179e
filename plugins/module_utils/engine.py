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

from ansible_collections.netfabric.netns.plugins.module_utils.errors import KernelError
from ansible_collections.netfabric.netns.plugins.module_utils.kernel import Applier, KernelReader
from ansible_collections.netfabric.netns.plugins.module_utils.namespaces import Namespaces
from ansible_collections.netfabric.netns.plugins.module_utils.nft import NftError
from ansible_collections.netfabric.netns.plugins.module_utils.planner import Planner
from ansible_collections.netfabric.netns.plugins.module_utils.rtnl import AnswerError, NetlinkError
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
    with host_lock(), _session(check_mode, protected_addresses, connection_port) as (namespaces, planner):
        recorded = state_file.load()
        if state == "present":
            topology_check(items, planner.reader.netns_exists, lambda netns: _subnets(planner, netns))
        ordered, record = topology_desired(items, forwarding, state, recorded, prune)
        try:
            plan, warnings = _plan_and_apply(namespaces, planner, [r for unused, r in ordered],
                                             lambda i, r: ordered[i][0], check_mode)
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
    }


@contextmanager
def _session(check_mode, protected_addresses, connection_port):
    """The namespaces (one socket each while in use) and a planner reading through them."""
    namespaces = Namespaces()
    try:
        yield namespaces, Planner(KernelReader(namespaces), check_mode, protected_addresses, connection_port)
    finally:
        namespaces.close()


def _plan_and_apply(namespaces, planner, resources, path_of, check_mode):
    """(plan, warnings): the plan of all resources, applied unless in check mode."""
    plan = planner.plan_resources(resources, path_of)
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
            state.routes = {None: reader.read_routes(name)}
            try:
                state.nft = reader.read_nft(name)[0]
            except NftError:  # no nftables on this host: nothing of ours can be there
                state.nft = []
            states[name] = state
        nsids = _nsids(namespaces, states)
    finally:
        namespaces.close()
    return {
        "namespaces": names,
        "host": _facts(states[None], states, nsids) if None in states else None,
        "netns": {name: _facts(state, states, nsids) for name, state in states.items() if name is not None},
    }


def _nsids(namespaces, states):
    """For each read namespace: nsid -> name, for the namespaces its veths lead to.

    Linear in the number of veths: a veth's peer can only be a link, in another read
    namespace, whose index is the veth's peer index and whose own peer index is the veth's
    (a veth pair points both ways); each such candidate is confirmed with one namespace-id
    request, and each id is resolved once per namespace."""
    ends = {}  # (index, peer index) of veths whose peer is elsewhere -> their namespaces
    for name, state in states.items():
        for link in state.links.values():
            if link.peer_nsid is not None and link.peer_index:
                ends.setdefault((link.index, link.peer_index), []).append(name)
    table = {}
    for name, state in states.items():
        seen = table[name] = {}
        for link in state.links.values():
            if link.peer_nsid is None or link.peer_nsid in seen:
                continue
            for other in ends.get((link.peer_index, link.index), []):
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
    links = []
    for link in sorted(state.links.values(), key=lambda lk: lk.index):
        entry = {"name": link.name, "index": link.index, "kind": link.kind, "master": link.master,
                 "mtu": link.mtu, "state": "up" if link.up else "down",
                 "addresses": sorted(link.addresses, key=_address_key)}
        if link.kind == "veth":
            peer_ns = state.name if link.peer_nsid is None else nsids[state.name].get(link.peer_nsid, "?")
            peer_state = states.get(peer_ns) if peer_ns != "?" else None
            peer = peer_state.link_by_index(link.peer_index) if peer_state is not None else None
            entry.update(peer=peer.name if peer else None, peer_netns=peer_ns if peer else None)
        if link.kind == "bridge":
            entry.update(stp=link.stp, vlan_filtering=link.vlan_filtering)
        if link.hairpin is not None:
            entry.update(hairpin=link.hairpin, isolated=link.isolated)
        links.append(entry)
    routes = [{"dst": "default" if r.dst.endswith("/0") else r.dst, "family": 6 if ":" in r.dst else 4,
               "gateway": r.gateway, "dev": r.dev, "metric": r.metric, "table": r.table}
              for r in state.routes[None] if r.table != 255]
    rules = [{"owner": rule.comment, "chain": rule.chain, "rule": rule.text.split(": ", 1)[1]} for rule in state.nft]
    return {"links": links, "routes": routes, "rules": rules}


def _address_key(cidr):
    iface = ipaddress.ip_interface(cidr)
    return (iface.version, iface.ip)
