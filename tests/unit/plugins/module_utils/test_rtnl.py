"""rtnl.py: requests as pyroute2's IPRoute builds them, and an exchange that trusts no bad answer.

pyroute2's IPBatch compiles a request through IPRoute's own argument handling without
sending it; the request cases compare that with what Rtnl writes to its socket, header
sequence number and port id aside. The answer cases give Rtnl, the reader and the
applier a scripted socket (FakeKernel): what the kernel cannot be made to send in a
sandbox (a truncated or malformed answer, a dump interrupted on cue) is sent here, as
datagrams encoded with pyroute2's message classes. The kernel side of every request is
covered by the integration tests.
"""

from __future__ import annotations

import socket
import struct

import pytest

pytest.importorskip("pyroute2")

from pyroute2 import IPBatch  # noqa: E402
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg  # noqa: E402

from ansible_collections.netfabric.netns.plugins.module_utils import kernel  # noqa: E402
from ansible_collections.netfabric.netns.plugins.module_utils import reader  # noqa: E402
from ansible_collections.netfabric.netns.plugins.module_utils import rtnl as rtnl_mod  # noqa: E402
from ansible_collections.netfabric.netns.plugins.module_utils import link_kinds  # noqa: E402
from ansible_collections.netfabric.netns.plugins.module_utils.errors import KernelError  # noqa: E402
from ansible_collections.netfabric.netns.plugins.module_utils.planner import Action  # noqa: E402

NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_MULTI, NLM_F_DUMP_INTR = 0x2, 0x10
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
NLMSGERR_ATTR_MSG = 1
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_GETADDR = 16, 17, 18, 22


def nlmsg(msg_type, flags, seq, body):
    return struct.pack("IHHII", 16 + len(body), msg_type, flags, seq, 0) + body


def nla(kind, payload):
    return struct.pack("HH", 4 + len(payload), kind) + payload + b"\0" * (-len(payload) % 4)


def ack(code=0, text=None):
    """An acknowledgement as the kernel sends it: the error, the request (only its header
    when it is no refusal), the extended acknowledgement's text if any."""
    def answer(seq, request):
        body = struct.pack("i", -code) + (request if code else request[:16])
        flags = 0 if code else NLM_F_CAPPED
        if text is not None:
            body += nla(NLMSGERR_ATTR_MSG, text.encode() + b"\0")
            flags |= NLM_F_ACK_TLVS
        return [(nlmsg(NLMSG_ERROR, flags, seq, body), 0)]
    return answer


def link_msg(seq, index, name, flags=NLM_F_MULTI, **attrs):
    msg = ifinfmsg()
    msg["index"] = index
    msg["attrs"] = [("IFLA_IFNAME", name)] + list(attrs.items())
    msg["header"].update(type=RTM_NEWLINK, flags=flags, sequence_number=seq)
    msg.encode()
    return bytes(msg.data)


def dump(*makers, intr=False, done=True):
    """One datagram: messages made by makers(seq), then NLMSG_DONE; every message flagged
    as interrupted with ``intr``."""
    def answer(seq, unused_request):
        flags = NLM_F_MULTI | (NLM_F_DUMP_INTR if intr else 0)
        data = b"".join(make(seq, flags) for make in makers)
        if done:
            data += nlmsg(NLMSG_DONE, flags, seq, struct.pack("i", 0))
        return [(data, 0)]
    return answer


def veth(index, name, peer_index):
    return lambda seq, flags: link_msg(seq, index, name, flags, IFLA_LINK=peer_index,
                                       IFLA_LINKINFO={"attrs": [("IFLA_INFO_KIND", "veth")]})


def lo(seq, flags):
    return link_msg(seq, 1, "lo", flags)


def no_addresses(seq, unused_request):
    return [(nlmsg(NLMSG_DONE, NLM_F_MULTI, seq, struct.pack("i", 0)), 0)]


class FakeKernel:
    """A netlink socket with scripted answers: each request sent takes the next answer
    maker, which returns the datagrams to receive as (bytes, recvmsg flags)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []
        self.pending = []

    def bind(self, unused_address):
        pass

    def setsockopt(self, *unused):
        pass

    def settimeout(self, unused):
        pass

    def close(self):
        pass

    def send(self, data):
        data = bytes(data)
        self.sent.append(data)
        seq = struct.unpack_from("I", data, 8)[0]
        self.pending.extend(self.answers.pop(0)(seq, data) if self.answers else ack()(seq, data))
        return len(data)

    def recvmsg(self, unused_size):
        if not self.pending:
            raise socket.timeout("nothing more to receive")
        data, flags = self.pending.pop(0)
        return data, [], flags, None

    def recv(self, size):
        return self.recvmsg(size)[0]

    def types(self):
        return [struct.unpack_from("H", data, 4)[0] for data in self.sent]


@pytest.fixture
def fake_kernel(monkeypatch):
    """install(*answers): Rtnl() in this test talks to a FakeKernel with these answers."""
    made = []

    def install(*answers):
        fake = FakeKernel(*answers)
        made.append(fake)
        monkeypatch.setattr(rtnl_mod.socket, "socket", lambda *unused: fake)
        return fake
    return install


class OneNamespace:
    """What KernelReader and Applier need of namespaces.Namespaces, for one socket."""

    def __init__(self):
        self.socket = rtnl_mod.Rtnl()
        self.removed = []

    def rtnl(self, unused_name):
        return self.socket

    def exists(self, unused_name):
        return True


# ------------------------------------------------------------------ requests


def recording():
    fake = FakeKernel()
    rtnl = rtnl_mod.Rtnl.__new__(rtnl_mod.Rtnl)
    rtnl.sock, rtnl.seq, rtnl.marshal = fake, 0, rtnl_mod._Marshal()  # pylint: disable=protected-access
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
    ("macvlan born in another namespace, with a MAC",
     lambda r: r.link_add("m1", "macvlan", mtu=1400, data=link_kinds.lower_data("macvlan", "private"), link=3,
                          netns_fd=5, address="02:00:00:00:00:51"),
     ("link", "add", {"ifname": "m1", "kind": "macvlan", "mtu": 1400, "macvlan_mode": "private", "link": 3,
                      "net_ns_fd": 5, "address": "02:00:00:00:00:51"})),
    ("ipvlan l3 private: pyroute2's attributes, the flags too",
     lambda r: r.link_add("i1", "ipvlan", data=link_kinds.lower_data("ipvlan", "l3", "private"), link=3),
     ("link", "add", {"ifname": "i1", "kind": "ipvlan", "ipvlan_mode": 1, "ipvlan_flags": 1, "link": 3})),
    ("link delete",
     lambda r: r.link_del("a"),
     ("link", "del", {"ifname": "a"})),
    ("link up with an MTU",
     lambda r: r.link_set("a", up=True, mtu=1400),
     ("link", "set", {"ifname": "a", "state": "up", "mtu": 1400})),
    ("link down",
     lambda r: r.link_set("a", up=False),
     ("link", "set", {"ifname": "a", "state": "down"})),
    ("link off its bridge",
     lambda r: r.link_set("a", master=0),
     ("link", "set", {"ifname": "a", "master": 0})),
    ("link alias",
     lambda r: r.link_set("a", ifalias="netfabric: lab"),
     ("link", "set", {"ifname": "a", "ifalias": "netfabric: lab"})),
    ("bridge options",
     lambda r: r.link_set_info("br0", "bridge", data=rtnl_mod.bridge_data(stp=True, vlan_filtering=False)),
     ("link", "set", {"ifname": "br0", "kind": "bridge", "br_stp_state": 1, "br_vlan_filtering": 0})),
    ("bridge port options",
     lambda r: r.link_set_info("a", "bridge_slave", port_data=rtnl_mod.bridge_port_data(hairpin=True, isolated=False)),
     ("brport", "set", {"ifname": "a", "mode": 1, "isolated": 0})),
    ("IPv4 address",
     lambda r: r.addr("add", 5, "10.0.0.2/24"),
     ("addr", "add", {"index": 5, "address": "10.0.0.2", "prefixlen": 24})),
    ("IPv6 address",
     lambda r: r.addr("add", 5, "fd10::2/64"),
     ("addr", "add", {"index": 5, "address": "fd10::2", "prefixlen": 64})),
    ("default route",
     lambda r: r.route("add", "0.0.0.0/0", gateway="10.0.0.1"),
     ("route", "add", {"family": socket.AF_INET, "dst_len": 0, "table": 254, "gateway": "10.0.0.1"})),
    ("route replaced in a table above 255",
     lambda r: r.route("replace", "10.1.0.0/24", table=1000, oif=5, priority=10, gateway="10.0.0.1"),
     ("route", "replace", {"family": socket.AF_INET, "dst_len": 24, "dst": "10.1.0.0", "table": 1000, "oif": 5,
                           "priority": 10, "gateway": "10.0.0.1"})),
    ("IPv4 route through a device only: scope link, as ip route add does",
     lambda r: r.route("add", "10.1.0.0/24", oif=5),
     ("route", "add", {"family": socket.AF_INET, "dst_len": 24, "dst": "10.1.0.0", "table": 254, "oif": 5,
                       "scope": 253})),
    ("IPv6 route through a device only: scope universe",
     lambda r: r.route("add", "fd11::/64", oif=5),
     ("route", "add", {"family": socket.AF_INET6, "dst_len": 64, "dst": "fd11::", "table": 254, "oif": 5})),
    ("route removal with the route's scope",
     lambda r: r.route("del", "10.1.0.0/24", oif=5, scope=253),
     ("route", "del", {"family": socket.AF_INET, "dst_len": 24, "dst": "10.1.0.0", "table": 254, "oif": 5,
                       "scope": 253, "proto": 0, "type": 0})),
    ("vxlan forwarding entry",
     lambda r: r.fdb("append", 5, "10.0.0.9"),
     ("fdb", "append", {"ifindex": 5, "lladdr": "00:00:00:00:00:00", "dst": "10.0.0.9"})),
]


@pytest.mark.parametrize("call, expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_same_bytes_as_pyroute2(call, expected):
    rtnl = recording()
    call(rtnl)
    assert len(rtnl.sock.sent) == 1
    obj, command, kwargs = expected
    assert without_seq_and_pid(rtnl.sock.sent[0]) == without_seq_and_pid(compiled(obj, command, **kwargs))


def test_an_alias_on_creation_is_a_second_request():
    rtnl = recording()
    rtnl.link_add("br0", "bridge", ifalias="netfabric")
    assert without_seq_and_pid(rtnl.sock.sent[1]) == without_seq_and_pid(
        compiled("link", "set", ifname="br0", ifalias="netfabric"))


def test_sequence_numbers_increase():
    rtnl = recording()
    rtnl.link_del("a")
    rtnl.link_del("b")
    assert [struct.unpack_from("I", data, 8)[0] for data in rtnl.sock.sent] == [1, 2]


def test_bulk_deletion_is_one_group_and_one_delete():
    rtnl = recording()
    rtnl.links_del(["a", "b", "c"])
    types = rtnl.sock.types()
    assert types == [RTM_NEWLINK] * 3 + [RTM_DELLINK]
    groups = set()
    for data in rtnl.sock.sent:
        msg = ifinfmsg(data)
        msg.decode()
        groups.add(msg.get_attr("IFLA_GROUP"))
    assert len(groups) == 1 and groups.pop() >= 1 << 20


# ------------------------------------------------------------------ answers


def test_a_refusal_carries_the_errno_and_the_kernels_words(fake_kernel):
    fake_kernel(ack(101, "Nexthop has invalid gateway"))
    with pytest.raises(rtnl_mod.NetlinkError) as caught:
        rtnl_mod.Rtnl().route("add", "0.0.0.0/0", gateway="10.99.0.1")
    assert caught.value.code == 101
    assert rtnl_mod.kernel_text(caught.value) == "Nexthop has invalid gateway"
    assert kernel.reason(caught.value) == ("Nexthop has invalid gateway "
                                           "(ENETUNREACH: the gateway is not on a connected network)")


def test_a_refusal_without_words_keeps_the_errnos_meaning(fake_kernel):
    fake_kernel(ack(17))
    with pytest.raises(rtnl_mod.NetlinkError) as caught:
        rtnl_mod.Rtnl().link_add("br0", "bridge")
    assert rtnl_mod.kernel_text(caught.value) is None
    assert kernel.reason(caught.value) == "already exists"


def test_an_interrupted_dump_is_read_again_and_never_planned_on(fake_kernel):
    # the first answer misses the peer of veth-a, as an interrupted dump may
    fake_kernel(dump(lo, veth(2, "veth-a", 3), intr=True),
                dump(lo, veth(2, "veth-a", 3), veth(3, "veth-b", 2)),
                no_addresses)
    state = reader.KernelReader(OneNamespace()).read("red")
    assert sorted(state.links) == ["lo", "veth-a", "veth-b"]


def test_a_dump_interrupted_every_time_is_an_error_not_a_partial_view(fake_kernel):
    fake_kernel(*[dump(lo, veth(2, "veth-a", 3), intr=True)] * rtnl_mod.DUMP_ATTEMPTS)
    with pytest.raises(KernelError, match=r"netns 'red': cannot read its state: the kernel interrupted the link "
                                          r"dump 5 times in a row"):
        reader.KernelReader(OneNamespace()).read("red")


def test_a_truncated_answer_is_a_clear_error(fake_kernel):
    def truncated(seq, request):
        data = dump(lo, veth(2, "veth-a", 3))(seq, request)[0][0]
        return [(data[:40], socket.MSG_TRUNC)]
    fake_kernel(truncated)
    with pytest.raises(KernelError, match=r"netns 'red': cannot read its state: a truncated answer to a link request"):
        reader.KernelReader(OneNamespace()).read("red")


def test_messages_that_overrun_their_datagram_are_a_clear_error(fake_kernel):
    def overrun(seq, request):
        data = dump(lo, veth(2, "veth-a", 3))(seq, request)[0][0]
        return [(data[:-30], 0)]  # the last message claims more bytes than arrived
    fake_kernel(overrun)
    with pytest.raises(KernelError, match=r"netns 'red': cannot read its state: a malformed answer to a link request"):
        reader.KernelReader(OneNamespace()).read("red")


def test_a_message_pyroute2_cannot_decode_is_a_clear_error(fake_kernel):
    def garbled(seq, unused_request):
        # an attribute whose length runs past its message
        body = struct.pack("BxHiII", 0, 0, 4, 0, 0) + struct.pack("HH", 200, 3) + b"eth0"
        return [(nlmsg(RTM_NEWLINK, NLM_F_MULTI, seq, body) + nlmsg(NLMSG_DONE, NLM_F_MULTI, seq, b"\0" * 4), 0)]
    fake_kernel(garbled)
    with pytest.raises(KernelError, match=r"netns 'red': cannot read its state: a malformed"):
        reader.KernelReader(OneNamespace()).read("red")


def test_no_answer_at_all_is_a_clear_error(fake_kernel):
    fake_kernel(lambda seq, request: [])
    with pytest.raises(KernelError, match=r"no answer from the kernel to a link request within 30 s"):
        reader.KernelReader(OneNamespace()).read("red")


def test_a_bad_answer_midway_rolls_the_run_back(fake_kernel):
    # the bridge's creation (its alias comes once the plan is done), then the address
    fake = fake_kernel(ack(), lambda seq, request: [(ack()(seq, request)[0][0][:20], socket.MSG_TRUNC)])
    applier = kernel.Applier(OneNamespace(), indexes={("red", "br0"): 4})
    actions = [Action("link_add_bridge", "red", "bridge 'br0' (netns red)", "create", {"name": "br0"}),
               Action("addr_add", "red", "bridge 'br0' (netns red)", "add address 10.0.0.1/24",
                      {"name": "br0", "cidr": "10.0.0.1/24"})]
    with pytest.raises(KernelError) as caught:
        applier.apply(actions)
    assert caught.value.msg == ("bridge 'br0' (netns red): cannot add address 10.0.0.1/24: a truncated answer to an "
                                "address request (a datagram longer than 65536 bytes)")
    assert caught.value.details["rolled_back"] == ["link red br0"]
    assert fake.types()[-1] == RTM_DELLINK  # the bridge this run made is gone again


def test_link_fields_read_alias_kind_and_port_settings():
    data = link_msg(1, 7, "veth-red-br", IFLA_MTU=1400, IFLA_LINK=9, IFLA_MASTER=3, IFLA_LINK_NETNSID=2,
                    IFLA_IFALIAS="netfabric", IFLA_LINKINFO={"attrs": [
                        ("IFLA_INFO_KIND", "veth"), ("IFLA_INFO_SLAVE_KIND", "bridge"),
                        ("IFLA_INFO_SLAVE_DATA", {"attrs": [("IFLA_BRPORT_MODE", 1), ("IFLA_BRPORT_ISOLATED", 0)]})]})
    msg, = rtnl_mod._Marshal().parse(data)  # pylint: disable=protected-access
    fields = rtnl_mod.link_fields(msg)
    assert fields == {"index": 7, "name": "veth-red-br", "kind": "veth", "mtu": 1400, "up": False, "master": 3,
                      "peer_index": 9, "peer_nsid": 2, "alias": "netfabric", "slave_kind": "bridge",
                      "hairpin": True, "isolated": False}


def nsids(*ids):
    """A dump of the namespace ids the namespace has given to live namespaces."""
    from pyroute2.netlink.rtnl.nsidmsg import nsidmsg

    def make(nsid):
        def message(seq, flags):
            msg = nsidmsg()
            msg["attrs"] = [("NETNSA_NSID", nsid)]
            msg["header"].update(type=88, flags=flags, sequence_number=seq)
            msg.encode()
            return bytes(msg.data)
        return message
    return dump(*[make(nsid) for nsid in ids])


def crossing_veth(index, name, peer_index, nsid):
    return lambda seq, flags: link_msg(seq, index, name, flags, IFLA_LINK=peer_index, IFLA_LINK_NETNSID=nsid,
                                       IFLA_LINKINFO={"attrs": [("IFLA_INFO_KIND", "veth")]})


def test_names_held_by_a_namespace_the_kernel_is_removing_are_waited_for(fake_kernel):
    # veth3's peer sat in a namespace just removed: its id 5 is gone from the table, the link not yet
    fake = fake_kernel(dump(lo, crossing_veth(3, "veth3", 2, 5), crossing_veth(4, "veth4", 2, 6)), nsids(6),
                       dump(lo, crossing_veth(4, "veth4", 2, 6)), nsids(6),
                       no_addresses)
    state = reader.KernelReader(OneNamespace()).read(None)
    assert sorted(state.links) == ["lo", "veth4"]
    assert fake.types().count(RTM_GETLINK) == 2


def test_names_held_too_long_are_a_clear_error(fake_kernel, monkeypatch):
    monkeypatch.setattr(reader, "HELD_WAIT", 0.2)
    fake_kernel(*[dump(lo, crossing_veth(3, "veth3", 2, -1)), nsids()] * 100)
    with pytest.raises(KernelError, match=r"the host namespace: 'veth3' still belong to a namespace the kernel is "
                                          r"removing, 0 s after"):
        reader.KernelReader(OneNamespace()).read(None)


def test_a_new_links_mark_rides_on_its_next_change(fake_kernel):
    # the pair's creation; v-red up carries its mark; v-red-br, not changed again, is marked last
    fake = fake_kernel()
    applier = kernel.Applier(OneNamespace(), indexes={})
    create = {"name": "v-red", "peer": "v-red-br", "peer_netns": "red"}
    applier.apply([Action("link_add_veth", "red", "veth 'v-red'", "create", create),
                   Action("link_set", "red", "veth 'v-red'", "up", {"name": "v-red", "up": True})])
    sent = []
    for data in fake.sent:
        msg = ifinfmsg(data)
        msg.decode()
        sent.append((msg["header"]["type"], msg.get_attr("IFLA_IFNAME"), msg.get_attr("IFLA_IFALIAS"),
                     bool(msg["flags"] & 1)))
    assert sent == [(RTM_NEWLINK, "v-red", None, False),
                    (RTM_NEWLINK, "v-red", "netfabric.netns", True),
                    (RTM_NEWLINK, "v-red-br", "netfabric.netns", False)]
