# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel side of the engine: the applier (private to the collection); reader.py reads.

Namespaces are entered in-process with setns(2) and one netlink socket is kept per
namespace in use (namespaces.py); rtnl.py sends pyroute2's messages over it. No helper
processes are forked (pyroute2's ``IPRoute(netns=...)`` forks one per namespace and
creates a missing namespace by accident). The applier executes the planner's actions in
order and, when the kernel refuses one, deletes what this run created before it.
"""

from __future__ import annotations

import errno
import os
import socket
import traceback

try:
    from pyroute2.conntrack import Conntrack, NFCTAttrTuple
except ImportError:  # common.require_pyroute2 reports it before anything runs
    Conntrack = NFCTAttrTuple = None

from ansible_collections.netfabric.netns.plugins.module_utils import docker, firewalld, netns_files, nft, ops
from ansible_collections.netfabric.netns.plugins.module_utils.errors import KernelError, NetfabricError
from ansible_collections.netfabric.netns.plugins.module_utils.hostfiles import killpoint
from ansible_collections.netfabric.netns.plugins.module_utils.link_kinds import LowerLinks
from ansible_collections.netfabric.netns.plugins.module_utils.checks import sysctl_path
from ansible_collections.netfabric.netns.plugins.module_utils.observed import MARK
from ansible_collections.netfabric.netns.plugins.module_utils.rtnl import (
    AnswerError, NetlinkError, bridge_data, bridge_port_data, kernel_text, vxlan_data)

# Tests set it to k to make the k-th action fail, to prove the rollback of steps 1..k-1.
FAILPOINT = "NETFABRIC_FAIL_AT_STEP"

REASONS = {
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "no such file or directory",
    errno.ESRCH: "no such route",
    errno.EBUSY: "device or resource busy",
    errno.EEXIST: "already exists",
    errno.ENODEV: "no such device",
    errno.EINVAL: "invalid argument",
    errno.ERANGE: "name longer than 15 bytes or value out of range",
    errno.EOPNOTSUPP: "not supported by this kernel",
    errno.EADDRNOTAVAIL: "address not available",
    errno.ENETUNREACH: "the gateway is not on a connected network",
    errno.ECANCELED: f"stopped by the test failpoint {FAILPOINT}",
}


def reason(exc):
    """Why a step failed: the kernel's own words when it gave some, with the errno's meaning."""
    if isinstance(exc, nft.NftError):
        return f"nftables refused it: {exc}"
    if isinstance(exc, AnswerError):
        return str(exc)
    if isinstance(exc, NetfabricError):
        return exc.msg
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    ours = REASONS.get(code)
    said = kernel_text(exc)
    if said:
        return f"{said.rstrip('.')} ({errno.errorcode.get(code, code)}" + (f": {ours})" if ours else ")")
    return ours or f"{exc} (errno {code})"


class Applier(LowerLinks):
    """Executes planned actions; when one fails (whatever the reason, a signal included), removes
    what this run created and raises KernelError. Links it creates get the alias MARK."""

    def __init__(self, namespaces, indexes=None):
        self.ns = namespaces
        self.warnings = []
        self._created = []  # ('netns', name) or ('link', netns, name), in order
        # (netns, ifname) -> index: what the reader saw, then one lookup per new link
        self._indexes = dict(indexes or {})
        self._bulk = {}  # (netns, name) of a run's first link deletion -> the names of the run
        self._deleted = set()  # (netns, name) deleted with an earlier action's run
        # (netns, name) of links made by this run whose mark rides on their next change (the
        # journal covers them until then); the rest are marked when the plan is done
        self._unmarked = set()

    def apply(self, actions):
        done = []
        self._bulk = _deletion_runs(actions)
        fail_at = int(os.environ.get(FAILPOINT, "0") or 0)
        action = None
        try:
            for step, action in enumerate(actions, 1):
                killpoint("step", step)
                if step == fail_at:
                    raise OSError(errno.ECANCELED, f"stopped by {FAILPOINT}={fail_at}")
                ops.HANDLERS[action.op](self, action.netns, **action.args)
                done.append(action)
            action = None
            for netns, name in sorted(self._unmarked, key=str):
                try:
                    self.ns.rtnl(netns).link_set(name, ifalias=MARK)
                except NetlinkError as exc:
                    if exc.code != errno.ENODEV:
                        raise  # ENODEV: went with a veth peer this run deleted
            self._unmarked.clear()
        except BaseException as exc:  # a kernel refusal, a bug, a signal: nothing half-made stays
            undone = self._undo()
            details = {"completed": [a.text for a in done], "failed_step": action.text if action else None,
                       "rolled_back": undone}
            if isinstance(exc, (OSError, NetlinkError, AnswerError, NetfabricError)):
                why = reason(exc)
            elif isinstance(exc, Exception):
                why = f"unexpected {type(exc).__name__}: {exc}"
                details["exception"] = traceback.format_exc()
            else:
                raise  # KeyboardInterrupt, SystemExit: rolled back, and on its way
            if action is None:  # marking what the run made
                raise KernelError(f"cannot mark the links this run created: {why}", **details) from exc
            item = f"{action.path}: " if action.path else ""
            raise KernelError(f"{item}{action.subject}: cannot {action.verb}: {why}", **details) from exc

    def _undo(self):
        undone = []
        for entry in reversed(self._created):
            try:
                if entry[0] == "netns":
                    self.ns.remove(entry[1])
                else:
                    self.ns.rtnl(entry[1]).link_del(entry[2])
                undone.append(" ".join(str(e) for e in entry if e is not None))
            except Exception:  # pylint: disable=broad-exception-caught  # undo what can be undone
                pass
        return undone

    def _index(self, netns, name):
        key = (netns, name)
        if key not in self._indexes:
            index = self.ns.rtnl(netns).link_index(name)
            if index is None:
                raise OSError(errno.ENODEV, f"no such device: {name}")
            self._indexes[key] = index
        return self._indexes[key]

    # one method per action op ----------------------------------------

    @ops.handles(ops.NETNS_ADD)
    def do_netns_add(self, netns, name):
        """Create the namespace and mark it as the collection's: its loopback gets the alias MARK
        (a namespace has no alias of its own; its lo lives exactly as long as it)."""
        self.ns.create(name)
        self._created.append(("netns", name))
        self._unmarked.add((name, "lo"))

    @ops.handles(ops.NETNS_DEL)
    def do_netns_del(self, netns, name):
        """Like ``ip netns del``: the kernel removes the namespace with its links, and the veths
        whose other end is elsewhere, once nothing holds it. Processes still in it hold it:
        then its veths to other namespaces are deleted here, so that no cable stays behind."""
        self._unmarked = {(netns_, link) for netns_, link in self._unmarked if netns_ != name}
        pids = self.ns.pids(name)
        if pids:
            self.warnings.append(f"namespace '{name}' removed while processes still run in it: "
                                 f"PIDs {', '.join(map(str, pids))}")
            rtnl = self.ns.rtnl(name)
            rtnl.links_del([f["name"] for f in rtnl.links() if f["kind"] == "veth" and f["peer_nsid"] is not None])
        self.ns.remove(name)
        self._indexes.clear()

    def _mark(self, netns, name, mtu=None):
        """Record a link this run made; it gets the alias MARK by a later request (the kernel
        ignores an alias in the creating one): with ``mtu`` right now, else with its next
        change in this run, or when the plan is done."""
        self._created.append(("link", netns, name))
        if mtu is None:
            self._unmarked.add((netns, name))
        else:
            self.ns.rtnl(netns).link_set(name, ifalias=MARK, mtu=mtu)

    def _alias(self, netns, name):
        """MARK when this run made the link and has not marked it yet, else None."""
        if (netns, name) in self._unmarked:
            self._unmarked.discard((netns, name))
            return MARK
        return None

    @ops.handles(ops.LINK_ADD_VETH)
    def do_link_add_veth(self, netns, name, peer, peer_netns, mtu=None, up=False, master=None, from_peer=False):
        """One request creates the pair; ``up`` and ``master`` are for the end it is made from,
        the peer with ``from_peer`` (an end that joins a bridge is made in the bridge's namespace).
        Both ends get the alias MARK later (_mark)."""
        if from_peer:
            netns, name, peer_netns, peer = peer_netns, peer, netns, name
        peer_fd = self.ns.fd(peer_netns) if peer_netns != netns else None  # born in its namespace, never moved
        master_index = self._index(netns, master) if master else None
        self.ns.rtnl(netns).link_add(name, "veth", mtu=mtu, up=up, master=master_index, peer=(peer, mtu, peer_fd))
        self._mark(netns, name)
        self._unmarked.add((peer_netns, peer))

    @ops.handles(ops.LINK_ADD_BRIDGE)
    def do_link_add_bridge(self, netns, name, mtu=None):
        # The MTU is set after creation: one given in the creating request is not "set by the
        # user" to the kernel, which lowers it to the smallest port's as soon as a port joins.
        self.ns.rtnl(netns).link_add(name, "bridge")
        self._mark(netns, name, mtu=mtu)

    @ops.handles(ops.LINK_ADD_VXLAN)
    def do_link_add_vxlan(self, netns, name, vni, dstport, local=None, dev=None, mtu=None):
        data = vxlan_data(vni, dstport, local, self._index(netns, dev) if dev else None)
        self.ns.rtnl(netns).link_add(name, "vxlan", mtu=mtu, data=data)
        self._mark(netns, name)

    @ops.handles(ops.FDB_APPEND)
    def do_fdb_append(self, netns, name, remote):
        self.ns.rtnl(netns).fdb("append", self._index(netns, name), remote)

    @ops.handles(ops.FDB_DEL)
    def do_fdb_del(self, netns, name, remote):
        self.ns.rtnl(netns).fdb("del", self._index(netns, name), remote)

    @ops.handles(ops.LINK_DEL)
    def do_link_del(self, netns, name):
        """Deletes the link, and with the first deletion of a run of them in one namespace the
        whole run, in one kernel batch (rtnl.links_del)."""
        if (netns, name) in self._deleted:
            return  # went with an earlier action's batch
        names = self._bulk.get((netns, name), [name])
        try:
            self.ns.rtnl(netns).links_del(names)
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:
                raise  # ENODEV: gone since it was read (with a namespace the kernel removed)
        self._deleted.update((netns, deleted) for deleted in names)
        self._unmarked.difference_update((netns, deleted) for deleted in names)
        self._indexes.clear()  # a veth takes its peer along, which may be recreated later

    @ops.handles(ops.LINK_MARK)
    def do_link_mark(self, netns, name):
        self.ns.rtnl(netns).link_set(name, ifalias=MARK)

    @ops.handles(ops.LINK_SET)
    def do_link_set(self, netns, name, up=None, mtu=None):
        self.ns.rtnl(netns).link_set(name, up=up, mtu=mtu, ifalias=self._alias(netns, name))

    @ops.handles(ops.LINK_MASTER)
    def do_link_master(self, netns, name, master):
        master_index = self._index(netns, master) if master else 0
        self.ns.rtnl(netns).link_set(name, master=master_index, ifalias=self._alias(netns, name))

    @ops.handles(ops.BRIDGE_SET)
    def do_bridge_set(self, netns, name, stp=None, vlan_filtering=None):
        self.ns.rtnl(netns).link_set_info(name, "bridge", data=bridge_data(stp, vlan_filtering))

    @ops.handles(ops.BRPORT_SET)
    def do_brport_set(self, netns, name, hairpin=None, isolated=None):
        self.ns.rtnl(netns).link_set_info(name, "bridge_slave", port_data=bridge_port_data(hairpin, isolated))

    @ops.handles(ops.ADDR_ADD)
    def do_addr_add(self, netns, name, cidr):
        self.ns.rtnl(netns).addr("add", self._index(netns, name), cidr)

    @ops.handles(ops.ADDR_DEL)
    def do_addr_del(self, netns, name, cidr):
        self.ns.rtnl(netns).addr("del", self._index(netns, name), cidr)

    def _route(self, command, netns, dst, gateway, dev, metric, table, family, scope=None):
        """``scope``: the observed one, for a removal (a route added as ``ip route add X dev Y``
        has scope link, and the kernel finds a route to delete only with its own scope)."""
        oif = self._index(netns, dev) if dev else None
        self.ns.rtnl(netns).route(command, dst, table=table, gateway=gateway, oif=oif, priority=metric,
                                  scope=scope if command == "del" else None)

    @ops.handles(ops.ROUTE_ADD)
    def do_route_add(self, netns, **route):
        self._route("add", netns, **route)

    @ops.handles(ops.ROUTE_REPLACE)
    def do_route_replace(self, netns, **route):
        self._route("replace", netns, **route)

    @ops.handles(ops.ROUTE_DEL)
    def do_route_del(self, netns, **route):
        self._route("del", netns, **route)

    @ops.handles(ops.NETNS_FILE)
    def do_netns_file(self, netns, path, content):
        netns_files.apply(path, content)

    @ops.handles(ops.SYSCTL_SET)
    def do_sysctl_set(self, netns, key, value):
        with self.ns.inside(netns), open(sysctl_path(key), "w") as handle:
            handle.write(value)

    @ops.handles(ops.NFT_RULE)
    def do_nft_rule(self, netns, rules, commit):
        """One action per rule added or removed; the last of a group writes the table, atomically."""
        if commit:
            with self.ns.inside(netns):
                nft.Nft().run(nft.transaction(rules))

    @ops.handles(ops.DOCKER_RULE)
    def do_docker_rule(self, netns, command, binary, rule):
        with self.ns.inside(netns):
            docker.apply(command, binary, rule)

    @ops.handles(ops.FIREWALLD_ZONE)
    def do_firewalld_zone(self, netns, interface, zone, add):
        firewalld.apply(interface, zone, add)

    @ops.handles(ops.CONNTRACK_FLUSH)
    def do_conntrack_flush(self, netns, protocol, first, last, keep=None):
        """Forget UDP flows to these ports that a new or changed forward must catch
        (conntrack keeps sending a known flow where it went before)."""
        number = socket.IPPROTO_UDP if protocol == "udp" else socket.IPPROTO_TCP
        try:
            with self.ns.inside(netns):
                tracker = Conntrack()
            try:
                for family in (socket.AF_INET, socket.AF_INET6):
                    for entry in list(tracker.dump_entries(tuple_orig=NFCTAttrTuple(family=family, proto=number))):
                        orig, reply = entry.tuple_orig, entry.tuple_reply
                        if orig.proto == number and first <= (orig.dport or 0) <= last and reply.saddr != keep:
                            tracker.entry("del", tuple_orig=orig)
            finally:
                tracker.close()
        except (NetlinkError, OSError) as exc:
            self.warnings.append(f"could not flush the conntrack entries of {protocol} ports {first}-{last}: "
                                 f"{reason(exc)}; old flows may keep their previous destination until they expire")


def _deletion_runs(actions):
    """{(netns, name) of the first link deletion of a run: the names of the run}, for runs of
    consecutive link deletions in one namespace."""
    runs, first, netns = {}, None, object()
    for action in actions:
        if action.op != ops.LINK_DEL.name:
            first = None
            continue
        if first is None or action.netns != netns:
            first, netns = (action.netns, action.args["name"]), action.netns
            runs[first] = []
        runs[first].append(action.args["name"])
    return runs
