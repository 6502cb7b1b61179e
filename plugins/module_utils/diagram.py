# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pictures of the network (private to the collection): netns_info facts -> a graph of
groups, nodes and edges -> Mermaid or Graphviz DOT text.

One source for netns_info's and netns_topology's ``diagram`` and for the filters
``to_mermaid`` and ``to_dot``. Namespaces are groups (inside a group per host when
several hosts are drawn), interfaces are nodes labelled with their name and addresses
(bridges as switches, the loopback left out), and edges are veth cables, bridge ports,
vxlan tunnels to their remotes, macvlan/ipvlan parents, masquerades (from the subnet to
the uplink) and port forwards (from the uplink to the destination). Across hosts, a
vxlan tunnel joins the vxlans of both ends and a route via another host's address (the
fabric role's routed mode) joins the two hosts' interfaces.
"""

from __future__ import annotations

import ipaddress
import re

MERMAID_SHAPES = {  # node kind -> (opening, closing) of its Mermaid shape
    "interface": ('["', '"]'), "bridge": ('{{"', '"}}'), "vxlan": ('[/"', '"/]'), "macvlan": ('[/"', '"/]'),
    "ipvlan": ('[/"', '"/]'), "remote": ('(("', '"))'), "outside": ('(("', '"))'), "network": ('(["', '"])'),
    "empty": ('["', '"]'),
}
MERMAID_EDGES = {  # edge kind -> Mermaid link (label, if any, goes between the bars)
    "veth": "---", "port": "===", "vxlan": "-.-", "macvlan": "-.-", "ipvlan": "-.-",
    "masquerade": "-->", "port_forward": "-->", "route": "==>",
}
MERMAID_CLASSES = {
    "bridge": "fill:#dbeafe,stroke:#1e40af", "vxlan": "fill:#fef3c7,stroke:#92400e",
    "macvlan": "fill:#fef3c7,stroke:#92400e", "ipvlan": "fill:#fef3c7,stroke:#92400e",
    "remote": "fill:#f3f4f6,stroke:#6b7280", "outside": "fill:#f3f4f6,stroke:#6b7280",
    "network": "fill:#ecfdf5,stroke:#047857", "empty": "fill:none,stroke:none", "down": "stroke-dasharray:4 3",
}
DOT_SHAPES = {
    "interface": 'shape=box, style="rounded"', "bridge": 'shape=hexagon, style="filled", fillcolor="#dbeafe"',
    "vxlan": 'shape=parallelogram, style="filled", fillcolor="#fef3c7"',
    "macvlan": 'shape=parallelogram, style="filled", fillcolor="#fef3c7"',
    "ipvlan": 'shape=parallelogram, style="filled", fillcolor="#fef3c7"',
    "remote": 'shape=ellipse, style="filled", fillcolor="#f3f4f6"',
    "outside": 'shape=ellipse, style="filled", fillcolor="#f3f4f6"',
    "network": 'shape=note, style="filled", fillcolor="#ecfdf5"', "empty": 'shape=plaintext',
}
DOT_EDGES = {
    "veth": "", "port": "penwidth=2", "vxlan": "style=dashed", "macvlan": "style=dashed", "ipvlan": "style=dashed",
    "masquerade": 'dir=forward, color="#047857"', "port_forward": 'dir=forward, color="#b91c1c"',
    "route": 'dir=forward, penwidth=2, color="#1d4ed8"',
}
LINK_KINDS = ("bridge", "vxlan", "macvlan", "ipvlan")  # drawn with a shape of their own
ARROW = "\u2192"

_MASQUERADE = re.compile(r"^masquerade (\S+) out (\S+)$")
_PORT_FORWARD = re.compile(r"^port_forward (\S+) (\S+) (\S+)$")
_DNAT = re.compile(r"\bdnat (?:ip6? )?to (\S+)")
_IIF = re.compile(r"\bmeta iifname (\S+)")


class DiagramError(ValueError):
    """The input is not a netns_info result (or a dict of them)."""


class Node:
    __slots__ = ("id", "kind", "lines", "group", "down")

    def __init__(self, node_id, kind, lines, group, down=False):
        self.id, self.kind, self.lines, self.group, self.down = node_id, kind, lines, group, down


class Edge:
    __slots__ = ("a", "b", "kind", "label")

    def __init__(self, a, b, kind, label=None):
        self.a, self.b, self.kind, self.label = a, b, kind, label


class Graph:
    """Groups (id -> (label, parent id)), nodes and edges, in the order they were added."""

    def __init__(self):
        self.groups = {}
        self.nodes = {}
        self.edges = {}

    def group(self, group_id, label, parent=None):
        self.groups.setdefault(group_id, (label, parent))
        return group_id

    def node(self, node_id, kind, lines, group=None, down=False):
        if node_id not in self.nodes:
            self.nodes[node_id] = Node(node_id, kind, lines, group, down)
        return node_id

    def edge(self, a, b, kind, label=None, directed=False):
        ends = (a, b) if directed or a <= b else (b, a)
        self.edges.setdefault((kind, ends, label), Edge(ends[0], ends[1], kind, label))


def _id(*parts):
    """A node or group id of letters, digits and underscores, one to one with ``parts``."""
    return "__".join("".join(c if c.isascii() and c.isalnum() else f"_{ord(c):02x}" for c in str(p)) for p in parts)


def is_result(value):
    return isinstance(value, dict) and isinstance(value.get("netns"), dict) and "host" in value


def draw(data):
    """The graph of one netns_info result, or of a dict of inventory hostname -> result."""
    if is_result(data):
        return host_graph(data)
    if not isinstance(data, dict) or not data:
        raise DiagramError("expects a netns_info result, or a dict of inventory hostname to netns_info result; "
                           f"got {type(data).__name__}" + (" (empty)" if data == {} else ""))
    for host, result in data.items():
        if not is_result(result):
            keys = f" with keys {sorted(result)}" if isinstance(result, dict) else ""
            raise DiagramError(f"'{host}': not a netns_info result (it has no 'host' and 'netns'): "
                               f"{type(result).__name__}{keys}")
    return fleet_graph(data)


def host_graph(result):
    graph = Graph()
    host = _Host(graph, result)
    host.draw()
    host.draw_vxlans(lambda ip: None)
    return graph


def fleet_graph(results):
    graph = Graph()
    hosts = [_Host(graph, results[name], str(name)) for name in sorted(results, key=str)]
    owners = {}  # address -> host that holds it (the first one drawn)
    for host in hosts:
        host.draw()
        for ip in host.addresses:
            owners.setdefault(ip, host)

    def elsewhere(ip, me):
        owner = owners.get(ip)
        return owner if owner is not None and owner is not me else None

    for host in hosts:
        host.draw_vxlans(lambda ip, me=host: elsewhere(ip, me))
        host.draw_routes(lambda ip, me=host: elsewhere(ip, me))
    return graph


class _Host:
    """Draws one host's namespaces into a graph (inside a group of its own when ``name``)."""

    def __init__(self, graph, result, name=None):
        self.g = graph
        self.name = name
        self.host = () if name is None else ("h" + name,)  # id parts
        self.top = None if name is None else graph.group(_id("g", *self.host), name)
        self.spaces = ([(None, result["host"])] if result.get("host") else []) + sorted(
            (result.get("netns") or {}).items())
        self.addresses = {}  # ip -> node of this host that holds it
        self.vxlans = []  # (node, vni, remotes)

    def _part(self, netns):
        return "r" if netns is None else "n" + netns

    def node_id(self, netns, ifname):
        return _id("i", *self.host, self._part(netns), ifname)

    def draw(self):
        for netns, facts in self.spaces:
            group = self.g.group(_id("g", *self.host, self._part(netns)),
                                 "host namespace" if netns is None else netns, self.top)
            drawn = 0
            for link in facts.get("links") or ():
                if link["name"] == "lo":
                    continue
                drawn += 1
                kind = link.get("kind") if link.get("kind") in LINK_KINDS else "interface"
                lines = [link["name"]]
                if kind == "vxlan":
                    lines.append(f"vxlan {link.get('vni')}")
                elif link.get("kind") not in (None, "veth", "bridge"):
                    lines.append(link["kind"])
                addresses = _drawn(link)
                lines += addresses
                node = self.g.node(self.node_id(netns, link["name"]), kind, lines, group, link.get("state") == "down")
                for cidr in addresses:
                    self.addresses.setdefault(_ip(cidr), node)
                if kind == "vxlan":
                    self.vxlans.append((node, link.get("vni"), link.get("remotes") or []))
            if not drawn:
                self.g.node(_id("e", *self.host, self._part(netns)), "empty", ["no links"], group)
        for netns, facts in self.spaces:
            for link in facts.get("links") or ():
                self._link_edges(netns, link)
            self._nat_edges(netns, facts)

    def _link_edges(self, netns, link):
        node = self.node_id(netns, link["name"])
        if node not in self.g.nodes:
            return
        if link.get("kind") == "veth" and link.get("peer"):
            peer = self.node_id(link.get("peer_netns"), link["peer"])
            if peer in self.g.nodes:
                self.g.edge(node, peer, "veth")
        if link.get("master"):
            bridge = self.node_id(netns, link["master"])
            if bridge in self.g.nodes:
                self.g.edge(node, bridge, "port", directed=True)
        if link.get("kind") in ("macvlan", "ipvlan") and link.get("parent"):
            parent = self.node_id(link.get("parent_netns"), link["parent"])
            if parent in self.g.nodes:
                self.g.edge(node, parent, link["kind"], link["kind"], directed=True)

    # ---------------------------------------------------------------- NAT

    def _nat_edges(self, netns, facts):
        rules = facts.get("rules") or ()
        owners = []
        for rule in rules:
            if rule["owner"] not in owners:
                owners.append(rule["owner"])
        for owner in owners:
            masquerade = _MASQUERADE.match(owner)
            forward = _PORT_FORWARD.match(owner)
            if masquerade:
                source, out = masquerade.groups()
                network = ipaddress.ip_network(source, strict=False)
                uplink = self._uplink(netns, facts, network.version, None if out == "*" else out)
                self.g.edge(self._subnet(netns, facts, network), uplink, "masquerade", f"masquerade {source}",
                            directed=True)
            elif forward:
                protocol, host_address, ports = forward.groups()
                texts = [r["rule"] for r in rules if r["owner"] == owner and r["chain"] == "prerouting"]
                dnat = next((m.group(1) for m in map(_DNAT.search, texts) if m), None)
                if dnat is None:
                    continue
                address, port = _split_address(dnat)
                iif = next((m.group(1) for m in map(_IIF.search, texts) if m), None)
                uplink = self._uplink(netns, facts, ipaddress.ip_address(address).version, iif)
                target = self.addresses.get(address) or self.g.node(
                    _id("a", *self.host, self._part(netns), address), "network", [address],
                    self._group(netns))
                where = "" if host_address == "*" else f"{host_address}:"
                to = address if port is None else (f"[{address}]:{port}" if ":" in address else f"{address}:{port}")
                label = f"{protocol} {where}{ports} {ARROW} {to}"
                self.g.edge(uplink, target, "port_forward", label, directed=True)

    def _group(self, netns):
        return _id("g", *self.host, self._part(netns))

    def _subnet(self, netns, facts, network):
        """The interface of the namespace on that subnet (exactly, else inside it), or a node for it."""
        inside = None
        for link in facts.get("links") or ():
            for cidr in link.get("addresses") or ():
                iface = ipaddress.ip_interface(cidr)
                node = self.node_id(netns, link["name"])
                if node not in self.g.nodes:
                    continue
                if iface.network == network:
                    return node
                if inside is None and iface.version == network.version and iface.ip in network:
                    inside = node
        if inside is not None:
            return inside
        return self.g.node(_id("s", *self.host, self._part(netns), str(network)), "network", [str(network)],
                           self._group(netns))

    def _uplink(self, netns, facts, family, interface=None):
        """The interface traffic leaves by: the given one, else that of the default route."""
        if interface is not None:
            node = self.node_id(netns, interface)
            if node in self.g.nodes:
                return node
        defaults = sorted((r for r in facts.get("routes") or () if r["dst"] == "default" and r.get("family") == family
                           and r.get("table") in (None, 254)), key=lambda r: r.get("metric") or 0)
        for route in defaults:
            if route.get("dev"):
                node = self.node_id(netns, route["dev"])
                if node in self.g.nodes:
                    return node
            if route.get("gateway"):
                node = self._connected(netns, facts, route["gateway"])
                if node is not None:
                    return node
        return self.g.node(_id("o", *self.host, self._part(netns)), "outside", ["outside"], self._group(netns))

    def _connected(self, netns, facts, address):
        """The interface of the namespace whose subnet holds ``address``."""
        ip = ipaddress.ip_address(address)
        for link in facts.get("links") or ():
            for cidr in link.get("addresses") or ():
                if ip in ipaddress.ip_interface(cidr).network and link["name"] != "lo":
                    return self.node_id(netns, link["name"])
        return None

    # ---------------------------------------------------------------- to the outside and other hosts

    def draw_vxlans(self, elsewhere):
        """Each vxlan to its remotes: the vxlan of the same VNI on the host that holds the
        remote address (``elsewhere(ip)``), else that host's interface, else a remote node."""
        for node, vni, remotes in self.vxlans:
            for remote in remotes:
                other = elsewhere(remote)
                if other is None:
                    target = self.g.node(_id("r", remote), "remote", [remote])
                else:
                    same = [n for n, v, r in other.vxlans if v == vni]
                    back = [n for n, v, r in other.vxlans if v == vni and set(r) & set(self.addresses)]
                    target = (back or same or [other.addresses[remote]])[0]
                self.g.edge(node, target, "vxlan", f"vxlan {vni}")

    def draw_routes(self, elsewhere):
        """Routes via an address of another host: one edge per pair of interfaces, with the
        destinations as its label."""
        found = {}
        for netns, facts in self.spaces:
            for route in facts.get("routes") or ():
                gateway = route.get("gateway")
                other = elsewhere(gateway) if gateway else None
                if other is None:
                    continue
                source = self.node_id(netns, route["dev"]) if route.get("dev") else None
                if source not in self.g.nodes:
                    source = self._connected(netns, facts, gateway)
                if source is not None:
                    found.setdefault((source, other.addresses[gateway]), []).append(route["dst"])
        for (source, target), destinations in found.items():
            self.g.edge(source, target, "route", "route " + ", ".join(sorted(set(destinations), key=_network_key)),
                        directed=True)


def _drawn(link):
    """The addresses drawn: IPv6 link-local ones (fe80::/10, every IPv6 link has its own) are not."""
    drawn = []
    for cidr in link.get("addresses") or ():
        iface = ipaddress.ip_interface(cidr)
        if not (iface.version == 6 and iface.is_link_local):
            drawn.append(cidr)
    return drawn


def _ip(cidr):
    return str(ipaddress.ip_interface(cidr).ip)


def _network_key(dst):
    if dst == "default":
        return (0, 0, 0)
    network = ipaddress.ip_network(dst, strict=False)
    return (network.version, int(network.network_address), network.prefixlen)


def _split_address(text):
    """'192.168.15.2:80' / '[fd00::2]:80' / 'fd00::2' -> (address, port or None)."""
    if text.startswith("["):
        address, unused, port = text[1:].partition("]")
        return address, port.lstrip(":") or None
    if text.count(":") == 1:
        address, port = text.split(":")
        return address, port
    return text, None


# ------------------------------------------------------------------ text


def _tree(graph):
    """(parent group -> its groups, group -> its nodes), None standing for the top."""
    children, members = {}, {}
    for group_id, (unused, parent) in graph.groups.items():
        children.setdefault(parent, []).append(group_id)
    for node in graph.nodes.values():
        members.setdefault(node.group, []).append(node)
    return children, members


def mermaid(graph):
    """Mermaid flowchart text of the graph."""
    lines = ["flowchart LR"]
    children, members = _tree(graph)

    def emit(group_id, depth):
        indent = "  " * depth
        if group_id is not None:
            lines.append(f'{indent}subgraph {group_id}["{_mermaid_text([graph.groups[group_id][0]])}"]')
        for child in children.get(group_id, ()):
            emit(child, depth + 1)
        for node in members.get(group_id, ()):
            opening, closing = MERMAID_SHAPES[node.kind]
            lines.append(f"{indent}  {node.id}{opening}{_mermaid_text(node.lines)}{closing}:::{node.kind}")
        if group_id is not None:
            lines.append(f"{indent}end")

    emit(None, 0)
    for edge in graph.edges.values():
        label = f'|"{_mermaid_text([edge.label])}"|' if edge.label else ""
        lines.append(f"  {edge.a} {MERMAID_EDGES[edge.kind]}{label} {edge.b}")
    used = sorted({node.kind for node in graph.nodes.values()} & set(MERMAID_CLASSES))
    down = [node.id for node in graph.nodes.values() if node.down]
    for kind in used + (["down"] if down else []):
        lines.append(f"  classDef {kind} {MERMAID_CLASSES[kind]}")
    if down:
        lines.append(f"  class {','.join(down)} down")
    return "\n".join(lines) + "\n"


def _mermaid_text(lines):
    """Label text: entity codes for the characters Mermaid would read as syntax, <br> between lines."""
    return "<br>".join("".join(f"#{ord(c)};" if c in '"#<>&|`' else c for c in line) for line in lines)


def dot(graph, name="netfabric"):
    """Graphviz DOT text of the graph (an undirected graph; NAT, forwards and routes have arrows)."""
    lines = [f"graph {_dot_quote(name)} {{",
             '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, newrank=true];',
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    children, members = _tree(graph)

    def emit(group_id, depth):
        indent = "  " * depth
        if group_id is not None:
            lines.append(f"{indent}subgraph {_dot_quote('cluster_' + group_id)} {{")
            lines.append(f'{indent}  graph [label={_dot_quote(graph.groups[group_id][0])}, style="rounded", '
                         'color="#9ca3af"];')
        for child in children.get(group_id, ()):
            emit(child, depth + 1)
        for node in members.get(group_id, ()):
            style = DOT_SHAPES[node.kind]
            if node.down:
                style = style.replace('style="', 'style="dashed,') if 'style="' in style else style + ', style="dashed"'
            label = _dot_quote("\n".join(node.lines))
            lines.append(f"{indent}  {_dot_quote(node.id)} [label={label}, class={_dot_quote(node.kind)}, {style}];")
        if group_id is not None:
            lines.append(f"{indent}}}")

    emit(None, 0)
    for edge in graph.edges.values():
        attributes = [f"class={_dot_quote(edge.kind)}"] + ([f"label={_dot_quote(edge.label)}"] if edge.label else [])
        if DOT_EDGES[edge.kind]:
            attributes.append(DOT_EDGES[edge.kind])
        lines.append(f"  {_dot_quote(edge.a)} -- {_dot_quote(edge.b)} [{', '.join(attributes)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_quote(text):
    """A DOT quoted string; newlines become DOT's centred line breaks."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
