"""rtnl against pyroute2, the reference: requests byte for byte, answers value for value.

pyroute2's IPBatch compiles a request through IPRoute's own argument handling without
sending it; each request case compares that with what Rtnl writes to its socket, header
sequence number and port id aside. The readers are checked on messages encoded by
pyroute2's message classes and against its decoder (on real kernel dumps:
tests/integration/test_rtnl_read.py). The kernel side of the requests is covered by the
integration tests.
"""

from __future__ import annotations

import socket
import struct

import pytest

pytest.importorskip("pyroute2")

from pyroute2 import IPBatch  # noqa: E402

from ansible_collections.netfabric.netns.plugins.module_utils import rtnl as rtnl_mod  # noqa: E402

NLMSG_ERROR = 2


class FakeSocket:
    """Records what is sent; answers each request with an acknowledgement carrying ``code``."""

    def __init__(self, code=0):
        self.sent = []
        self.code = code

    def send(self, data):
        self.sent.append(bytes(data))
        return len(data)

    def recv(self, unused_size):
        request = self.sent[-1]
        seq = struct.unpack_from("I", request, 8)[0]
        # nlmsgerr: the error, then the request (only its header when acknowledging, as the kernel does)
        body = struct.pack("i", -self.code) + (request if self.code else request[:16])
        return struct.pack("IHHII", 16 + len(body), NLMSG_ERROR, 0, seq, 0) + body

    def close(self):
        pass


def recording(code=0):
    rtnl = rtnl_mod.Rtnl.__new__(rtnl_mod.Rtnl)
    rtnl.sock, rtnl.seq = FakeSocket(code), 0
    return rtnl


def compiled(obj, command, **kwargs):
    batch = IPBatch()
    try:
        getattr(batch, obj)(command, **kwargs)
        return bytes(batch.batch)
    finally:
        batch.close()


def without_seq_and_pid(data):
    return data[:8] + data[16:]


CASES = [
    ("veth into another namespace",
     lambda r: r.link_add("a", "veth", mtu=1400, peer=("b", 1400, 5)),
     ("link", "add", {"ifname": "a", "kind": "veth", "mtu": 1400,
                      "peer": {"ifname": "b", "net_ns_fd": 5, "mtu": 1400}})),
    ("veth up and on a bridge",
     lambda r: r.link_add("a", "veth", up=True, master=4, peer=("b", None, 5)),
     ("link", "add", {"ifname": "a", "kind": "veth", "state": "up", "master": 4,
                      "peer": {"ifname": "b", "net_ns_fd": 5}})),
    ("veth in the same namespace",
     lambda r: r.link_add("a", "veth", peer=("b", None, None)),
     ("link", "add", {"ifname": "a", "kind": "veth", "peer": {"ifname": "b"}})),
    ("bridge",
     lambda r: r.link_add("br0", "bridge", mtu=1400),
     ("link", "add", {"ifname": "br0", "kind": "bridge", "mtu": 1400})),
    ("vxlan",
     lambda r: r.link_add("vx0", "vxlan", mtu=1450, data=rtnl_mod.vxlan_data(10, 4789, "10.0.0.1", 3)),
     ("link", "add", {"ifname": "vx0", "kind": "vxlan", "mtu": 1450, "vxlan_id": 10, "vxlan_port": 4789,
                      "vxlan_local": "10.0.0.1", "vxlan_link": 3})),
    ("vxlan over IPv6",
     lambda r: r.link_add("vx6", "vxlan", data=rtnl_mod.vxlan_data(7, 8472, "fd00:1::5")),
     ("link", "add", {"ifname": "vx6", "kind": "vxlan", "vxlan_id": 7, "vxlan_port": 8472,
                      "vxlan_local6": "fd00:1::5"})),
    ("link lookup by name",
     lambda r: r.link_index("eth0"),
     ("link", "get", {"ifname": "eth0"})),
    ("link delete",
     lambda r: r.link_del("a"),
     ("link", "del", {"ifname": "a"})),
    ("link up with an MTU",
     lambda r: r.link_set("a", up=True, mtu=1400),
     ("link", "set", {"ifname": "a", "state": "up", "mtu": 1400})),
    ("link down",
     lambda r: r.link_set("a", up=False),
     ("link", "set", {"ifname": "a", "state": "down"})),
    ("link onto a bridge",
     lambda r: r.link_set("a", master=7),
     ("link", "set", {"ifname": "a", "master": 7})),
    ("link off its bridge",
     lambda r: r.link_set("a", master=0),
     ("link", "set", {"ifname": "a", "master": 0})),
    ("bridge options",
     lambda r: r.link_set_info("br0", "bridge", data=rtnl_mod.bridge_data(stp=True, vlan_filtering=False)),
     ("link", "set", {"ifname": "br0", "kind": "bridge", "br_stp_state": 1, "br_vlan_filtering": 0})),
    ("bridge STP only",
     lambda r: r.link_set_info("br0", "bridge", data=rtnl_mod.bridge_data(stp=False)),
     ("link", "set", {"ifname": "br0", "kind": "bridge", "br_stp_state": 0})),
    ("bridge port options",
     lambda r: r.link_set_info("a", "bridge_slave", port_data=rtnl_mod.bridge_port_data(hairpin=True, isolated=False)),
     ("brport", "set", {"ifname": "a", "mode": 1, "isolated": 0})),
    ("IPv4 address",
     lambda r: r.addr("add", 5, "10.0.0.2/24"),
     ("addr", "add", {"index": 5, "address": "10.0.0.2", "prefixlen": 24})),
    ("IPv6 address",
     lambda r: r.addr("add", 5, "fd10::2/64"),
     ("addr", "add", {"index": 5, "address": "fd10::2", "prefixlen": 64})),
    ("address removal",
     lambda r: r.addr("del", 5, "10.0.0.2/24"),
     ("addr", "del", {"index": 5, "address": "10.0.0.2", "prefixlen": 24})),
    ("default route",
     lambda r: r.route("add", "0.0.0.0/0", gateway="10.0.0.1"),
     ("route", "add", {"family": socket.AF_INET, "dst_len": 0, "table": 254, "gateway": "10.0.0.1"})),
    ("route replaced in a table above 255",
     lambda r: r.route("replace", "10.1.0.0/24", table=1000, oif=5, priority=10),
     ("route", "replace", {"family": socket.AF_INET, "dst_len": 24, "dst": "10.1.0.0", "table": 1000, "oif": 5,
                           "priority": 10})),
    ("route through a device",
     lambda r: r.route("add", "10.1.0.0/24", oif=5),
     ("route", "add", {"family": socket.AF_INET, "dst_len": 24, "dst": "10.1.0.0", "table": 254, "oif": 5})),
    ("IPv6 route removal",
     lambda r: r.route("del", "fd11::/64", gateway="fd10::1"),
     ("route", "del", {"family": socket.AF_INET6, "dst_len": 64, "dst": "fd11::", "table": 254,
                       "gateway": "fd10::1"})),
    ("routes of the main table",
     lambda r: r.routes(254),
     ("route", "dump", {"family": socket.AF_UNSPEC, "table": 254})),
    ("vxlan forwarding entry",
     lambda r: r.fdb("append", 5, "10.0.0.9"),
     ("fdb", "append", {"ifindex": 5, "lladdr": "00:00:00:00:00:00", "dst": "10.0.0.9"})),
    ("vxlan forwarding entry removal",
     lambda r: r.fdb("del", 5, "10.0.0.9"),
     ("fdb", "del", {"ifindex": 5, "lladdr": "00:00:00:00:00:00", "dst": "10.0.0.9"})),
]


@pytest.mark.parametrize("call, expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_same_bytes_as_pyroute2(call, expected):
    rtnl = recording()
    call(rtnl)
    assert len(rtnl.sock.sent) == 1
    obj, command, kwargs = expected
    assert without_seq_and_pid(rtnl.sock.sent[0]) == without_seq_and_pid(compiled(obj, command, **kwargs))


def test_refusal_raises_netlink_error_with_the_errno():
    rtnl = recording(code=17)
    with pytest.raises(rtnl_mod.NetlinkError) as caught:
        rtnl.link_add("br0", "bridge")
    assert caught.value.code == 17


def test_sequence_numbers_increase():
    rtnl = recording()
    rtnl.link_del("a")
    rtnl.link_del("b")
    assert [struct.unpack_from("I", data, 8)[0] for data in rtnl.sock.sent] == [1, 2]


# ------------------------------------------------------------------ reading


def encoded(msg_class, fields, attrs, msg_type):
    """A message as the kernel would send it, encoded by pyroute2 from fields and attributes."""
    msg = msg_class()
    for name, value in fields.items():
        msg[name] = value
    msg["attrs"] = attrs
    msg["header"]["type"], msg["header"]["sequence_number"] = msg_type, 1
    msg.encode()
    return bytes(msg.data)


def read_one(layout, data):
    (unused_kind, seq, start, end), = list(rtnl_mod.messages(data))
    assert seq == 1
    return rtnl_mod.read(layout, data, start, end)


def test_reads_a_bridge_port_veth_like_pyroute2():
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.marshal import MarshalRtnl
    data = encoded(ifinfmsg, {"index": 7, "flags": 0x1043}, [
        ("IFLA_IFNAME", "veth-red-br"), ("IFLA_TXQLEN", 1000), ("IFLA_OPERSTATE", "UP"), ("IFLA_MTU", 1400),
        ("IFLA_LINK", 9), ("IFLA_MASTER", 3), ("IFLA_LINK_NETNSID", 2),
        ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "veth"), ("IFLA_INFO_SLAVE_KIND", "bridge"),
                                     ("IFLA_INFO_SLAVE_DATA", {"attrs": [("IFLA_BRPORT_STATE", 3),
                                                                         ("IFLA_BRPORT_MODE", 1),
                                                                         ("IFLA_BRPORT_ISOLATED", 1)]})]}),
    ], 16)
    link = read_one(rtnl_mod.LINK, data)
    assert {k: link[k] for k in ("index", "flags", "ifname", "mtu", "link", "master", "link_netnsid")} == {
        "index": 7, "flags": 0x1043, "ifname": "veth-red-br", "mtu": 1400, "link": 9, "master": 3, "link_netnsid": 2}
    assert link["linkinfo"] == {"kind": "veth", "slave_kind": "bridge", "slave_data": {"mode": 1, "isolated": 1}}
    theirs = next(MarshalRtnl().parse(data))
    assert (theirs.get("ifname"), theirs.get("mtu"), theirs.get("master"), theirs.get("link_netnsid")) == (
        "veth-red-br", 1400, 3, 2)
    assert theirs.get(("linkinfo", "slave_data")).get_attr("IFLA_BRPORT_ISOLATED") == 1


@pytest.mark.parametrize("kind, data, expected", [
    ("bridge", [("IFLA_BR_FORWARD_DELAY", 1500), ("IFLA_BR_STP_STATE", 1), ("IFLA_BR_VLAN_FILTERING", 1)],
     {"stp_state": 1, "vlan_filtering": 1}),
    ("vxlan", [("IFLA_VXLAN_ID", 42), ("IFLA_VXLAN_LINK", 2), ("IFLA_VXLAN_LOCAL", "10.0.0.1"),
               ("IFLA_VXLAN_TTL", 0), ("IFLA_VXLAN_PORT", 4789)],
     {"id": 42, "link": 2, "local": "10.0.0.1", "port": 4789}),
    ("vxlan", [("IFLA_VXLAN_ID", 7), ("IFLA_VXLAN_PORT", 8472), ("IFLA_VXLAN_LOCAL6", "fd00:1::5")],
     {"id": 7, "port": 8472, "local": "fd00:1::5"}),
], ids=["bridge", "vxlan over IPv4", "vxlan over IPv6"])
def test_reads_kind_data_like_pyroute2(kind, data, expected):
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.netlink.rtnl.marshal import MarshalRtnl
    raw = encoded(ifinfmsg, {"index": 4}, [
        ("IFLA_IFNAME", "x0"), ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", kind), ("IFLA_INFO_DATA", {"attrs": data})]}),
    ], 16)
    assert read_one(rtnl_mod.LINK, raw)["linkinfo"] == {"kind": kind, "data": expected}
    theirs = next(MarshalRtnl().parse(raw)).get(("linkinfo", "data"))
    assert {name: theirs.get_attr(name) for name, unused in data} == dict(data)


def test_reads_addresses_routes_neighbours_and_nsids():
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    from pyroute2.netlink.rtnl.ndmsg import ndmsg
    from pyroute2.netlink.rtnl.nsidmsg import nsidmsg
    from pyroute2.netlink.rtnl.rtmsg import rtmsg
    raw = encoded(ifaddrmsg, {"family": 10, "prefixlen": 64, "scope": 253, "index": 5},
                  [("IFA_ADDRESS", "fe80::1"), ("IFA_FLAGS", 128)], 20)
    address = read_one(rtnl_mod.ADDRESS, raw)
    assert address == {"family": 10, "prefixlen": 64, "flags": 0, "scope": 253, "index": 5, "address": "fe80::1"}
    route = read_one(rtnl_mod.ROUTE, encoded(rtmsg, {"family": 10, "dst_len": 64, "table": 254, "proto": 4, "type": 1},
                                             [("RTA_TABLE", 1000), ("RTA_DST", "fd11::"), ("RTA_PRIORITY", 10),
                                              ("RTA_OIF", 5), ("RTA_GATEWAY", "fd10::1"), ("RTA_PREF", 0)], 24))
    assert {k: route[k] for k in ("family", "dst_len", "table", "rta_table", "proto", "type", "dst", "gateway", "oif",
                                  "priority")} == {
        "family": 10, "dst_len": 64, "table": 254, "rta_table": 1000, "proto": 4, "type": 1, "dst": "fd11::",
        "gateway": "fd10::1", "oif": 5, "priority": 10}
    entry = read_one(rtnl_mod.NEIGHBOUR, encoded(ndmsg, {"family": 7, "ifindex": 6, "state": 192, "flags": 2},
                                                 [("NDA_LLADDR", "00:00:00:00:00:00"), ("NDA_DST", "10.0.0.9")], 28))
    assert (entry["ifindex"], entry["lladdr"], entry["dst"]) == (6, "00:00:00:00:00:00", "10.0.0.9")
    assert read_one(rtnl_mod.NSID, encoded(nsidmsg, {}, [("NETNSA_NSID", 3)], 88))["nsid"] == 3
