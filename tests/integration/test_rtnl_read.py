"""rtnl's readers against pyroute2's decoder, on what a real kernel sends.

The engine reads dumps with its own small readers (module_utils/rtnl.py, "Reading") for
speed; here both read the same datagrams of links, addresses, routes and forwarding
entries, built by iproute2 in a sandbox host, and must agree on every value the engine uses.
"""

from __future__ import annotations

import json
import os

from conftest import COLLECTION, VENV_PYTHON

COMPARE = r"""
import json, socket, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.netfabric.netns.plugins.module_utils import rtnl
from pyroute2.netlink.rtnl.marshal import MarshalRtnl

def dump(request, msg_type):
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    sock.bind((0, 0))
    request["family"] = socket.AF_BRIDGE if msg_type == 30 else socket.AF_UNSPEC
    request["header"].update(type=msg_type, flags=0x301, sequence_number=1)
    request.encode()
    sock.send(request.data)
    chunks = []
    while True:
        data = sock.recv(1 << 16)
        chunks.append(data)
        if any(kind == 3 for kind, unused_seq, unused_start, unused_end in rtnl.messages(data)):
            return chunks

def nested(msg, *path):
    value = msg.get(path[0])
    for key in path[1:]:
        value = value.get_attr(key) if value is not None else None
    return value

CHECKS = {
    18: (rtnl.LINK, lambda theirs: {
        "index": theirs["index"], "flags": theirs["flags"], "ifname": theirs.get("ifname"),
        "mtu": theirs.get("mtu"), "link": theirs.get("link"), "master": theirs.get("master"),
        "link_netnsid": theirs.get("link_netnsid"),
        "kind": nested(theirs, "linkinfo", "IFLA_INFO_KIND"),
        "slave_kind": nested(theirs, "linkinfo", "IFLA_INFO_SLAVE_KIND"),
        "stp_state": nested(theirs, "linkinfo", "IFLA_INFO_DATA", "IFLA_BR_STP_STATE"),
        "vni": nested(theirs, "linkinfo", "IFLA_INFO_DATA", "IFLA_VXLAN_ID"),
        "port": nested(theirs, "linkinfo", "IFLA_INFO_DATA", "IFLA_VXLAN_PORT"),
        "local": nested(theirs, "linkinfo", "IFLA_INFO_DATA", "IFLA_VXLAN_LOCAL"),
        "hairpin": nested(theirs, "linkinfo", "IFLA_INFO_SLAVE_DATA", "IFLA_BRPORT_MODE"),
        "isolated": nested(theirs, "linkinfo", "IFLA_INFO_SLAVE_DATA", "IFLA_BRPORT_ISOLATED"),
    }, lambda ours: {
        "index": ours["index"], "flags": ours["flags"], "ifname": ours.get("ifname"), "mtu": ours.get("mtu"),
        "link": ours.get("link"), "master": ours.get("master"), "link_netnsid": ours.get("link_netnsid"),
        "kind": ours.get("linkinfo", {}).get("kind"), "slave_kind": ours.get("linkinfo", {}).get("slave_kind"),
        "stp_state": ours.get("linkinfo", {}).get("data", {}).get("stp_state"),
        "vni": ours.get("linkinfo", {}).get("data", {}).get("id"),
        "port": ours.get("linkinfo", {}).get("data", {}).get("port"),
        "local": ours.get("linkinfo", {}).get("data", {}).get("local"),
        "hairpin": ours.get("linkinfo", {}).get("slave_data", {}).get("mode"),
        "isolated": ours.get("linkinfo", {}).get("slave_data", {}).get("isolated"),
    }),
    22: (rtnl.ADDRESS, lambda theirs: {k: theirs[k] for k in ("family", "prefixlen", "scope", "index")}
         | {"address": theirs.get("address")},
         lambda ours: {k: ours.get(k) for k in ("family", "prefixlen", "scope", "index", "address")}),
    26: (rtnl.ROUTE, lambda theirs: {k: theirs[k] for k in ("family", "dst_len", "proto", "scope", "type")}
         | {"table": theirs.get("table"), "dst": theirs.get("dst"), "gateway": theirs.get("gateway"),
            "oif": theirs.get("oif"), "priority": theirs.get("priority")},
         lambda ours: {k: ours.get(k) for k in ("family", "dst_len", "proto", "scope", "type", "dst", "gateway",
                                                "oif", "priority")} | {"table": ours.get("rta_table") or ours["table"]}),
    30: (rtnl.NEIGHBOUR, lambda theirs: {"ifindex": theirs["ifindex"], "dst": theirs.get("dst"),
                                         "lladdr": theirs.get("lladdr")},
         lambda ours: {"ifindex": ours["ifindex"], "dst": ours.get("dst"), "lladdr": ours.get("lladdr")}),
}
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg
from pyroute2.netlink.rtnl.ndmsg import ndmsg
report = {"compared": {}, "differences": [], "seen": {}}
for msg_type, request in ((18, ifinfmsg()), (22, ifaddrmsg()), (26, rtmsg()), (30, ndmsg())):
    layout, theirs_view, ours_view = CHECKS[msg_type]
    count = 0
    for data in dump(request, msg_type):
        parsed = [m for m in MarshalRtnl().parse(data) if m["header"]["type"] not in (2, 3)]
        raw = [(s, e) for kind, unused_seq, s, e in rtnl.messages(data) if kind not in (2, 3)]
        assert len(parsed) == len(raw)
        for theirs, (start, end) in zip(parsed, raw):
            a, b = theirs_view(theirs), ours_view(rtnl.read(layout, data, start, end))
            count += 1
            report["seen"].setdefault(str(msg_type), []).append(b)
            if a != b:
                report["differences"].append({"type": msg_type, "pyroute2": a, "rtnl": b})
    report["compared"][str(msg_type)] = count
print(json.dumps(report, default=str))
"""


def test_readers_agree_with_pyroute2_on_kernel_dumps(host):
    host.run("ip link add name br0 type bridge stp_state 1 && ip link add name uplink type veth peer name uplink-peer"
             " && ip addr add 10.9.0.1/24 dev uplink && ip -6 addr add fd09::1/64 dev uplink nodad"
             " && ip link set uplink up && ip link set uplink-peer up"
             " && ip link add name vx0 type vxlan id 42 dstport 4789 local 10.9.0.1 dev uplink"
             " && ip link set vx0 master br0 && ip link set vx0 type bridge_slave hairpin on isolated on"
             " && bridge fdb append 00:00:00:00:00:00 dev vx0 dst 10.9.0.2"
             " && ip route add 10.20.0.0/16 via 10.9.0.254 metric 7 table 1000"
             " && ip -6 route add fd20::/64 via fd09::fe dev uplink")
    path = os.path.join(host.dir, "compare.py")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(COMPARE)
    collections = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION)))
    report = json.loads(host.run(f"{VENV_PYTHON} {path} {collections}").stdout)
    assert report["differences"] == []
    seen = report["seen"]
    links = {link["ifname"]: link for link in seen["18"]}
    assert links["br0"]["kind"] == "bridge" and links["br0"]["stp_state"] == 1
    assert (links["vx0"]["vni"], links["vx0"]["port"], links["vx0"]["local"]) == (42, 4789, "10.9.0.1")
    assert (links["vx0"]["hairpin"], links["vx0"]["isolated"], links["vx0"]["master"]) == (1, 1, links["br0"]["index"])
    assert links["uplink"]["link"] == links["uplink-peer"]["index"]
    assert {"address": "fd09::1", "prefixlen": 64} in [{k: a[k] for k in ("address", "prefixlen")} for a in seen["22"]]
    assert any(r["table"] == 1000 and r["dst"] == "10.20.0.0" and r["priority"] == 7 for r in seen["26"])
    assert any(r["gateway"] == "fd09::fe" and r["dst"] == "fd20::" for r in seen["26"])
    assert any(n["dst"] == "10.9.0.2" and n["ifindex"] == links["vx0"]["index"] for n in seen["30"])
