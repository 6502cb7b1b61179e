# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel side of the engine: reader and applier (private to the collection).

Namespaces are entered in-process with setns(2) and one netlink socket is kept per
namespace in use (namespaces.py); rtnl.py sends pyroute2's messages over it. No helper
processes are forked (pyroute2's ``IPRoute(netns=...)`` forks one per namespace and
creates a missing namespace by accident). The reader dumps links and addresses once per
namespace, routes only where a route is planned; the applier executes the planner's
actions in order and, when the kernel refuses one, deletes what this run created
before it.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import time
import traceback

try:
    from pyroute2.conntrack import Conntrack, NFCTAttrTuple
except ImportError:  # common.require_pyroute2 reports it before anything runs
    Conntrack = NFCTAttrTuple = None

from ansible_collections.netfabric.netns.plugins.module_utils import docker, firewalld, netns_files, nft, ops
from ansible_collections.netfabric.netns.plugins.module_utils.errors import KernelError, NetfabricError, where
from ansible_collections.netfabric.netns.plugins.module_utils.hostfiles import killpoint
from ansible_collections.netfabric.netns.plugins.module_utils.link_kinds import LowerLinks, kind_missing
from ansible_collections.netfabric.netns.plugins.module_utils.checks import sysctl_path
from ansible_collections.netfabric.netns.plugins.module_utils.observed import MARK, Link, NetnsState, RouteEntry
from ansible_collections.netfabric.netns.plugins.module_utils.rtnl import (
    RT_SCOPE_LINK, RTN_UNICAST, ZERO_MAC, AnswerError, NetlinkError, bridge_data, bridge_port_data, kernel_text,
    vxlan_data)

# Tests set it to k to make the k-th action fail, to prove the rollback of steps 1..k-1.
FAILPOINT = "NETFABRIC_FAIL_AT_STEP"
FAMILIES = {socket.AF_INET: 4, socket.AF_INET6: 6}
# A link whose peer sits in a namespace the kernel is removing (right after a teardown) holds
# its name until the kernel's cleanup gets to it: well under a second for 1,000 namespaces here.
HELD_WAIT = 30.0
HELD_POLL = 0.05
# what a link read tells about its kind, bridge and port settings, besides its own fields
LINK_EXTRAS = ("stp", "vlan_filtering", "vni", "dstport", "local", "dev_index", "hairpin", "isolated", "alias", "mode",
               "flags", "mac")

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


class KernelReader:
    """Observes namespaces through netlink: links and addresses in one pass each.

    A link is the collection's own (``Link.ours``) when it carries the alias MARK, or when
    ``pending`` (the journal of a run cut short between creating it and marking it) names it.
    """

    def __init__(self, namespaces, pending=()):
        self.ns = namespaces
        self.pending = set(pending)  # (netns, ifname)
        self._names = {}  # netns -> {index: ifname}
        self._nsid_names = {}  # netns -> {nsid: name of the namespace it knows by that id}

    def netns_exists(self, name):
        return self.ns.exists(name)

    def netns_stale(self, name):
        return self.ns.stale(name)

    def read(self, name):
        rtnl = self.ns.rtnl(name)
        state = NetnsState(name)
        by_index = {}
        masters = {}
        for fields in _settled_links(rtnl, name):
            link = _link(fields)
            link.ours = link.alias == MARK or (name, link.name) in self.pending
            by_index[link.index] = link
            masters[link.index] = fields["master"]
            state.links[link.name] = link
        for index, link in by_index.items():
            master = by_index.get(masters[index])
            link.master = master.name if master is not None else None
        for index, address, prefixlen, scope in _answered(rtnl.addrs, name):
            link = by_index.get(index)
            if link is None:
                continue
            if ":" in address:
                address = ipaddress.ip_address(address).compressed  # as the model writes it (::ffff:a.b.c.d)
                if scope == RT_SCOPE_LINK:  # fe80::/10: the kernel's own, or declared ones
                    link.link_local.append(f"{address}/{prefixlen}")
                    continue
            link.addresses.append(f"{address}/{prefixlen}")
        self._names[name] = {i: link.name for i, link in by_index.items()}
        return state

    def read_routes(self, name, table=None):
        """Unicast routes of one table (None: every table)."""
        names = self._names.get(name) or {}
        routes = []
        for msg in _answered(lambda: self.ns.rtnl(name).routes(table), name):
            family = FAMILIES.get(msg["family"])
            if family is None or msg["type"] != RTN_UNICAST:
                continue
            number = msg["table"]
            if table is not None and number != table:
                continue  # a kernel without strict dump checking sends every table
            dst = msg["dst"] or ("0.0.0.0" if family == 4 else "::")
            routes.append(RouteEntry(
                dst=str(ipaddress.ip_network(f"{dst}/{msg['dst_len']}", strict=False)),
                table=number,
                gateway=msg["gateway"],
                dev=names.get(msg["oif"]),
                metric=msg["priority"] or 0,
                scope=msg["scope"],
            ))
        return routes

    def read_remotes(self, name, index):
        """The destinations of the all-zero forwarding entries (head-end replication) of the
        vxlan with this index (as read by read())."""
        return sorted(dst for ifindex, lladdr, dst in _answered(self.ns.rtnl(name).fdb_entries, name)
                      if ifindex == index and lladdr == ZERO_MAC and dst)

    def netns_by_nsid(self, name, nsid):
        """The name of the namespace that ``name`` knows by the id ``nsid`` (None: the host's own;
        "?": none of the named ones), resolved once per namespace."""
        known = self._nsid_names.setdefault(name, {})
        if nsid not in known:
            for other in [None] + self.ns.names():
                if other == name or other in known.values():
                    continue
                found = self.ns.rtnl(name).netnsid(self.ns.fd(other))
                if found is not None:
                    known[found] = other
                if found == nsid:
                    break
        return known.get(nsid, "?")

    def kind_missing(self, kind):
        """True when this kernel has no driver for links of ``kind`` (macvlan, ipvlan)."""
        return kind_missing(self.ns.rtnl(None), kind)

    def read_namespaces(self):
        """The namespaces read so far (None: the host's own)."""
        return set(self._names)

    def indexes(self):
        """(netns, ifname) -> index of every link read so far, for the applier."""
        return {(netns, ifname): index for netns, names in self._names.items() for index, ifname in names.items()}

    def read_nft(self, name):
        """(rules of the collection's table, other tables' forward chains that drop (iptables-legacy's
        too), tables that route, the chains of Docker and firewalld), for nft.Table."""
        with self.ns.inside(name):
            rules, drops, forwarders, chains = nft.Nft().read_table()
            legacy_drops, legacy_chains = docker.read_legacy()
            return rules, drops + legacy_drops, forwarders, chains + legacy_chains

    def read_docker(self, name, chains):
        with self.ns.inside(name):
            return docker.read(chains)

    def read_zones(self, interfaces):
        return firewalld.zones(interfaces)

    def read_sysctl(self, name, key):
        try:
            with self.ns.inside(name), open(sysctl_path(key)) as handle:
                return handle.read().strip()
        except (FileNotFoundError, IsADirectoryError):
            return None


def _answered(read, netns):
    """read(), with an answer the engine cannot trust reported as the failure it is."""
    try:
        return read()
    except (AnswerError, NetlinkError, OSError) as exc:
        raise KernelError(f"{where(netns)}: cannot read its state: {reason(exc)}") from exc


def _settled_links(rtnl, netns):
    """The links of a namespace once none of them belongs to a namespace the kernel is
    still removing (a veth whose peer went with ``ip netns del`` keeps its name until the
    kernel's cleanup gets to it): such links are waited for, at most HELD_WAIT seconds.
    Their peer's namespace id is gone from the namespace's table already."""
    deadline = None
    while True:
        links = _answered(rtnl.links, netns)
        held = []
        if any(fields["peer_nsid"] is not None for fields in links):
            alive = _answered(rtnl.netnsids, netns)
            held = [f["name"] for f in links if f["peer_nsid"] is not None and f["peer_nsid"] not in alive]
        if not held:
            return links
        deadline = deadline or time.monotonic() + HELD_WAIT
        if time.monotonic() >= deadline:
            raise KernelError(f"{where(netns)}: {', '.join(repr(n) for n in held[:5])}"
                              + (f" and {len(held) - 5} more" if len(held) > 5 else "")
                              + f" still belong to a namespace the kernel is removing, {HELD_WAIT:.0f} s after "
                              "they were first seen; try again once the kernel is done")
        time.sleep(HELD_POLL)


def _link(fields):
    """A Link from what rtnl.link_fields() read (the bridge is filled in by name later)."""
    link = Link(name=fields["name"], index=fields["index"], kind=fields["kind"], mtu=fields["mtu"], up=fields["up"],
                peer_index=fields["peer_index"], peer_nsid=fields["peer_nsid"])
    for key in LINK_EXTRAS:
        if key in fields:
            setattr(link, key, fields[key])
    return link


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
