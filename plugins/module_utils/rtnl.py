# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Route netlink for the engine: pyroute2's messages over one socket (private to the collection).

pyroute2 builds every request and decodes every answer here: its message classes
(ifinfmsg, ifaddrmsg, rtmsg, ndmsg, nsidmsg) and its MarshalRtnl, which also turns a
refusal into its NetlinkError with the kernel's errno and extended acknowledgement text.
This module keeps no message layout of its own. What it does itself is the exchange
over a plain NETLINK_ROUTE socket, opened in the namespace the engine has entered: send
one request, read its answer. pyroute2's IPRoute does the same through an asyncio event
loop per socket: about four times the CPU time per request (tools/netlink_compare.py,
figures in docs/architecture.md). The exchange is strict about what comes back:

- the kernel's extended acknowledgement ("Nexthop has invalid gateway") is asked for and
  travels in NetlinkError next to the errno (kernel_text());
- a dump the kernel marks as interrupted by a concurrent change (NLM_F_DUMP_INTR) is
  asked again, at most DUMP_ATTEMPTS times: a partial dump is never returned;
- a truncated datagram, messages that do not fill it exactly, a message pyroute2 cannot
  decode, or no answer within RECV_TIMEOUT raise AnswerError.
"""

from __future__ import annotations

import ipaddress
import os
import random
import socket

try:
    from pyroute2.netlink import (
        NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP,
        NLM_F_DUMP_INTR, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, SOL_NETLINK)
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.rtnl import (
        RTM_DELADDR, RTM_DELLINK, RTM_DELNEIGH, RTM_DELROUTE, RTM_GETADDR, RTM_GETLINK, RTM_GETNEIGH, RTM_GETNSID,
        RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE, rt_proto, rt_scope, rt_type)
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.ifinfmsg import IFF_UP, ifinfmsg
    from pyroute2.netlink.rtnl.marshal import MarshalRtnl
    from pyroute2.netlink.rtnl.ndmsg import NTF_SELF, NUD_NOARP, NUD_PERMANENT, ndmsg
    from pyroute2.netlink.rtnl.nsidmsg import nsidmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
    RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_NOWHERE = rt_scope["universe"], rt_scope["link"], rt_scope["nowhere"]
    RTN_UNICAST, RTPROT_STATIC = rt_type["unicast"], rt_proto["static"]
    HAS_PYROUTE2 = True
except ImportError:
    # common.require_pyroute2 fails the module before any of this is used (ansible-test's
    # import check loads module_utils without their requirements)
    HAS_PYROUTE2 = False
    MarshalRtnl = object
    IFF_UP = RT_SCOPE_UNIVERSE = RT_SCOPE_LINK = RT_SCOPE_NOWHERE = RTN_UNICAST = RTPROT_STATIC = None
    NLM_F_CREATE = NLM_F_EXCL = NLM_F_REPLACE = NLM_F_APPEND = 0

    class NetlinkError(Exception):
        """Stands in for pyroute2's, which is what is raised when pyroute2 is there."""

from ansible_collections.netfabric.netns.plugins.module_utils.link_kinds import LOWER_KINDS, lower_fields

__all__ = ["NetlinkError", "AnswerError", "Rtnl", "kernel_text", "IFF_UP"]

NETLINK_ROUTE = 0
RECV_BUFFER = 1 << 16  # a dump arrives in datagrams of at most 32 KiB
RECV_TIMEOUT = 30.0  # seconds without an answer: the exchange gives up
DUMP_ATTEMPTS = 5  # a dump interrupted this many times in a row is an error
RTEXT_FILTER_SKIP_STATS = 1 << 3  # if_link.h: link dumps without the counters (a third of their bytes)
NSID_NOT_ASSIGNED = 0xFFFFFFFF  # NETNSA_NSID -1, as pyroute2's unsigned field reads it
RT_TABLE_MAIN = 254
ZERO_MAC = "00:00:00:00:00:00"
# the flags IPRoute gives each command
CREATE = NLM_F_CREATE | NLM_F_EXCL
REPLACE = NLM_F_REPLACE | NLM_F_CREATE
APPEND = NLM_F_CREATE | NLM_F_APPEND


class AnswerError(Exception):
    """An answer the engine cannot trust: truncated, malformed, undecodable, missing, or a
    dump interrupted too often. Nothing read from it is used."""


def kernel_text(exc):
    """The kernel's own words for a refusal (its extended acknowledgement), or None."""
    if not isinstance(exc, NetlinkError) or len(exc.args) < 2:
        return None
    text = str(exc.args[1] or "").strip()
    return text if text and text != os.strerror(exc.code) else None


class _Marshal(MarshalRtnl):
    """pyroute2's MarshalRtnl, except that a message it cannot decode raises
    NetlinkDecodeError (MarshalRtnl logs it and returns what it could read)."""

    def parse_one_message(self, key, flags, sequence_number, data, offset, length):
        if key == NLMSG_ERROR or (key == NLMSG_DONE and flags & NLM_F_ACK_TLVS):
            return super().parse_one_message(key, flags, sequence_number, data, offset, length)
        msg = self.msg_map.get(key, self.default_message_class)(data, offset=offset)
        msg.decode()
        msg["header"]["error"] = None
        return msg


class Rtnl:
    """One NETLINK_ROUTE socket, in the namespace of the thread that opened it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        try:
            self.sock.bind((0, 0))
            # extended acknowledgements (Linux 4.12+) and dumps filtered by the kernel (4.20+);
            # older kernels refuse the option and send plain errnos and every entry
            for option in (NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK):
                try:
                    self.sock.setsockopt(SOL_NETLINK, option, 1)
                except OSError:
                    pass
            self.sock.settimeout(RECV_TIMEOUT)
        except OSError:
            self.sock.close()
            raise
        self.marshal = _Marshal()
        self.seq = 0

    def close(self):
        self.sock.close()

    # the exchange ---------------------------------------------------------

    def request(self, msg, msg_type, flags=0):
        """Send a request and wait for its acknowledgement; returns the messages it answered
        with. A refusal raises NetlinkError (errno in ``code``, kernel_text() for its words)."""
        return self._exchange(msg, msg_type, NLM_F_REQUEST | NLM_F_ACK | flags)[0]

    def dump(self, build, msg_type):
        """The complete answer to the dump request ``build()`` makes, asked again while the
        kernel marks it as interrupted."""
        for unused_attempt in range(DUMP_ATTEMPTS):
            answers, interrupted = self._exchange(build(), msg_type, NLM_F_REQUEST | NLM_F_DUMP)
            if not interrupted:
                return answers
        raise AnswerError(f"the kernel interrupted the {_NAMES.get(msg_type, msg_type)} dump {DUMP_ATTEMPTS} times "
                          "in a row (the state kept changing while it was read); nothing was planned on it")

    def _exchange(self, msg, msg_type, flags):
        self.seq += 1
        msg["header"].update(type=msg_type, flags=flags, sequence_number=self.seq, pid=0)
        msg.encode()
        self.sock.send(msg.data)
        answers, interrupted = [], False
        while True:
            for reply in self._receive(msg_type):
                header = reply["header"]
                if header["sequence_number"] != self.seq:
                    continue  # the rest of an earlier request that raised
                if header.get("error") is not None:
                    raise header["error"]  # NetlinkError, decoded by pyroute2 with the kernel's text
                if header["flags"] & NLM_F_DUMP_INTR:
                    interrupted = True
                if header["type"] in (NLMSG_DONE, NLMSG_ERROR):
                    return answers, interrupted
                answers.append(reply)

    def _receive(self, msg_type):
        """The messages of one datagram, each checked: nothing truncated, nothing left over."""
        what = _request(msg_type)
        try:
            data, unused_ancillary, msg_flags, unused_address = self.sock.recvmsg(RECV_BUFFER)
        except socket.timeout:
            raise AnswerError(f"no answer from the kernel to {what} within {RECV_TIMEOUT:.0f} s") from None
        if msg_flags & socket.MSG_TRUNC:
            raise AnswerError(f"a truncated answer to {what} (a datagram longer than {RECV_BUFFER} bytes)")
        try:
            replies = list(self.marshal.parse(data))
        except Exception as exc:  # pylint: disable=broad-except  # whatever pyroute2's decoder raised
            raise AnswerError(f"a malformed answer to {what}: pyroute2 cannot decode it "
                              f"({type(exc).__name__}: {exc})") from exc
        read = sum(reply["header"]["length"] for reply in replies)
        if read != len(data):
            raise AnswerError(f"a malformed answer to {what}: its messages cover {read} of the "
                              f"{len(data)} bytes received")
        return replies

    # links --------------------------------------------------------------

    def links(self):
        """Every link of the namespace, as link_fields() reads them (counters left out)."""
        return _read(self.dump(lambda: _link(attrs=[("IFLA_EXT_MASK", RTEXT_FILTER_SKIP_STATS)]), RTM_GETLINK),
                     link_fields, "link")

    def link_index(self, ifname):
        """The index of a link by name, or None."""
        try:
            found = self.request(_link(attrs=[("IFLA_IFNAME", ifname), ("IFLA_EXT_MASK", RTEXT_FILTER_SKIP_STATS)]),
                                 RTM_GETLINK)
        except NetlinkError as exc:
            if exc.code == 19:  # ENODEV
                return None
            raise
        return found[0]["index"] if found else None

    def link_add(self, ifname, kind, mtu=None, up=False, master=None, data=None, peer=None, ifalias=None,
                 link=None, netns_fd=None, address=None):
        """Create a link, up and on the bridge with index ``master`` if asked; ``data`` are its
        kind's IFLA_INFO_DATA attributes as pyroute2 names them (bridge_data(), vxlan_data()).
        ``link``: the parent's index (macvlan), ``netns_fd``: the namespace it is born in, ``address``: its MAC.
        ``peer`` is a veth's other end: (name, mtu, netns fd or None); it comes up only later
        (the kernel refuses, ENOTCONN, before the pair is complete). ``ifalias`` is set by a
        second request: the kernel ignores IFLA_IFALIAS in a creating one."""
        if peer is not None:
            name, peer_mtu, peer_fd = peer
            data = [("VETH_INFO_PEER", {"attrs": _present([("IFLA_IFNAME", name), ("IFLA_NET_NS_FD", peer_fd),
                                                          ("IFLA_MTU", peer_mtu)])})]
        info = [("IFLA_INFO_KIND", kind)] + ([("IFLA_INFO_DATA", {"attrs": data})] if data else [])
        msg = _link(attrs=_present([("IFLA_IFNAME", ifname), ("IFLA_MTU", mtu), ("IFLA_MASTER", master),
                                    ("IFLA_LINK", link), ("IFLA_NET_NS_FD", netns_fd), ("IFLA_ADDRESS", address)])
                    + [("IFLA_LINKINFO", {"attrs": info})])
        _set_up(msg, up or None)
        self.request(msg, RTM_NEWLINK, CREATE)
        if ifalias is not None:
            self.link_set(ifname, ifalias=ifalias)

    def link_set(self, ifname, up=None, mtu=None, master=None, ifalias=None, group=None):
        """Change a link by name: up or down, MTU, bridge (``master`` 0 leaves its bridge),
        alias ("" removes it), group."""
        msg = _link(attrs=_present([("IFLA_IFNAME", ifname), ("IFLA_MTU", mtu), ("IFLA_MASTER", master),
                                    ("IFLA_IFALIAS", ifalias), ("IFLA_GROUP", group)]))
        _set_up(msg, up)
        self.request(msg, RTM_NEWLINK)

    def link_set_info(self, ifname, kind, data=None, port_data=None):
        """Change kind-specific attributes: a bridge's (``data``, bridge_data()) or a bridge
        port's (``port_data``, bridge_port_data(), with kind ``bridge_slave``)."""
        info = [("IFLA_INFO_KIND", kind)]
        if data:
            info.append(("IFLA_INFO_DATA", {"attrs": data}))
        if port_data:
            info.append(("IFLA_INFO_SLAVE_DATA", {"attrs": port_data}))
        self.request(_link(attrs=[("IFLA_IFNAME", ifname), ("IFLA_LINKINFO", {"attrs": info})]), RTM_NEWLINK)

    def link_del(self, ifname):
        self.request(_link(attrs=[("IFLA_IFNAME", ifname)]), RTM_DELLINK)

    def links_del(self, ifnames):
        """Delete links in one kernel batch: each joins a group of its own for this call, then
        one request deletes the group. The kernel then waits for its readers once (about
        20 ms) instead of once per link. Names already gone are skipped."""
        ifnames = list(ifnames)
        if len(ifnames) == 1:
            self.link_del(ifnames[0])
            return
        group = random.randint(1 << 20, (1 << 31) - 1)  # no tool picks such a group number
        marked = 0
        for ifname in ifnames:
            try:
                self.link_set(ifname, group=group)
                marked += 1
            except NetlinkError as exc:
                if exc.code != 19:  # ENODEV: gone meanwhile
                    raise
        if marked:
            self.request(_link(attrs=[("IFLA_GROUP", group)]), RTM_DELLINK)

    # addresses and routes -------------------------------------------------

    def addrs(self):
        """Every address, as address_fields() reads them."""
        return _read(self.dump(lambda: _every_family(ifaddrmsg()), RTM_GETADDR), address_fields, "address")

    def addr(self, command, index, cidr):
        """Add ("add") or remove ("del") an address given as address/prefix."""
        iface = ipaddress.ip_interface(cidr)
        msg = ifaddrmsg()
        msg["family"] = socket.AF_INET if iface.version == 4 else socket.AF_INET6
        msg["prefixlen"], msg["index"] = iface.network.prefixlen, index
        msg["attrs"] = [("IFA_ADDRESS", str(iface.ip))]
        if iface.version == 4:
            msg["attrs"].append(("IFA_LOCAL", str(iface.ip)))
        if command == "add":
            self.request(msg, RTM_NEWADDR, CREATE)
        else:
            self.request(msg, RTM_DELADDR)

    def routes(self, table=None):
        """Routes of both families; of one table only, where the kernel filters dumps (strict checking)."""
        def build():
            msg = _every_family(rtmsg())
            if table is not None:  # as in route(): the header's 8 bits, or RTA_TABLE
                msg["table"] = table if table <= 255 else RT_TABLE_MAIN
                if table > 255:
                    msg["attrs"] = [("RTA_TABLE", table)]
            return msg
        return _read(self.dump(build, RTM_GETROUTE), route_fields, "route")

    def route(self, command, dst, table=RT_TABLE_MAIN, gateway=None, oif=None, priority=None, scope=None):
        """Add ("add"), replace ("replace") or remove ("del") a unicast route; ``dst`` is a
        network. ``scope``: for a removal the route's own (None: any scope, as ``ip route
        del`` does); for an IPv4 route without gateway, link (as ``ip route add`` does), else
        universe, unless given."""
        net = ipaddress.ip_network(dst)
        msg = rtmsg()
        msg["family"] = socket.AF_INET if net.version == 4 else socket.AF_INET6
        # the header's table has 8 bits: RTA_TABLE carries the real one
        msg["dst_len"], msg["table"] = net.prefixlen, table if table <= 255 else RT_TABLE_MAIN
        attrs = [("RTA_DST", str(net.network_address))] if net.prefixlen else []
        msg["attrs"] = attrs + _present([("RTA_TABLE", table), ("RTA_OIF", oif), ("RTA_PRIORITY", priority),
                                         ("RTA_GATEWAY", gateway)])
        if command == "del":
            msg["scope"] = RT_SCOPE_NOWHERE if scope is None else scope
            self.request(msg, RTM_DELROUTE)
            return
        if scope is None:
            scope = RT_SCOPE_LINK if net.version == 4 and not gateway else RT_SCOPE_UNIVERSE
        msg["proto"], msg["type"], msg["scope"] = RTPROT_STATIC, RTN_UNICAST, scope
        self.request(msg, RTM_NEWROUTE, CREATE if command == "add" else REPLACE)

    # bridge forwarding entries and namespace ids --------------------------

    def fdb_entries(self):
        def build():
            msg = ndmsg()
            msg["family"] = socket.AF_BRIDGE
            return msg
        return _read(self.dump(build, RTM_GETNEIGH), fdb_fields, "forwarding entry")

    def fdb(self, command, ifindex, dst, lladdr=ZERO_MAC):
        """Add ("append": another entry for the same address) or remove ("del") a vxlan
        forwarding entry towards ``dst``."""
        msg = ndmsg()
        msg["family"], msg["ifindex"] = socket.AF_BRIDGE, ifindex
        msg["state"], msg["flags"] = NUD_NOARP | NUD_PERMANENT, NTF_SELF
        msg["attrs"] = [("NDA_LLADDR", lladdr), ("NDA_DST", dst)]
        if command == "append":
            self.request(msg, RTM_NEWNEIGH, APPEND)
        else:
            self.request(msg, RTM_DELNEIGH)

    def netnsid(self, fd):
        """The id under which this namespace knows the namespace open as ``fd`` (None: none given)."""
        msg = nsidmsg()
        msg["attrs"] = [("NETNSA_FD", fd)]
        for answer in self.request(msg, RTM_GETNSID):
            return _nsid(answer.get_attr("NETNSA_NSID"))
        return None

    def netnsids(self):
        """The ids this namespace has given to other namespaces that are alive. A link whose
        peer namespace has an id missing here sits in a namespace the kernel is removing."""
        found = set()
        for answer in self.dump(nsidmsg, RTM_GETNSID):
            nsid = _nsid(answer.get_attr("NETNSA_NSID"))
            if nsid is not None:
                found.add(nsid)
        return found


# ------------------------------------------------------------------ reading answers


def _read(messages, fields, what):
    """fields(msg) of each message; a message without what the engine needs is an AnswerError."""
    try:
        found = [fields(msg) for msg in messages]
    except Exception as exc:  # pylint: disable=broad-except  # pyroute2 decodes nested attributes lazily
        raise AnswerError(f"a malformed {what} message from the kernel ({type(exc).__name__}: {exc})") from exc
    for item in found:
        # an attribute pyroute2 could not decode comes back as its raw bytes
        if any(isinstance(value, (bytes, bytearray)) for value in (item.values() if isinstance(item, dict) else item)):
            raise AnswerError(f"a malformed {what} message from the kernel: an attribute pyroute2 cannot decode")
    return found


def link_fields(msg):
    """What the engine reads of a link message, as plain values."""
    attrs = _attrs(msg)
    name = _value(attrs, "IFLA_IFNAME")
    if not name or not msg["index"]:
        raise ValueError("a link without a name or an index")
    info = _attrs(_value(attrs, "IFLA_LINKINFO"))
    kind, slave_kind = _value(info, "IFLA_INFO_KIND"), _value(info, "IFLA_INFO_SLAVE_KIND")
    fields = {
        "index": msg["index"], "name": name, "kind": kind, "mtu": _value(attrs, "IFLA_MTU"),
        "up": bool(msg["flags"] & IFF_UP), "master": _value(attrs, "IFLA_MASTER"),
        "peer_index": _value(attrs, "IFLA_LINK"), "peer_nsid": _value(attrs, "IFLA_LINK_NETNSID"),
        "alias": _value(attrs, "IFLA_IFALIAS"), "slave_kind": slave_kind,
    }
    if kind == "bridge":
        data = _attrs(_value(info, "IFLA_INFO_DATA"))
        fields.update(stp=bool(_value(data, "IFLA_BR_STP_STATE")),
                      vlan_filtering=bool(_value(data, "IFLA_BR_VLAN_FILTERING")))
    if kind == "vxlan":
        data = _attrs(_value(info, "IFLA_INFO_DATA"))
        fields.update(vni=_value(data, "IFLA_VXLAN_ID"), dstport=_value(data, "IFLA_VXLAN_PORT"),
                      local=_value(data, "IFLA_VXLAN_LOCAL") or _value(data, "IFLA_VXLAN_LOCAL6"),
                      dev_index=_value(data, "IFLA_VXLAN_LINK"))
    if kind in LOWER_KINDS:
        fields.update(lower_fields(kind, _value(info, "IFLA_INFO_DATA")), mac=_value(attrs, "IFLA_ADDRESS"))
    if slave_kind == "bridge":
        port = _attrs(_value(info, "IFLA_INFO_SLAVE_DATA"))
        fields.update(hairpin=bool(_value(port, "IFLA_BRPORT_MODE")), isolated=bool(_value(port, "IFLA_BRPORT_ISOLATED")))
    return fields


def address_fields(msg):
    """(index, address, prefix length, scope) of an address message. The address is
    IFA_LOCAL where there is one: on a point-to-point link IFA_ADDRESS is the peer's."""
    attrs = _attrs(msg)
    address = _value(attrs, "IFA_LOCAL") or _value(attrs, "IFA_ADDRESS")
    if address is None:
        raise ValueError("an address message without an address")
    return msg["index"], address, msg["prefixlen"], msg["scope"]


def route_fields(msg):
    attrs = _attrs(msg)
    return {"family": msg["family"], "type": msg["type"], "dst": _value(attrs, "RTA_DST"), "dst_len": msg["dst_len"],
            "table": _value(attrs, "RTA_TABLE") or msg["table"], "gateway": _value(attrs, "RTA_GATEWAY"),
            "oif": _value(attrs, "RTA_OIF"), "priority": _value(attrs, "RTA_PRIORITY"), "proto": msg["proto"],
            "scope": msg["scope"]}


def fdb_fields(msg):
    attrs = _attrs(msg)
    return msg["ifindex"], _value(attrs, "NDA_LLADDR"), _value(attrs, "NDA_DST")


def _attrs(msg):
    """{name: (name, value) slot} of a decoded message's attributes, the first of each name:
    one pass over them, where each get_attr() scans them all (a link has some forty). The
    value of a slot is decoded by pyroute2 when it is read."""
    found = {}
    for slot in (msg["attrs"] if msg is not None else ()):
        found.setdefault(slot[0], slot)
    return found


def _value(attrs, name):
    slot = attrs.get(name)
    return None if slot is None else slot[1]


# ------------------------------------------------------------------ building requests


def bridge_data(stp=None, vlan_filtering=None):
    return _present([("IFLA_BR_STP_STATE", None if stp is None else int(stp)),
                     ("IFLA_BR_VLAN_FILTERING", None if vlan_filtering is None else int(vlan_filtering))])


def bridge_port_data(hairpin=None, isolated=None):
    return _present([("IFLA_BRPORT_MODE", None if hairpin is None else int(hairpin)),
                     ("IFLA_BRPORT_ISOLATED", None if isolated is None else int(isolated))])


def vxlan_data(vni, port, local=None, link=None):
    data = [("IFLA_VXLAN_ID", vni), ("IFLA_VXLAN_PORT", port)]
    if local:
        data.append(("IFLA_VXLAN_LOCAL6" if ":" in local else "IFLA_VXLAN_LOCAL", local))
    return data + _present([("IFLA_VXLAN_LINK", link)])


def _link(index=0, attrs=()):
    """An ifinfomsg; the kernel finds a link by its IFLA_IFNAME when the index is 0."""
    msg = ifinfmsg()
    msg["index"] = index
    msg["attrs"] = list(attrs)
    return msg


def _set_up(msg, up):
    """``up`` True or False sets or clears IFF_UP; None leaves it alone."""
    if up is not None:
        msg["flags"], msg["change"] = (IFF_UP if up else 0), IFF_UP


def _every_family(msg):
    msg["family"] = socket.AF_UNSPEC  # pyroute2's messages default to AF_INET: a dump of IPv4 only
    return msg


def _present(attrs):
    """The attributes that have a value."""
    return [(name, value) for name, value in attrs if value is not None]


def _nsid(value):
    return None if value is None or value == NSID_NOT_ASSIGNED or value < 0 else value


def _request(msg_type):
    """"a link request", "an address request", ... for messages."""
    name = _NAMES.get(msg_type, f"type {msg_type}")
    return ("an " if name[0] in "aeiou" else "a ") + name + " request"


_NAMES = {}  # message type -> what it is about, for errors
if HAS_PYROUTE2:
    _NAMES = {RTM_GETLINK: "link", RTM_NEWLINK: "link", RTM_DELLINK: "link deletion", RTM_GETADDR: "address",
              RTM_NEWADDR: "address", RTM_DELADDR: "address deletion", RTM_GETROUTE: "route", RTM_NEWROUTE: "route",
              RTM_DELROUTE: "route deletion", RTM_GETNEIGH: "forwarding entry", RTM_NEWNEIGH: "forwarding entry",
              RTM_DELNEIGH: "forwarding entry deletion", RTM_GETNSID: "namespace id"}
