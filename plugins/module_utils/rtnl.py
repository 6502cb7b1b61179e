# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Route netlink requests: pyroute2's messages over a plain socket (private to the collection).

pyroute2 encodes every request here (ifinfmsg, ifaddrmsg, rtmsg, ndmsg, nsidmsg): the
same bytes its IPRoute sends (tests/unit/test_rtnl.py compares them with pyroute2's
IPBatch). What this module does itself is the exchange, send one request and read its
answer, and reading the few attributes the engine uses from the answers (see "Reading"
below). Both were measured as the bulk of a run at 1,000 namespaces: IPRoute runs each
request through an asyncio event loop (about 150 us of Python per request, one loop per
socket), and pyroute2's decoder makes an object per attribute (some forty per link, about
0.3 ms a link).
"""

from __future__ import annotations

import ipaddress
import socket
import struct

try:
    from pyroute2.netlink import NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL
    from pyroute2.netlink import NLM_F_REPLACE, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.rtnl import (RTM_DELADDR, RTM_DELLINK, RTM_DELNEIGH, RTM_DELROUTE, RTM_GETADDR,
                                       RTM_GETLINK, RTM_GETNEIGH, RTM_GETNSID, RTM_GETROUTE, RTM_NEWADDR,
                                       RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE)
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.ndmsg import ndmsg
    from pyroute2.netlink.rtnl.nsidmsg import nsidmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
except ImportError:  # kernel.py reports the missing library; nothing here runs without it
    NetlinkError = OSError
    NLM_F_REQUEST = NLM_F_ACK = NLM_F_CREATE = NLM_F_EXCL = NLM_F_APPEND = NLM_F_REPLACE = NLM_F_DUMP = 0

NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_GET_STRICT_CHK = 12
RECV_BUFFER = 1 << 16  # a dump arrives in parts of at most 32 KiB
IFF_UP = 0x1
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
NTF_SELF = 0x2
RT_TABLE_MAIN = 254
RTPROT_STATIC = 4
RTN_UNICAST = 1
ZERO_MAC = "00:00:00:00:00:00"

# the flags IPRoute gives each command
CREATE = NLM_F_CREATE | NLM_F_EXCL
REPLACE = NLM_F_REPLACE | NLM_F_CREATE
APPEND = NLM_F_CREATE | NLM_F_APPEND
CHANGE = 0


class Rtnl:
    """One NETLINK_ROUTE socket, in the namespace of the thread that opened it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        try:
            self.sock.bind((0, 0))
        except OSError:
            self.sock.close()
            raise
        try:  # dumps filtered by the kernel (Linux 4.20+; older kernels send everything)
            self.sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        except OSError:
            pass
        self.seq = 0

    def close(self):
        self.sock.close()

    def request(self, msg, msg_type, flags=CHANGE, layout=None):
        """Send a request and wait for its acknowledgement; returns the messages it answered
        with, read as ``layout`` says. A refusal raises pyroute2's NetlinkError with the
        kernel's errno as its code."""
        return self._exchange(msg, msg_type, NLM_F_REQUEST | NLM_F_ACK | flags, layout)

    def dump(self, msg, msg_type, layout):
        return self._exchange(msg, msg_type, NLM_F_REQUEST | NLM_F_DUMP, layout)

    def _exchange(self, msg, msg_type, flags, layout):
        self.seq += 1
        header = msg["header"]
        header["type"], header["flags"], header["sequence_number"], header["pid"] = msg_type, flags, self.seq, 0
        msg.encode()
        self.sock.send(msg.data)
        answers = []
        while True:
            data = self.sock.recv(RECV_BUFFER)
            for kind, seq, start, end in messages(data):
                if seq != self.seq:
                    continue  # the rest of an earlier request that raised
                if kind in (NLMSG_ERROR, NLMSG_DONE):
                    # an acknowledgement, or the end of a dump: an errno below zero is a refusal
                    code = struct.unpack_from("=i", data, start)[0] if end - start >= 4 else 0
                    if code < 0:
                        raise NetlinkError(-code)
                    return answers
                if layout is not None:
                    answers.append(read(layout, data, start, end))

    # links --------------------------------------------------------------

    def links(self):
        return self.dump(ifinfmsg(), RTM_GETLINK, LINK)

    def link_index(self, ifname):
        """The index of a link by name, or None."""
        try:
            found = self.request(_link(ifname), RTM_GETLINK, layout=LINK_HEADER)
        except NetlinkError as exc:
            if exc.code == 19:  # ENODEV
                return None
            raise
        return found[0]["index"] if found else None

    def link_add(self, ifname, kind, mtu=None, up=False, master=None, data=None, peer=None):
        """Create a link, up and on the bridge with index ``master`` if asked; ``data`` are its
        kind's attributes. ``peer`` is a veth's other end: (name, mtu, netns fd or None); it
        comes up only later (the kernel refuses, ENOTCONN, before the pair is complete)."""
        info = [("IFLA_INFO_KIND", kind)]
        if peer is not None:
            name, peer_mtu, netns_fd = peer
            end = {"attrs": _present([("IFLA_IFNAME", name), ("IFLA_NET_NS_FD", netns_fd), ("IFLA_MTU", peer_mtu)])}
            data = [("VETH_INFO_PEER", end)]
        if data:
            info.append(("IFLA_INFO_DATA", {"attrs": data}))
        msg = _link(ifname, attrs=[("IFLA_MTU", mtu), ("IFLA_MASTER", master), ("IFLA_LINKINFO", {"attrs": info})])
        self.request(_flags(msg, up or None), RTM_NEWLINK, CREATE)

    def link_set(self, ifname, up=None, mtu=None, master=None):
        """Change a link: up or down, MTU, bridge (``master`` 0 leaves its bridge)."""
        msg = _link(ifname, attrs=[("IFLA_MTU", mtu), ("IFLA_MASTER", master)])
        self.request(_flags(msg, up), RTM_NEWLINK)

    def link_set_info(self, ifname, kind, data=None, port_data=None):
        """Change kind-specific attributes: a bridge's (``data``) or a bridge port's (``port_data``,
        with kind ``bridge_slave``)."""
        info = [("IFLA_INFO_KIND", kind)]
        if data:
            info.append(("IFLA_INFO_DATA", {"attrs": data}))
        if port_data:
            info.append(("IFLA_INFO_SLAVE_DATA", {"attrs": port_data}))
        self.request(_link(ifname, attrs=[("IFLA_LINKINFO", {"attrs": info})]), RTM_NEWLINK)

    def link_del(self, ifname):
        self.request(_link(ifname), RTM_DELLINK)

    # addresses and routes -------------------------------------------------

    def addrs(self):
        return self.dump(_every_family(ifaddrmsg()), RTM_GETADDR, ADDRESS)

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
        msg = _every_family(rtmsg())
        if table is not None:  # as in route(): the header's 8 bits, or RTA_TABLE
            msg["table"] = table if table <= 255 else RT_TABLE_MAIN
            msg["attrs"] = [("RTA_TABLE", table)] if table > 255 else []
        return self.dump(msg, RTM_GETROUTE, ROUTE)

    def route(self, command, dst, table=RT_TABLE_MAIN, gateway=None, oif=None, priority=None):
        """Add ("add"), replace ("replace") or remove ("del") a unicast route; ``dst`` is a network."""
        net = ipaddress.ip_network(dst)
        msg = rtmsg()
        msg["family"] = socket.AF_INET if net.version == 4 else socket.AF_INET6
        # the header's table has 8 bits: RTA_TABLE carries the real one
        msg["dst_len"], msg["table"] = net.prefixlen, table if table <= 255 else RT_TABLE_MAIN
        attrs = [("RTA_DST", str(net.network_address))] if net.prefixlen else []
        attrs += _present([("RTA_TABLE", table), ("RTA_GATEWAY", gateway), ("RTA_OIF", oif), ("RTA_PRIORITY", priority)])
        msg["attrs"] = attrs
        if command == "del":
            self.request(msg, RTM_DELROUTE)
            return
        msg["proto"], msg["type"] = RTPROT_STATIC, RTN_UNICAST
        self.request(msg, RTM_NEWROUTE, CREATE if command == "add" else REPLACE)

    # bridge forwarding entries and namespace ids --------------------------

    def fdb_entries(self):
        msg = ndmsg()
        msg["family"] = socket.AF_BRIDGE
        return self.dump(msg, RTM_GETNEIGH, NEIGHBOUR)

    def fdb(self, command, ifindex, dst, lladdr=ZERO_MAC):
        """Add ("append": another entry for the same address) or remove ("del") a vxlan
        forwarding entry towards ``dst``."""
        msg = ndmsg()
        msg["family"], msg["ifindex"], msg["state"], msg["flags"] = socket.AF_BRIDGE, ifindex, NUD_NOARP | NUD_PERMANENT, NTF_SELF
        msg["attrs"] = [("NDA_LLADDR", lladdr), ("NDA_DST", dst)]
        if command == "append":
            self.request(msg, RTM_NEWNEIGH, APPEND)
        else:
            self.request(msg, RTM_DELNEIGH)

    def netnsid(self, fd):
        """The id under which this namespace knows the namespace open as ``fd`` (None: none given)."""
        msg = nsidmsg()
        msg["attrs"] = [("NETNSA_FD", fd)]
        for answer in self.request(msg, RTM_GETNSID, layout=NSID):
            nsid = answer.get("nsid")
            return nsid if nsid is not None and nsid >= 0 else None
        return None


def _link(ifname, attrs=()):
    """A link message naming its link: the kernel finds a link by name when the index is 0."""
    msg = ifinfmsg()
    msg["attrs"] = _present([("IFLA_IFNAME", ifname)] + list(attrs))
    return msg


def _flags(msg, up):
    """Set (True) or clear (False) IFF_UP in a link message; None leaves it alone."""
    if up is not None:
        msg["flags"], msg["change"] = (IFF_UP if up else 0), IFF_UP
    return msg


def _every_family(msg):
    msg["family"] = socket.AF_UNSPEC  # pyroute2's rtmsg defaults to AF_INET: a dump of IPv4 only
    return msg


def _present(attrs):
    """The attributes that have a value."""
    return [(name, value) for name, value in attrs if value is not None]


# ------------------------------------------------------------------ reading
#
# A layout says how to read one kind of message: the struct of its fixed header, the names
# of that header's fields, and the attributes to read as {type: (name, reader)}; every
# other attribute is skipped unread. The attribute numbers are the kernel's (linux/uapi
# if_link.h, if_addr.h, rtnetlink.h, neighbour.h, net_namespace.h), which never change;
# tests/unit/test_rtnl.py checks each layout against pyroute2's decoding of the same bytes.

NLA_TYPE_MASK = 0x3FFF  # without the nested and byte-order flags


def messages(data):
    """(type, sequence number, payload start, payload end) of each message in a datagram."""
    offset = 0
    while offset + 16 <= len(data):
        length, kind, unused_flags, seq = struct.unpack_from("=IHHI", data, offset)
        if length < 16:
            return
        yield kind, seq, offset + 16, offset + length
        offset += (length + 3) & ~3


def read(layout, data, start, end):
    """A message payload as a dict: its header's fields and the attributes of its layout."""
    fmt, fields, wanted = layout
    found = dict(zip(fields, struct.unpack_from(fmt, data, start)))
    found.update(attributes(wanted, data, start + struct.calcsize(fmt), end))
    return found


def attributes(wanted, data, start, end):
    found = {}
    while start + 4 <= end:
        length, kind = struct.unpack_from("=HH", data, start)
        if length < 4:
            break
        entry = wanted.get(kind & NLA_TYPE_MASK)
        if entry is not None:
            found[entry[0]] = entry[1](data, start + 4, start + length)
        start += (length + 3) & ~3
    return found


def _u8(data, start, unused_end):
    return data[start]


def _u32(data, start, unused_end):
    return struct.unpack_from("=I", data, start)[0]


def _s32(data, start, unused_end):
    return struct.unpack_from("=i", data, start)[0]


def _be16(data, start, unused_end):
    return struct.unpack_from(">H", data, start)[0]


def _text(data, start, end):
    return bytes(data[start:end]).split(b"\0", 1)[0].decode("utf-8", "replace")


def _ip(data, start, end):
    return socket.inet_ntop(socket.AF_INET if end - start == 4 else socket.AF_INET6, bytes(data[start:end]))


def _mac(data, start, end):
    return ":".join(f"{octet:02x}" for octet in data[start:end])


def _span(unused_data, start, end):
    return start, end


# IFLA_INFO_DATA and IFLA_INFO_SLAVE_DATA, by the link's kind and slave kind
INFO_DATA = {
    "bridge": {5: ("stp_state", _u32), 7: ("vlan_filtering", _u8)},
    "vxlan": {1: ("id", _u32), 3: ("link", _u32), 4: ("local", _ip), 15: ("port", _be16), 17: ("local", _ip)},
}
SLAVE_DATA = {"bridge": {4: ("mode", _u8), 33: ("isolated", _u8)}}
LINKINFO = {1: ("kind", _text), 2: ("data", _span), 4: ("slave_kind", _text), 5: ("slave_data", _span)}


def _linkinfo(data, start, end):
    info = attributes(LINKINFO, data, start, end)
    for key, kind, layouts in (("data", "kind", INFO_DATA), ("slave_data", "slave_kind", SLAVE_DATA)):
        span = info.pop(key, None)
        if span is not None and info.get(kind) in layouts:
            info[key] = attributes(layouts[info[kind]], data, *span)
    return info


LINK = ("=BxHiII", ("family", "type", "index", "flags", "change"),
        {3: ("ifname", _text), 4: ("mtu", _u32), 5: ("link", _u32), 10: ("master", _u32),
         18: ("linkinfo", _linkinfo), 37: ("link_netnsid", _s32)})
LINK_HEADER = (LINK[0], LINK[1], {})
ADDRESS = ("=BBBBI", ("family", "prefixlen", "flags", "scope", "index"), {1: ("address", _ip)})
ROUTE = ("=BBBBBBBBI", ("family", "dst_len", "src_len", "tos", "table", "proto", "scope", "type", "flags"),
         {1: ("dst", _ip), 4: ("oif", _u32), 5: ("gateway", _ip), 6: ("priority", _u32), 15: ("rta_table", _u32)})
NEIGHBOUR = ("=BxxxiHBB", ("family", "ifindex", "state", "flags", "type"), {1: ("dst", _ip), 2: ("lladdr", _mac)})
NSID = ("=Bxxx", ("family",), {1: ("nsid", _s32)})
