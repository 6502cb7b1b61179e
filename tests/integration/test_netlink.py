"""The netlink layer on a real kernel: what it reads and writes, checked with iproute2's view.

rtnl.py builds and decodes every message with pyroute2; these tests hold the engine to
what `ip -j` shows (never to pyroute2's bytes): the reader on a rich host, aliases set
when links are created, the netlink bugs found in review (route scopes, point-to-point
addresses, netns_info's namespace ids), and teardowns that leave veths to the kernel.
"""

from __future__ import annotations

import json
import os
import time

from conftest import COLLECTION, VENV_PYTHON
from diagrams import parse_mermaid
from helpers import task

COLLECTIONS = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION)))

# Runs inside the sandbox: reads every namespace given on the command line through the
# engine's reader (one Namespaces, as a module run has) and prints what it saw as JSON.
READ = r"""
import dataclasses, json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.netfabric.netns.plugins.module_utils.reader import KernelReader
from ansible_collections.netfabric.netns.plugins.module_utils.namespaces import Namespaces
from ansible_collections.netfabric.netns.plugins.module_utils import rtnl

namespaces = Namespaces()
reader = KernelReader(namespaces)
out = {}
for name in [None if n == "-" else n for n in sys.argv[2:]]:
    state = reader.read(name)
    links = {link.name: dataclasses.asdict(link) for link in state.links.values()}
    for fields in namespaces.rtnl(name).links():
        links[fields["name"]]["alias"] = fields["alias"]
    out[name or "-"] = {"links": links, "routes": [dataclasses.asdict(r) for r in reader.read_routes(name)]}
print(json.dumps(out))
"""

# Runs inside the sandbox: the applier creates links with an alias, as issue 11's ownership
# marks will; argv: collections path.
CREATE_WITH_ALIAS = r"""
import sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.netfabric.netns.plugins.module_utils.kernel import Applier
from ansible_collections.netfabric.netns.plugins.module_utils.namespaces import Namespaces
from ansible_collections.netfabric.netns.plugins.module_utils.planner import Action

namespaces = Namespaces()
Applier(namespaces).apply([
    Action("link_add_bridge", None, "bridge", "create", {"name": "br-a"}),
    Action("link_add_veth", "red", "veth", "create", {"name": "v-red", "peer": "v-red-br", "peer_netns": None,
           "master": "br-a", "from_peer": True, "up": True}),
    Action("link_add_vxlan", None, "vxlan", "create", {"name": "vx-a", "vni": 7, "dstport": 4789,
           "local": "10.9.0.1"}),
])
namespaces.rtnl(None).link_set("uplink", ifalias="adopted")
namespaces.close()
"""

# Runs inside the sandbox: netns_info's facts with every namespace-id request counted.
COUNT_NSID_REQUESTS = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.netfabric.netns.plugins.module_utils import engine, rtnl

calls = []
plain = rtnl.Rtnl.netnsid
def counted(self, fd):
    calls.append(fd)
    return plain(self, fd)
rtnl.Rtnl.netnsid = counted
facts = engine.describe()
print(json.dumps({"requests": len(calls), "facts": facts}))
"""


def run_script(host, name, code, *args):
    path = os.path.join(host.dir, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(code)
    return host.run([VENV_PYTHON, path, COLLECTIONS] + [str(arg) for arg in args])


def eventually(check, timeout=10.0):
    """True once check() is (the kernel removes a namespace's links asynchronously)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def read(host, *namespaces):
    return json.loads(run_script(host, "read.py", READ, *[ns or "-" for ns in namespaces]).stdout)


def test_the_reader_sees_what_iproute2_shows(host):
    host.run("ip netns add red && ip link add name br0 type bridge stp_state 1"
             " && ip link add name uplink type veth peer name uplink-peer"
             " && ip addr add 10.9.0.1/24 dev uplink && ip -6 addr add fd09::1/64 dev uplink nodad"
             " && ip link set uplink up && ip link set uplink-peer up && ip link set uplink alias 'the uplink'"
             " && ip link add name vx0 mtu 1450 type vxlan id 42 dstport 4789 local 10.9.0.1 dev uplink"
             " && ip link set vx0 master br0 && ip link set vx0 type bridge_slave hairpin on isolated on"
             " && ip link add name veth-red-br master br0 type veth peer name veth-red netns red"
             " && ip route add 10.20.0.0/16 via 10.9.0.254 metric 7 table 1000")
    seen = read(host, None, "red")
    links = seen["-"]["links"]
    for theirs in host.ip("-d link show"):
        ours = links[theirs["ifname"]]
        assert ours["index"] == theirs["ifindex"] and ours["mtu"] == theirs["mtu"]
        assert ours["up"] == ("UP" in theirs["flags"]) and ours["master"] == theirs.get("master")
        assert ours["kind"] == theirs.get("linkinfo", {}).get("info_kind")
        assert ours["alias"] == theirs.get("ifalias")
    assert (links["br0"]["stp"], links["br0"]["vlan_filtering"]) == (True, False)
    assert (links["vx0"]["vni"], links["vx0"]["dstport"], links["vx0"]["local"]) == (42, 4789, "10.9.0.1")
    assert links["vx0"]["dev_index"] == links["uplink"]["index"]
    assert (links["vx0"]["hairpin"], links["vx0"]["isolated"]) == (True, True)
    assert links["uplink"]["peer_index"] == links["uplink-peer"]["index"] and links["uplink"]["peer_nsid"] is None
    theirs_red = host.ip("-n red link show veth-red")[0]
    assert seen["red"]["links"]["veth-red"]["peer_index"] == links["veth-red-br"]["index"] == theirs_red["link_index"]
    assert sorted(links["uplink"]["addresses"]) == ["10.9.0.1/24", "fd09::1/64"]
    assert {"dst": "10.20.0.0/16", "table": 1000, "gateway": "10.9.0.254", "dev": "uplink", "metric": 7,
            "scope": 0} in seen["-"]["routes"]


def test_an_alias_set_on_creation_is_read_back(host):
    host.run("ip netns add red && ip link add name uplink type veth peer name uplink-peer"
             " && ip addr add 10.9.0.1/24 dev uplink")
    run_script(host, "alias.py", CREATE_WITH_ALIAS)
    aliases = {link["ifname"]: link.get("ifalias") for link in host.ip("link show")}
    assert aliases["br-a"] == aliases["vx-a"] == aliases["v-red-br"] == "netfabric.netns"
    assert aliases["uplink"] == "adopted"
    assert host.ip("-n red link show v-red")[0]["ifalias"] == "netfabric.netns"  # both ends of the veth
    seen = read(host, None, "red")
    assert seen["-"]["links"]["br-a"]["alias"] == "netfabric.netns"
    assert seen["red"]["links"]["v-red"]["alias"] == "netfabric.netns"
    assert seen["-"]["links"]["uplink"]["alias"] == "adopted"
    assert seen["-"]["links"]["uplink-peer"]["alias"] is None


def test_a_scope_link_route_is_deleted(host):
    # `ip route add X dev Y` makes a scope-link route; deleting it with scope 0 was refused (ESRCH)
    host.run("ip netns add blue && ip -n blue link add v0 type veth peer name v1 && ip -n blue link set v0 up"
             " && ip -n blue route add 10.5.0.0/24 dev v0")
    assert host.ip("-n blue route show 10.5.0.0/24")[0]["scope"] == "link"
    play = host.play([task("netns_route", {"netns": "blue", "dst": "10.5.0.0/24", "state": "absent"})])
    assert play.rc == 0, play.output
    assert play.results[0]["changed"] is True
    assert host.ip("-n blue route show 10.5.0.0/24") == []


def test_a_route_without_gateway_has_scope_link_and_carries_later_gateways(host):
    host.run("ip netns add blue && ip -n blue link add v0 type veth peer name v1 && ip -n blue link set v0 up")
    play = host.play([task("netns_route", {"netns": "blue", "dst": "10.6.0.0/24", "dev": "v0"}),
                      task("netns_route", {"netns": "blue", "dst": "10.7.0.0/24", "gateway": "10.6.0.1"})])
    assert play.rc == 0, play.output
    [route] = host.ip("-n blue route show 10.6.0.0/24")
    assert route["scope"] == "link" and route["dev"] == "v0"
    [via] = host.ip("-n blue route show 10.7.0.0/24")
    assert via["gateway"] == "10.6.0.1" and via["dev"] == "v0"


def test_a_point_to_point_address_is_read_as_the_local_one(host):
    host.run("ip netns add blue && ip -n blue link add v0 type veth peer name v1"
             " && ip -n blue addr add 10.8.0.1 peer 10.8.0.2/32 dev v0")
    [theirs] = host.ip("-n blue -4 addr show dev v0")
    assert [(a["local"], a["address"]) for a in theirs["addr_info"]] == [("10.8.0.1", "10.8.0.2")]
    play = host.play([task("netns_info", {"netns": "blue"}),
                      task("netns_address", {"netns": "blue", "interface": "v0", "addresses": ["10.8.0.1/32"]})])
    assert play.rc == 0, play.output
    info, address = play.results
    v0 = next(link for link in info["netns"]["blue"]["links"] if link["name"] == "v0")
    assert v0["addresses"] == ["10.8.0.1/32"]
    assert address["changed"] is False  # the local address is there already


def test_netns_info_asks_one_namespace_id_per_veth_end_not_per_pair_of_namespaces(host):
    setup = ["ip link add name br0 type bridge"]
    for i in range(6):
        setup += [f"ip netns add n{i}", f"ip link add name v{i}-br master br0 type veth peer name eth0 netns n{i}"]
    setup.append("ip link add name ab netns n0 type veth peer name ba netns n1")
    host.run(" && ".join(setup))
    report = json.loads(run_script(host, "count.py", COUNT_NSID_REQUESTS).stdout)
    facts = report["facts"]
    host_links = {link["name"]: link for link in facts["host"]["links"]}
    for i in range(6):
        assert (host_links[f"v{i}-br"]["peer"], host_links[f"v{i}-br"]["peer_netns"]) == ("eth0", f"n{i}")
        eth0 = next(link for link in facts["netns"][f"n{i}"]["links"] if link["name"] == "eth0")
        assert (eth0["peer"], eth0["peer_netns"]) == (f"v{i}-br", None)
    ab = next(link for link in facts["netns"]["n0"]["links"] if link["name"] == "ab")
    assert (ab["peer"], ab["peer_netns"]) == ("ba", "n1")
    # 8 veth pairs across namespaces: at most one request per end (it was one per pair of
    # namespaces: 7 x 6 = 42 here, a million at 1,000 namespaces)
    assert report["requests"] <= 2 * 7


# Runs inside the sandbox: netns_topology's run (argv: topology as JSON) with every
# namespace-id request counted, and netns_info's diagram afterwards.
COUNT_TOPOLOGY_NSID_REQUESTS = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.netfabric.netns.plugins.module_utils import engine, rtnl

calls = []
plain = rtnl.Rtnl.netnsid
def counted(self, fd):
    calls.append(fd)
    return plain(self, fd)
rtnl.Rtnl.netnsid = counted
result = engine.converge_topology(json.loads(sys.argv[2]), name="lab")
print(json.dumps({"requests": len(calls), "changed": result["changed"], "diagram": result["diagram"],
                  "info": engine.describe()["diagram"]}))
"""


def test_a_rerun_draws_its_declared_veth_pairs_without_asking_namespace_ids(host):
    # the diagram of netns_topology pairs the veths it declares as the planner found them: a
    # re-run of 2 cross-namespace pairs asked 2 namespace-id requests, one per pair
    topology = json.dumps(TEARDOWN)
    first = json.loads(run_script(host, "count.py", COUNT_TOPOLOGY_NSID_REQUESTS, topology).stdout)
    again = json.loads(run_script(host, "count.py", COUNT_TOPOLOGY_NSID_REQUESTS, topology).stdout)
    assert first["changed"] is True and again["changed"] is False
    assert again["requests"] == 0
    drawn = parse_mermaid(again["diagram"])
    assert drawn.same_as(parse_mermaid(again["info"])), drawn.differences(parse_mermaid(again["info"]))
    assert drawn.same_as(parse_mermaid(first["diagram"]))


TEARDOWN = {
    "namespaces": [{"name": "red"}, {"name": "blue"}],
    "bridges": [{"name": "v-net-0", "addresses": ["192.168.15.5/24"]}],
    "veths": [{"name": "veth-red", "netns": "red", "addresses": ["192.168.15.1/24"], "peer": "veth-red-br",
               "peer_bridge": "v-net-0"},
              {"name": "veth-blue", "netns": "blue", "addresses": ["192.168.15.2/24"], "peer": "veth-blue-br",
               "peer_bridge": "v-net-0"},
              {"name": "side-a", "peer": "side-b"}, {"name": "side-c", "peer": "side-d"}],
    "routes": [{"netns": "blue", "dst": "default", "gateway": "192.168.15.5"}],
}


def test_a_teardown_deletes_what_leaves_the_namespaces_and_the_same_names_apply_right_after(host):
    args = {"name": "lab", "topology": TEARDOWN}
    play = host.play([task("netns_topology", args, "apply"),
                      task("netns_topology", dict(args, state="absent"), "teardown"),
                      task("netns_topology", args, "apply again")])
    assert play.rc == 0, play.output
    apply, teardown, again = play.results
    # blue's route and addresses go with blue, unread; the veths with an end in red or blue are
    # deleted from the host's end, with the host's own pair and the bridge (one kernel batch)
    assert teardown["actions"] == ["veth 'veth-red-br' (host): delete", "veth 'veth-blue-br' (host): delete",
                                   "veth 'side-a' (host): delete", "veth 'side-c' (host): delete",
                                   "bridge 'v-net-0' (host): delete", "namespace 'red': delete",
                                   "namespace 'blue': delete"]
    assert again["changed"] is True and again["actions"] == apply["actions"]
    assert host.tcp_ok("blue", "192.168.15.2", 8080, client_ns="red")
    gone = host.play([task("netns_topology", dict(args, state="absent"), "teardown"),
                      task("netns_topology", dict(args, state="absent"), "teardown again")])
    assert gone.results[1]["changed"] is False
    assert host.netns_names() == []
    assert host.ip("link show type veth") == []


# Runs inside the sandbox: holds namespace red through a socket opened there, from a process
# that lives in the host's namespace (no process scan finds it), until killed.
HOLD = r"""
import ctypes, os, socket, time
setns = ctypes.CDLL(None, use_errno=True).setns
home = os.open("/proc/self/ns/net", os.O_RDONLY)
assert setns(os.open("/run/netns/red", os.O_RDONLY), 0x40000000) == 0
held = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
assert setns(home, 0x40000000) == 0
print("holding", flush=True)
time.sleep(300)
"""


def test_a_namespace_kept_alive_by_a_socket_does_not_keep_its_cable(host):
    args = {"name": "lab", "topology": {k: v for k, v in TEARDOWN.items() if k != "routes"}}
    assert host.play([task("netns_topology", args)]).rc == 0
    path = os.path.join(host.dir, "hold.py")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(HOLD)
    host.run(f"{VENV_PYTHON} {path} >{host.dir}/hold.out 2>&1 &")
    assert eventually(lambda: os.path.exists(f"{host.dir}/hold.out") and "holding" in open(f"{host.dir}/hold.out").read())
    play = host.play([task("netns_topology", dict(args, state="absent"))])
    assert play.rc == 0, play.output
    assert host.netns_names() == []
    assert [link["ifname"] for link in host.ip("link show type veth")] == []  # red lives on, unnamed, cable-less
