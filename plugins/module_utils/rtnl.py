# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Route netlink in-process: the engine's requests and reads (private to the collection).

The engine sends a handful of request kinds (links, addresses, routes, vxlan forwarding
entries, namespace ids) and reads a few attributes of links, addresses and routes. It
does so here, with struct, rather than through pyroute2's IPRoute, because that was the
bulk of a run at 1,000 namespaces (measured, see docs/testing.md): IPRoute runs each
request through an asyncio event loop (about 150 us of Python per request), its message
classes take 60-270 us to encode a request and about 0.3 ms to decode a link (an object
per attribute, some forty per link). Here a request costs about a tenth of that.

pyroute2 stays the reference: tests/unit/test_rtnl.py checks that every request is
byte for byte what pyroute2's IPRoute sends for the same arguments (compiled by its
IPBatch) and that every reader agrees with pyroute2's decoder, and
tests/integration/test_rtnl_read.py does the same on real kernel dumps. Attribute numbers
are the kernel's (linux/uapi if_link.h, if_addr.h, rtnetlink.h, neighbour.h,
net_namespace.h), which do not change.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct

NETLINK_ROUTE = 0
SOL_NETLINK = 270
NETLINK_GET_STRICT_CHK = 12
RECV_BUFFER = 1 << 16  # a dump arrives in parts of at most 32 KiB

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_APPEND = 0x800
NLMSG_ERROR = 2
NLMSG_DONE = 3
# the flags IPRoute gives each command
CREATE = NLM_F_CREATE | NLM_F_EXCL
REPLACE = NLM_F_REPLACE | NLM_F_CREATE
APPEND = NLM_F_CREATE | NLM_F_APPEND
CHANGE = 0

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
RTM_GETNSID = 90

IFF_UP = 0x1
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
NTF_SELF = 0x2
RT_TABLE_MAIN = 254
RTPROT_STATIC = 4
RTN_UNICAST = 1
ZERO_MAC = "00:00:00:00:00:00"
NLA_TYPE_MASK = 0x3FFF  # without the nested and byte-order flags

# attribute numbers
IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS = 3, 4, 5, 10, 18, 20
IFLA_NET_NS_FD, IFLA_LINK_NETNSID = 28, 37
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
VETH_INFO_PEER = 1
IFLA_BR_STP_STATE, IFLA_BR_VLAN_FILTERING = 5, 7
IFLA_BRPORT_MODE, IFLA_BRPORT_ISOLATED = 4, 33
IFLA_VXLAN_ID, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_PORT, IFLA_VXLAN_LOCAL6 = 1, 3, 4, 15, 17
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_TABLE = 1, 4, 5, 6, 15
NDA_DST, NDA_LLADDR = 1, 2
NETNSA_NSID, NETNSA_FD = 1, 3

LINK_HEADER_FORMAT = "=BxHiII"  # ifinfomsg: family, type, index, flags, change
ADDRESS_HEADER_FORMAT = "=BBBBI"  # ifaddrmsg: family, prefixlen, flags, scope, index
ROUTE_HEADER_FORMAT = "=BBBBBBBBI"  # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
NEIGHBOUR_HEADER_FORMAT = "=BxxxiHBB"  # ndmsg: family, ifindex, state, flags, type
NSID_HEADER_FORMAT = "=Bxxx"  # rtgenmsg, padded


class NetlinkError(OSError):
    """The kernel refused a request; ``code`` (and ``errno``) is its errno."""

    def __init__(self, code):
        super().__init__(code, os.strerror(code))

    @property
    def code(self):
        return self.errno


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

    def request(self, msg_type, body, flags=CHANGE, layout=None):
        """Send a request (its header struct and attributes, packed) and wait for the
        acknowledgement; returns the messages it answered with, read as ``layout`` says.
        A refusal raises NetlinkError with the kernel's errno."""
        return self._exchange(msg_type, NLM_F_REQUEST | NLM_F_ACK | flags, body, layout)

    def dump(self, msg_type, body, layout):
        return self._exchange(msg_type, NLM_F_REQUEST | NLM_F_DUMP, body, layout)

    def _exchange(self, msg_type, flags, body, layout):
        self.seq += 1
        self.sock.send(struct.pack("=IHHII", 16 + len(body), msg_type, flags, self.seq, 0) + body)
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
        return self.dump(RTM_GETLINK, _link_header(), LINK)

    def link_index(self, ifname):
        """The index of a link by name, or None."""
        try:
            found = self.request(RTM_GETLINK, _link_header() + _name(ifname), layout=LINK_HEADER)
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:
                return None
            raise
        return found[0]["index"] if found else None

    def link_add(self, ifname, kind, mtu=None, up=False, master=None, data=b"", peer=None):
        """Create a link, up and on the bridge with index ``master`` if asked; ``data`` are its
        kind's attributes (bridge_data(), vxlan_data()). ``peer`` is a veth's other end:
        (name, mtu, netns fd or None); it comes up only later (the kernel refuses, ENOTCONN,
        before the pair is complete)."""
        if peer is not None:
            name, peer_mtu, netns_fd = peer
            data = nla(VETH_INFO_PEER, _link_header() + _name(name) + _u32(IFLA_NET_NS_FD, netns_fd)
                       + _u32(IFLA_MTU, peer_mtu))
        info = nla(IFLA_INFO_KIND, _asciiz(kind)) + (nla(IFLA_INFO_DATA, data) if data else b"")
        body = (_link_header(up=up or None) + _name(ifname) + _u32(IFLA_MTU, mtu) + _u32(IFLA_MASTER, master)
                + nla(IFLA_LINKINFO, info))
        self.request(RTM_NEWLINK, body, CREATE)

    def link_set(self, ifname, up=None, mtu=None, master=None, alias=None):
        """Change a link: up or down, MTU, bridge (``master`` 0 leaves its bridge), alias (the
        kernel ignores an alias in a creating request: it is set afterwards)."""
        body = _link_header(up=up) + _name(ifname) + _u32(IFLA_MTU, mtu) + _u32(IFLA_MASTER, master)
        if alias is not None:
            body += nla(IFLA_IFALIAS, alias.encode())
        self.request(RTM_NEWLINK, body)

    def link_set_info(self, ifname, kind, data=b"", port_data=b""):
        """Change kind-specific attributes: a bridge's (``data``, bridge_data()) or a bridge
        port's (``port_data``, bridge_port_data(), with kind ``bridge_slave``)."""
        info = (nla(IFLA_INFO_KIND, _asciiz(kind)) + (nla(IFLA_INFO_DATA, data) if data else b"")
                + (nla(IFLA_INFO_SLAVE_DATA, port_data) if port_data else b""))
        self.request(RTM_NEWLINK, _link_header() + _name(ifname) + nla(IFLA_LINKINFO, info))

    def link_del(self, ifname):
        self.request(RTM_DELLINK, _link_header() + _name(ifname))

    # addresses and routes -------------------------------------------------

    def addrs(self):
        return self.dump(RTM_GETADDR, struct.pack(ADDRESS_HEADER_FORMAT, socket.AF_UNSPEC, 0, 0, 0, 0), ADDRESS)

    def addr(self, command, index, cidr):
        """Add ("add") or remove ("del") an address given as address/prefix."""
        iface = ipaddress.ip_interface(cidr)
        family = socket.AF_INET if iface.version == 4 else socket.AF_INET6
        body = struct.pack(ADDRESS_HEADER_FORMAT, family, iface.network.prefixlen, 0, 0, index)
        body += _ip(IFA_ADDRESS, iface.ip) + (_ip(IFA_LOCAL, iface.ip) if iface.version == 4 else b"")
        if command == "add":
            self.request(RTM_NEWADDR, body, CREATE)
        else:
            self.request(RTM_DELADDR, body)

    def routes(self, table=None):
        """Routes of both families; of one table only, where the kernel filters dumps (strict checking)."""
        header_table = 0 if table is None else table if table <= 255 else RT_TABLE_MAIN
        body = struct.pack(ROUTE_HEADER_FORMAT, socket.AF_UNSPEC, 0, 0, 0, header_table, 0, 0, 0, 0)
        if table is not None and table > 255:  # as in route(): the header's 8 bits, or RTA_TABLE
            body += _u32(RTA_TABLE, table)
        return self.dump(RTM_GETROUTE, body, ROUTE)

    def route(self, command, dst, table=RT_TABLE_MAIN, gateway=None, oif=None, priority=None):
        """Add ("add"), replace ("replace") or remove ("del") a unicast route; ``dst`` is a network."""
        net = ipaddress.ip_network(dst)
        family = socket.AF_INET if net.version == 4 else socket.AF_INET6
        proto, kind = (0, 0) if command == "del" else (RTPROT_STATIC, RTN_UNICAST)
        # the header's table has 8 bits: RTA_TABLE carries the real one
        body = struct.pack(ROUTE_HEADER_FORMAT, family, net.prefixlen, 0, 0, table if table <= 255 else RT_TABLE_MAIN,
                           proto, 0, kind, 0)
        body += (_ip(RTA_DST, net.network_address) if net.prefixlen else b"") + _u32(RTA_TABLE, table)
        body += (_ip(RTA_GATEWAY, gateway) if gateway else b"") + _u32(RTA_OIF, oif) + _u32(RTA_PRIORITY, priority)
        if command == "del":
            self.request(RTM_DELROUTE, body)
        else:
            self.request(RTM_NEWROUTE, body, CREATE if command == "add" else REPLACE)

    # bridge forwarding entries and namespace ids --------------------------

    def fdb_entries(self):
        return self.dump(RTM_GETNEIGH, struct.pack(NEIGHBOUR_HEADER_FORMAT, socket.AF_BRIDGE, 0, 0, 0, 0), NEIGHBOUR)

    def fdb(self, command, ifindex, dst, lladdr=ZERO_MAC):
        """Add ("append": another entry for the same address) or remove ("del") a vxlan
        forwarding entry towards ``dst``."""
        body = struct.pack(NEIGHBOUR_HEADER_FORMAT, socket.AF_BRIDGE, ifindex, NUD_NOARP | NUD_PERMANENT, NTF_SELF, 0)
        body += nla(NDA_LLADDR, bytes.fromhex(lladdr.replace(":", ""))) + _ip(NDA_DST, dst)
        if command == "append":
            self.request(RTM_NEWNEIGH, body, APPEND)
        else:
            self.request(RTM_DELNEIGH, body)

    def netnsid(self, fd):
        """The id under which this namespace knows the namespace open as ``fd`` (None: none given)."""
        for answer in self.request(RTM_GETNSID, struct.pack(NSID_HEADER_FORMAT, 0) + _u32(NETNSA_FD, fd), layout=NSID):
            nsid = answer.get("nsid")
            return nsid if nsid is not None and nsid >= 0 else None
        return None


# ------------------------------------------------------------------ writing


def nla(kind, payload):
    """One attribute: its header, the payload, padding to four bytes."""
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _u32(kind, value):
    return b"" if value is None else nla(kind, struct.pack("=I", value))


def _u8(kind, value):
    return b"" if value is None else nla(kind, struct.pack("=B", int(value)))


def _asciiz(text):
    return text.encode() + b"\0"


def _name(ifname):
    return nla(IFLA_IFNAME, _asciiz(ifname))


def _ip(kind, address):
    return nla(kind, ipaddress.ip_address(address).packed)


def _link_header(index=0, up=None):
    """An ifinfomsg; the kernel finds a link by its IFLA_IFNAME when the index is 0.
    ``up`` True or False sets or clears IFF_UP; None leaves it alone."""
    flags, change = (0, 0) if up is None else ((IFF_UP if up else 0), IFF_UP)
    return struct.pack(LINK_HEADER_FORMAT, 0, 0, index, flags, change)


def bridge_data(stp=None, vlan_filtering=None):
    return _u32(IFLA_BR_STP_STATE, None if stp is None else int(stp)) + _u8(IFLA_BR_VLAN_FILTERING, vlan_filtering)


def bridge_port_data(hairpin=None, isolated=None):
    return _u8(IFLA_BRPORT_MODE, hairpin) + _u8(IFLA_BRPORT_ISOLATED, isolated)


def vxlan_data(vni, port, local=None, link=None):
    data = _u32(IFLA_VXLAN_ID, vni) + nla(IFLA_VXLAN_PORT, struct.pack(">H", port))
    if local:
        data += _ip(IFLA_VXLAN_LOCAL6 if ":" in local else IFLA_VXLAN_LOCAL, local)
    return data + _u32(IFLA_VXLAN_LINK, link)


# ------------------------------------------------------------------ reading
#
# A layout says how to read one kind of message: the struct of its fixed header, the names
# of that header's fields, and the attributes to read as {type: (name, reader)}; every
# other attribute is skipped unread.


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


def _read_u8(data, start, unused_end):
    return data[start]


def _read_u32(data, start, unused_end):
    return struct.unpack_from("=I", data, start)[0]


def _read_s32(data, start, unused_end):
    return struct.unpack_from("=i", data, start)[0]


def _read_be16(data, start, unused_end):
    return struct.unpack_from(">H", data, start)[0]


def _read_text(data, start, end):
    return bytes(data[start:end]).split(b"\0", 1)[0].decode("utf-8", "replace")


def _read_ip(data, start, end):
    return socket.inet_ntop(socket.AF_INET if end - start == 4 else socket.AF_INET6, bytes(data[start:end]))


def _read_mac(data, start, end):
    return ":".join(f"{octet:02x}" for octet in data[start:end])


def _read_span(unused_data, start, end):
    return start, end


# IFLA_INFO_DATA and IFLA_INFO_SLAVE_DATA, by the link's kind and slave kind
INFO_DATA = {
    "bridge": {IFLA_BR_STP_STATE: ("stp_state", _read_u32), IFLA_BR_VLAN_FILTERING: ("vlan_filtering", _read_u8)},
    "vxlan": {IFLA_VXLAN_ID: ("id", _read_u32), IFLA_VXLAN_LINK: ("link", _read_u32),
              IFLA_VXLAN_LOCAL: ("local", _read_ip), IFLA_VXLAN_PORT: ("port", _read_be16),
              IFLA_VXLAN_LOCAL6: ("local", _read_ip)},
}
SLAVE_DATA = {"bridge": {IFLA_BRPORT_MODE: ("mode", _read_u8), IFLA_BRPORT_ISOLATED: ("isolated", _read_u8)}}
LINKINFO = {IFLA_INFO_KIND: ("kind", _read_text), IFLA_INFO_DATA: ("data", _read_span),
            IFLA_INFO_SLAVE_KIND: ("slave_kind", _read_text), IFLA_INFO_SLAVE_DATA: ("slave_data", _read_span)}


def _read_linkinfo(data, start, end):
    info = attributes(LINKINFO, data, start, end)
    for key, kind, layouts in (("data", "kind", INFO_DATA), ("slave_data", "slave_kind", SLAVE_DATA)):
        span = info.pop(key, None)
        if span is not None and info.get(kind) in layouts:
            info[key] = attributes(layouts[info[kind]], data, *span)
    return info


LINK = (LINK_HEADER_FORMAT, ("family", "type", "index", "flags", "change"),
        {IFLA_IFNAME: ("ifname", _read_text), IFLA_MTU: ("mtu", _read_u32), IFLA_LINK: ("link", _read_u32),
         IFLA_MASTER: ("master", _read_u32), IFLA_LINKINFO: ("linkinfo", _read_linkinfo),
         IFLA_LINK_NETNSID: ("link_netnsid", _read_s32), IFLA_IFALIAS: ("ifalias", _read_text)})
LINK_HEADER = (LINK[0], LINK[1], {})
ADDRESS = (ADDRESS_HEADER_FORMAT, ("family", "prefixlen", "flags", "scope", "index"),
           {IFA_ADDRESS: ("address", _read_ip)})
ROUTE = (ROUTE_HEADER_FORMAT, ("family", "dst_len", "src_len", "tos", "table", "proto", "scope", "type", "flags"),
         {RTA_DST: ("dst", _read_ip), RTA_OIF: ("oif", _read_u32), RTA_GATEWAY: ("gateway", _read_ip),
          RTA_PRIORITY: ("priority", _read_u32), RTA_TABLE: ("rta_table", _read_u32)})
NEIGHBOUR = (NEIGHBOUR_HEADER_FORMAT, ("family", "ifindex", "state", "flags", "type"),
             {NDA_DST: ("dst", _read_ip), NDA_LLADDR: ("lladdr", _read_mac)})
NSID = (NSID_HEADER_FORMAT, ("family",), {NETNSA_NSID: ("nsid", _read_s32)})
