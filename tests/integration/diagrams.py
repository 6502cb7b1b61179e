"""Reading the collection's diagrams back, for the tests: Mermaid text by a parser of the
flowchart syntax the collection writes, DOT text by Graphviz itself (``dot -Tjson``).

Both give a Picture: groups (path of labels -> kind of group), nodes keyed by the path of
their groups plus their first line (the interface name), and edges between node keys.
"""

from __future__ import annotations

import json
import re
import subprocess

_ENTITY = re.compile(r"#(\d+);")
_SUBGRAPH = re.compile(r'^subgraph (\w+)\["(.*)"\]$')
_SHAPES = [('{{"', '"}}'), ('[/"', '"/]'), ('(("', '"))'), ('(["', '"])'), ('["', '"]')]
_NODE = re.compile(r"^(\w+)(\{\{\"|\[/\"|\(\(\"|\(\[\"|\[\")(.*)(\"\}\}|\"/\]|\"\)\)|\"\]\)|\"\]):::(\w+)$")
_EDGE = re.compile(r'^(\w+) (---|===|-\.-|-->|==>)(?:\|"(.*)"\|)? (\w+)$')
DIRECTED = {"-->", "==>"}
DOT_DIRECTED = {"forward"}


class Picture:
    def __init__(self):
        self.groups = {}  # path (tuple of labels) -> None
        self.nodes = {}  # key (path + (first line,)) -> {"kind", "lines", "down"}
        self.edges = set()  # (key a, key b, kind of link, label); a <= b unless directed

    def add_edge(self, a, b, link, label, directed):
        if not directed and b < a:
            a, b = b, a
        self.edges.add((a, b, link, label))

    def has(self, a, b, link, label=None):
        """Whether the edge is there (either way round for a link without arrow)."""
        a, b = tuple(a), tuple(b)
        if link not in DIRECTED and b < a:
            a, b = b, a
        return (a, b, link, label) in self.edges

    def same_as(self, other):
        return self.groups == other.groups and self.nodes == other.nodes and self.edges == other.edges

    def differences(self, other):
        """What differs, for assertion messages."""
        out = []
        for what in ("groups", "nodes"):
            mine, theirs = getattr(self, what), getattr(other, what)
            for key in sorted(set(mine) | set(theirs), key=str):
                if mine.get(key, "missing") != theirs.get(key, "missing"):
                    out.append(f"{what} {key}: {mine.get(key, 'missing')} != {theirs.get(key, 'missing')}")
        out += [f"edge only in first: {e}" for e in sorted(self.edges - other.edges, key=str)]
        out += [f"edge only in second: {e}" for e in sorted(other.edges - self.edges, key=str)]
        return out

    def node(self, *key):
        return self.nodes.get(tuple(key))

    def names_in(self, path):
        return sorted(key[-1] for key in self.nodes if key[:-1] == tuple(path))


def _text(label):
    return [_ENTITY.sub(lambda m: chr(int(m.group(1))), part) for part in label.split("<br>")]


def parse_mermaid(text):
    """A Picture of Mermaid flowchart text as the collection writes it; raises ValueError on any
    line it does not understand."""
    lines = text.strip().splitlines()
    if not lines or lines[0].strip() != "flowchart LR":
        raise ValueError(f"not a flowchart: {lines[:1]}")
    picture = Picture()
    stack = []  # (group id, label)
    ids = {}  # node id -> key
    down = set()
    edges = []
    for number, raw in enumerate(lines[1:], 2):
        line = raw.strip()
        match = _SUBGRAPH.match(line)
        if match:
            stack.append(_text(match.group(2))[0])
            picture.groups[tuple(stack)] = None
            continue
        if line == "end":
            stack.pop()
            continue
        match = _NODE.match(line)
        if match:
            node_id, opening, label, closing, kind = match.groups()
            if (opening, closing) not in _SHAPES:
                raise ValueError(f"line {number}: shape {opening}...{closing}")
            node_lines = _text(label)
            key = tuple(stack) + (node_lines[0],)
            if key in picture.nodes:
                raise ValueError(f"line {number}: node {key} twice")
            ids[node_id] = key
            picture.nodes[key] = {"kind": kind, "lines": node_lines, "down": False, "shape": opening}
            continue
        match = _EDGE.match(line)
        if match:
            edges.append((number,) + match.groups())
            continue
        if line.startswith("classDef "):
            continue
        if line.startswith("class "):
            name_list, unused, cls = line[len("class "):].rpartition(" ")
            if cls == "down":
                down.update(name_list.split(","))
            continue
        raise ValueError(f"line {number}: cannot read {line!r}")
    if stack:
        raise ValueError(f"subgraph {stack} not closed")
    for node_id in down:
        picture.nodes[ids[node_id]]["down"] = True
    for number, a, link, label, b in edges:
        if a not in ids or b not in ids:
            raise ValueError(f"line {number}: edge between unknown nodes {a}, {b}")
        picture.add_edge(ids[a], ids[b], link, _text(label)[0] if label else None, link in DIRECTED)
    for value in picture.nodes.values():
        value.pop("shape")
    return picture


def render_dot(text, fmt="json"):
    """Graphviz's output for DOT text (raises CalledProcessError with dot's message)."""
    return subprocess.run(["dot", "-T" + fmt], input=text, capture_output=True, text=True, check=True).stdout


def _dot_lines(label):
    """The lines of a DOT escString as dot -Tjson gives it: \\n breaks a line, \\x is x."""
    lines, current, chars = [], "", iter(label)
    for char in chars:
        if char == "\\":
            char = next(chars, "")
            if char == "n":
                lines.append(current)
                current = ""
                continue
        current += char
    return lines + [current]


def parse_dot(text):
    """A Picture of DOT text, as Graphviz reads it (``dot -Tjson``)."""
    data = json.loads(render_dot(text, "json"))
    objects = data.get("objects", [])
    clusters = {o["_gvid"]: o for o in objects if o.get("name", "").startswith("cluster")}
    parent = {}
    for gvid, cluster in clusters.items():
        for child in cluster.get("subgraphs", []):
            parent[child] = gvid

    def path(gvid):
        out = []
        while gvid is not None:
            out.insert(0, _dot_lines(clusters[gvid]["label"])[0])
            gvid = parent.get(gvid)
        return tuple(out)

    innermost = {}
    for gvid in sorted(clusters, key=lambda g: len(path(g))):
        for node in clusters[gvid].get("nodes", []):
            innermost[node] = gvid  # deeper clusters come later and win
    picture = Picture()
    for gvid in clusters:
        picture.groups[path(gvid)] = None
    keys = {}
    for obj in objects:
        if "nodes" in obj or obj.get("name", "").startswith("cluster"):
            continue
        node_lines = _dot_lines(obj.get("label", ""))
        where = path(innermost[obj["_gvid"]]) if obj["_gvid"] in innermost else ()
        key = where + (node_lines[0],)
        keys[obj["_gvid"]] = key
        picture.nodes[key] = {"kind": obj.get("class"), "lines": node_lines, "down": "dashed" in obj.get("style", "")}
    links = {"veth": "---", "port": "===", "vxlan": "-.-", "macvlan": "-.-", "ipvlan": "-.-",
             "masquerade": "-->", "port_forward": "-->", "route": "==>"}
    for edge in data.get("edges", []):
        kind = edge.get("class")
        label = _dot_lines(edge["label"])[0] if edge.get("label") else None
        picture.add_edge(keys[edge["tail"]], keys[edge["head"]], links.get(kind, kind), label,
                         edge.get("dir") in DOT_DIRECTED)
    return picture
