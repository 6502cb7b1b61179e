"""Diagrams: netns_info's and netns_topology's ``diagram``, the filters to_mermaid and to_dot.

Every picture is read back (Mermaid by diagrams.parse_mermaid, DOT by Graphviz's own reader,
``dot -Tjson``) and compared with the facts, never as a string.
"""

from __future__ import annotations

import copy
import ipaddress
import os
from xml.etree import ElementTree

import test_topology
from conftest import REPO
from diagrams import parse_dot, parse_mermaid, render_dot
from helpers import task

HOSTNS = "host namespace"
PLAYBOOKS = os.path.join(REPO, "playbooks")
# The sandbox host's uplink: eth0 (10.0.0.1) cabled to the namespace "outside" (10.0.0.100), its default route.
UPLINK = ("ip netns add outside && ip link add name eth0 type veth peer name lan0 netns outside"
          " && ip addr add 10.0.0.1/24 dev eth0 && ip link set eth0 up"
          " && ip -n outside addr add 10.0.0.100/24 dev lan0 && ip -n outside link set lan0 up"
          " && ip route add default via 10.0.0.100")

# The walkthrough of test_topology, with an IPv6 address on blue too.
WALKTHROUGH = copy.deepcopy(test_topology.WALKTHROUGH)
WALKTHROUGH["veths"][1]["addresses"].append("fd15::2/64")

# The walkthrough changed: blue goes (its namespace with it), red moves to a new bridge with
# a new namespace green, a cable joins red and green directly, the old bridge goes, a vxlan
# stretches the new bridge to two remotes, and the forward points at green.
CHANGED = {
    "namespaces": [{"name": "red"}, {"name": "green"}],
    "bridges": [{"name": "br-new", "addresses": ["10.7.0.1/24"]}],
    "vxlans": [{"name": "vx-new", "vni": 70, "remotes": ["192.0.2.12", "192.0.2.13"], "bridge": "br-new"}],
    "veths": [
        {"name": "veth-red", "netns": "red", "addresses": ["10.7.0.2/24"], "peer": "veth-red-br",
         "peer_bridge": "br-new"},
        {"name": "veth-green", "netns": "green", "addresses": ["10.7.0.3/24"], "peer": "veth-green-br",
         "peer_bridge": "br-new", "up": False},
        {"name": "rg", "netns": "red", "addresses": ["10.8.0.1/30"], "peer": "gr", "peer_netns": "green",
         "peer_addresses": ["10.8.0.2/30"]},
    ],
    "masquerade": [{"source": "10.7.0.0/24", "out_interface": "eth0"}],
    "port_forwards": [{"port": 8080, "destination": "10.7.0.3", "destination_port": 80}],
}


def topology_task(topo, name, check=False, prune=False, state="present"):
    args = {"name": "pictures", "topology": topo, "prune": prune, "state": state}
    return task("netns_topology", args, name, **({"check_mode": True} if check else {}))


def filters(source):
    """Tasks that pass a registered netns_info result through both filters (results in 'msg')."""
    return [{"name": f"{source} {name}",
             "ansible.builtin.debug": {"msg": f"{{{{ {source} | netfabric.netns.{name} }}}}"}}
            for name in ("to_mermaid", "to_dot")]


def assert_shows_the_facts(picture, info):
    """Every namespace, interface (but lo), address, bridge port and veth cable of the facts
    (the recorded task result; its 'host' is the inventory host's name, the facts are in 'result')."""
    info = info["result"]
    spaces = [(None, info["host"])] + sorted(info["netns"].items())
    for netns, facts in spaces:
        group = (HOSTNS if netns is None else netns,)
        assert group in picture.groups, (group, sorted(picture.groups))
        for link in facts["links"]:
            if link["name"] == "lo":
                continue
            node = picture.node(*group, link["name"])
            assert node is not None, (group, link["name"], picture.names_in(group))
            drawn = [line for line in node["lines"][1:] if _is_address(line)]
            assert drawn == [a for a in link["addresses"] if not a.lower().startswith("fe80:")], (link, node)
            assert node["down"] == (link["state"] == "down")
            if link["master"]:
                assert picture.has(group + (link["name"],), group + (link["master"],), "==="), link
            if link["kind"] == "veth":
                assert link["peer"], link
                peer = (HOSTNS if link["peer_netns"] is None else link["peer_netns"], link["peer"])
                assert picture.has(group + (link["name"],), peer, "---"), link


def _is_address(text):
    try:
        ipaddress.ip_interface(text)
    except ValueError:
        return False
    return "/" in text


def test_walkthrough_diagram_shows_everything_netns_info_reports(host):
    host.run(UPLINK)
    play = host.play([topology_task(WALKTHROUGH, "build"),
                      task("netns_info", {}, "info", register="info")] + filters("info"))
    assert play.rc == 0, play.output
    info = play.task("info")
    from_mermaid = parse_mermaid(info["diagram"])
    assert_shows_the_facts(from_mermaid, info)
    for text in (play.task("info to_mermaid")["msg"], info["diagram"]):
        assert parse_mermaid(text).same_as(from_mermaid)
    dot_text = play.task("info to_dot")["msg"]
    assert parse_dot(dot_text).same_as(from_mermaid), parse_dot(dot_text).differences(from_mermaid)
    assert "<svg" in render_dot(dot_text, "svg")
    # the walkthrough's NAT: from the bridge to the uplink of the default route, the forward back in to blue
    assert from_mermaid.has((HOSTNS, "v-net-0"), (HOSTNS, "eth0"), "-->", "masquerade 192.168.15.0/24")
    assert from_mermaid.has((HOSTNS, "eth0"), ("blue", "veth-blue"), "-->", "tcp 8080 \u2192 192.168.15.2:80")
    assert sorted(from_mermaid.groups) == sorted([(HOSTNS,), ("blue",), ("outside",), ("red",)])


def test_check_mode_diagram_is_the_diagram_after_the_real_run(host):
    """Build, change (with prune: namespaces, bridges and cables go, others come) and tear
    down: at each step the check-mode diagram, the real run's and netns_info's afterwards
    have the same nodes and edges."""
    host.run(UPLINK + " && ip link add name keep0 type bridge && ip addr add 10.9.9.9/24 dev keep0")
    steps = [("build", WALKTHROUGH, {}), ("change", CHANGED, {"prune": True}),
             ("teardown", CHANGED, {"state": "absent"})]
    tasks = []
    for step, topo, extra in steps:
        tasks += [topology_task(topo, f"{step} check", check=True, **extra),
                  topology_task(topo, f"{step} real", **extra),
                  task("netns_info", {}, f"{step} info", register=f"{step.replace(' ', '_')}_info")]
        tasks += filters(f"{step}_info")
    play = host.play(tasks)
    assert play.rc == 0, play.output
    for step, unused, unused_extra in steps:
        check, real, info = (play.task(f"{step} {what}") for what in ("check", "real", "info"))
        assert check["changed"] and real["changed"]
        after = parse_mermaid(info["diagram"])
        for name, result in (("check", check), ("real", real)):
            planned = parse_mermaid(result["diagram"])
            assert planned.same_as(after), (step, name, planned.differences(after))
        assert_shows_the_facts(after, info)
        assert parse_dot(play.task(f"{step}_info to_dot")["msg"]).same_as(after)
    vxlan = next(lk for lk in play.task("change info")["result"]["host"]["links"] if lk["name"] == "vx-new")
    assert (vxlan["vni"], vxlan["dstport"], vxlan["remotes"]) == (70, 4789, ["192.0.2.12", "192.0.2.13"])
    change = parse_mermaid(play.task("change info")["diagram"])
    assert ("blue",) not in change.groups and ("green",) in change.groups
    assert change.has(("red", "rg"), ("green", "gr"), "---")
    assert change.node("green", "veth-green")["down"]
    assert change.node(HOSTNS, "vx-new")["lines"][:2] == ["vx-new", "vxlan 70"]
    assert change.has((HOSTNS, "vx-new"), ("192.0.2.12",), "-.-", "vxlan 70")
    assert change.has((HOSTNS, "vx-new"), (HOSTNS, "br-new"), "===")
    assert change.has((HOSTNS, "br-new"), (HOSTNS, "eth0"), "-->", "masquerade 10.7.0.0/24")
    assert change.has((HOSTNS, "eth0"), ("green", "veth-green"), "-->", "tcp 8080 \u2192 10.7.0.3:80")
    teardown = parse_mermaid(play.task("teardown info")["diagram"])
    assert sorted(teardown.groups) == [(HOSTNS,), ("outside",)]
    assert teardown.names_in([HOSTNS]) == ["eth0", "keep0"]


def test_diagram_playbook_writes_mermaid_dot_and_svg_per_host_and_group(host):
    host.run(UPLINK)
    built = host.play([topology_task(WALKTHROUGH, "build")])
    assert built.rc == 0, built.output
    out = os.path.join(host.dir, "pictures")
    play = host.playbook(os.path.join(PLAYBOOKS, "diagram.yml"), extra_vars={"netns_diagram_dir": out})
    assert play.rc == 0, play.output
    assert sorted(os.listdir(out)) == ["all.dot", "all.mmd", "all.svg", "localhost.dot", "localhost.mmd",
                                       "localhost.svg"]
    info = host.play([task("netns_info", {}, "info")]).task("info")
    with open(os.path.join(out, "localhost.mmd"), encoding="utf-8") as handle:
        mine = parse_mermaid(handle.read())
    assert mine.same_as(parse_mermaid(info["diagram"]))
    with open(os.path.join(out, "localhost.dot"), encoding="utf-8") as handle:
        assert parse_dot(handle.read()).same_as(mine)
    with open(os.path.join(out, "all.mmd"), encoding="utf-8") as handle:
        group = parse_mermaid(handle.read())
    assert ("localhost", HOSTNS) in group.groups and group.node("localhost", "red", "veth-red") is not None
    for name in ("localhost.svg", "all.svg"):
        root = ElementTree.parse(os.path.join(out, name)).getroot()
        assert root.tag.endswith("svg") and "veth-red" in "".join(root.itertext())


def test_macvlan_is_drawn_on_its_parent(host):
    """A macvlan (made by hand: the collection has no module for it yet) in red and one in the
    host namespace, both on eth0: netns_info names the parent, the diagram joins them."""
    host.run(UPLINK + " && ip netns add red && ip link add m1 link eth0 type macvlan mode bridge"
             " && ip link set m1 netns red && ip -n red addr add 10.0.0.50/24 dev m1"
             " && ip link add m2 link eth0 type macvlan mode private")
    play = host.play([task("netns_info", {}, "info")])
    assert play.rc == 0, play.output
    info = play.task("info")
    links = {(netns, lk["name"]): lk for netns, facts in [(None, info["result"]["host"])]
             + list(info["result"]["netns"].items()) for lk in facts["links"]}
    assert (links[("red", "m1")]["parent"], links[("red", "m1")]["parent_netns"]) == ("eth0", None)
    assert (links[(None, "m2")]["parent"], links[(None, "m2")]["parent_netns"]) == ("eth0", None)
    picture = parse_mermaid(info["diagram"])
    assert picture.node("red", "m1") == {"kind": "macvlan", "lines": ["m1", "macvlan", "10.0.0.50/24"], "down": True}
    assert picture.has(("red", "m1"), (HOSTNS, "eth0"), "-.-", "macvlan")
    assert picture.has((HOSTNS, "m2"), (HOSTNS, "eth0"), "-.-", "macvlan")
