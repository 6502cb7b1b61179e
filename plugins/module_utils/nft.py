# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's nftables table: rules as data, read and written as JSON (private).

All rules live in one table, ``inet netfabric``, per namespace. Each rule carries
the identity of the resource that owns it as its comment (``masquerade
192.168.15.0/24 out *``, ``port_forward tcp * 8080``); rules shared by several
resources are ``helper ...`` and exist while one of their users does. The
table's content is a function of the set of owners: rules are kept in a fixed
order (explicit accepts before drops) and every change is written as one
atomic transaction that replaces the table, so nothing outside it is touched.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess

from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError

FAMILY = "inet"
TABLE = "netfabric"
CHAINS = {  # name -> base chain; nat at the usual dstnat/srcnat priorities, as netavark does
    "input": {"type": "filter", "hook": "input", "prio": 0, "policy": "accept"},
    "prerouting": {"type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"},
    "output": {"type": "nat", "hook": "output", "prio": -100, "policy": "accept"},
    "forward": {"type": "filter", "hook": "forward", "prio": 0, "policy": "accept"},
    "postrouting": {"type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"},
}
# Other tools' chains the collection opens its interfaces in (docker.py).
FOREIGN_CHAINS = ("DOCKER-USER",)
# "cli" makes the engine use the nft command even where the binding is importable (tests, troubleshooting).
BACKEND_VARIABLE = "NETFABRIC_NFT_BACKEND"
HELPER_ESTABLISHED = "helper established"
HELPER_DNAT = "helper dnat"
# Order inside a chain: shared helpers (replies, forwarded connections), port forwards, policies
# (accepts before drops), the drops of isolated subnets, NAT exemptions before the masquerades,
# the masquerades, then the vxlans' port rules (input chain).
RANKS = ("helper", "port_forward", "policy", "isolate", "no_nat", "masquerade", "vxlan")


class NftError(NetfabricError):
    """nftables refused a command or cannot be used on this host."""


class NftUnavailable(NftError):
    """nftables is not installed on this host (so no rule of the collection can be there)."""


# ------------------------------------------------------------------ rules


class Rule:
    """One rule of the table: chain, owner comment and nftables JSON expressions."""

    __slots__ = ("chain", "comment", "expr", "key")

    def __init__(self, chain, comment, expr):
        self.chain = chain
        self.comment = comment
        self.expr = expr
        self.key = json.dumps([chain, comment, expr], sort_keys=True)  # computed once: rules are compared a lot

    @classmethod
    def from_json(cls, data):
        return cls(data["chain"], data.get("comment", ""), data.get("expr", []))

    def __eq__(self, other):
        return isinstance(other, Rule) and self.key == other.key

    def __hash__(self):
        return hash(self.key)

    def __repr__(self):
        return f"Rule({self.text!r})"

    @property
    def text(self):
        body = " ".join(_render(stmt) for stmt in self.expr)
        return f"{self.chain}: {body} comment \"{self.comment}\""

    def sort_key(self):
        rank = next((i for i, prefix in enumerate(RANKS) if self.comment.startswith(prefix)), len(RANKS))
        # the first DNAT that matches wins: a forward on one host address before one on any address;
        # explicit accepts before drops
        later = " * " in self.comment if self.comment.startswith("port_forward") else "drop" in self.expr[-1]
        return (list(CHAINS).index(self.chain), rank, later, self.comment)

    def json(self):
        return {"family": FAMILY, "table": TABLE, "chain": self.chain, "comment": self.comment, "expr": self.expr}


def match(left, right, op="=="):
    return {"match": {"op": op, "left": left, "right": right}}


def payload(protocol, field):
    return {"payload": {"protocol": protocol, "field": field}}


def meta(key):
    return {"meta": {"key": key}}


def address(value):
    """An address or a network as nftables JSON: a string, or a prefix object."""
    if "/" not in value:
        return value
    net = ipaddress.ip_network(value, strict=False)
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def ip_proto(family):
    return "ip" if family == 4 else "ip6"


def ports_value(ports):
    """A port, or an inclusive range, as the right side of a match."""
    first, last = ports
    return first if first == last else {"range": [first, last]}


# The VNI: bits 32-55 of the VXLAN header, which follows the 8 bytes of the UDP header.
VXLAN_VNI = {"payload": {"base": "th", "offset": 96, "len": 24}}
LOCAL = match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")
LOOPBACK = {4: "127.0.0.0/8", 6: "::1"}


def masquerade_rules(source, out_interface, identity):
    family = 6 if ":" in source else 4
    proto = ip_proto(family)
    out = [match(meta("oifname"), out_interface)] if out_interface else []
    nat = [match(payload(proto, "saddr"), address(source)),
           # never rewrite traffic that stays inside its subnet (bridged, with bridge netfilter on)
           match(payload(proto, "daddr"), address(source), "!=")] + out + [{"masquerade": None}]
    accept = [match(payload(proto, "saddr"), address(source))] + out + [{"accept": None}]
    return [Rule("postrouting", identity, nat), Rule("forward", identity, accept)]


def port_forward_rules(forward, identity, hairpin_subnet=None):
    """DNAT in prerouting (and in output for the host's own connections), and the
    masquerade that lets a namespace on the destination's own subnet use the forward."""
    family = forward.family
    proto = ip_proto(family)
    first, last = forward.ports
    port_match = ports_value(forward.ports)
    dnat = {"family": proto, "addr": forward.destination}
    if forward.destination_port is not None:
        dnat["port"] = forward.destination_port
    elif first == last:
        dnat["port"] = first
    target = [match(payload(proto, "daddr"), forward.host_address)] if forward.host_address else \
        [match(meta("nfproto"), "ipv4" if family == 4 else "ipv6")]
    dport = match(payload(forward.protocol, "dport"), port_match)
    rules = []
    iif = [match(meta("iifname"), forward.in_interface)] if forward.in_interface else []
    rules.append(Rule("prerouting", identity, [LOCAL] + target + iif + [dport, {"dnat": dnat}]))
    if not forward.in_interface:  # the host's own connections have no input interface
        not_loopback = match(payload(proto, "daddr"), address(LOOPBACK[family]), "!=")
        # an address match implies the family: nft drops a meta nfproto next to it, so leave it out
        by_address = target if forward.host_address else []
        rules.append(Rule("output", identity, [LOCAL] + by_address + [not_loopback, dport, {"dnat": dnat}]))
    if hairpin_subnet:
        to_port = dnat.get("port", port_match)
        rules.append(Rule("postrouting", identity, [
            match({"ct": {"key": "status"}}, "dnat", "in"),
            match(payload(proto, "saddr"), address(hairpin_subnet)),
            match(payload(proto, "daddr"), forward.destination),
            match(payload(forward.protocol, "dport"), to_port),
            {"masquerade": None}]))
    return rules


def isolation_rules(subnets, identity):
    """Forwarded traffic between an isolated subnet and any other network is dropped,
    after the policies' accepts and the helpers (replies, port forwards)."""
    rules = []
    for subnet in subnets:
        proto = ip_proto(6 if ":" in subnet else 4)
        rules.append(Rule("forward", identity, [match(payload(proto, "saddr"), address(subnet)),
                                                match(payload(proto, "daddr"), address(subnet), "!="), {"drop": None}]))
        rules.append(Rule("forward", identity, [match(payload(proto, "daddr"), address(subnet)),
                                                match(payload(proto, "saddr"), address(subnet), "!="), {"drop": None}]))
    return rules


def policy_rules(policy, identity):
    """One forward-chain rule: the policy's match fields and its verdict."""
    expr = []
    for field_name, value in (("saddr", policy.source), ("daddr", policy.destination)):
        if value:
            expr.append(match(payload(ip_proto(6 if ":" in value else 4), field_name), address(value)))
    if policy.protocol == "icmp":
        expr.append(match(meta("l4proto"), "ipv6-icmp" if policy.family == 6 else "icmp"))
    elif policy.protocol and policy.ports:
        expr.append(match(payload(policy.protocol, "dport"), ports_value(policy.ports)))
    elif policy.protocol:
        expr.append(match(meta("l4proto"), policy.protocol))
    expr.append({policy.action: None})
    return [Rule("forward", identity, expr)]


def vxlan_rules(vxlan, identity):
    """Only the peers reach this vxlan: an accept per remote, then a drop, both limited to the
    vxlan's own packets (its local address, its underlay device, its VNI), so that other VXLAN
    users of the same port (Docker Swarm overlays, Calico, other VNIs) are never cut. The sort
    order puts every accept of the chain before every drop, so vxlans sharing a port agree."""
    own = []
    if vxlan.dev:
        own.append(match(meta("iifname"), vxlan.dev))
    if vxlan.local:
        own.append(match(payload(ip_proto(6 if ":" in vxlan.local else 4), "daddr"), vxlan.local))
    own += [match(payload("udp", "dport"), vxlan.dstport), match(VXLAN_VNI, vxlan.vni)]
    rules = []
    for remote in vxlan.remotes or ():
        proto = ip_proto(6 if ":" in remote else 4)
        rules.append(Rule("input", identity, [match(payload(proto, "saddr"), remote)] + own + [{"accept": None}]))
    rules.append(Rule("input", identity, own + [{"drop": None}]))
    return rules


def nat_exemption_rules(exemption, identity):
    """An accept in postrouting ends the nat chain for that packet: no masquerade after it."""
    proto = ip_proto(6 if ":" in exemption.destination else 4)
    expr = [match(payload(proto, "saddr"), address(exemption.source))] if exemption.source else []
    expr += [match(payload(proto, "daddr"), address(exemption.destination)), {"accept": None}]
    return [Rule("postrouting", identity, expr)]


def helper_rules(rules):
    """The shared rules the owners in ``rules`` need."""
    owners = {rule.comment.split(" ", 1)[0] for rule in rules}
    helpers = []
    if owners & {"masquerade", "policy", "isolate"}:
        helpers.append(Rule("forward", HELPER_ESTABLISHED, [
            match({"ct": {"key": "state"}}, ["established", "related"], "in"), {"accept": None}]))
    if "port_forward" in owners:
        helpers.append(Rule("forward", HELPER_DNAT, [match({"ct": {"key": "status"}}, "dnat", "in"), {"accept": None}]))
    return helpers


class Table:
    """The table of one namespace: as read, and as this run will leave it."""

    def __init__(self, rules=(), foreign_drops=(), foreign_forwarders=(), foreign_chains=()):
        self.rules = list(rules)  # desired, kept in canonical order
        self.foreign_drops = list(foreign_drops)  # 'ip filter FORWARD': other tables' forward chains that drop
        self.foreign_forwarders = list(foreign_forwarders)  # 'ip nat': other tables hooked to forward or postrouting
        self.foreign_chains = list(foreign_chains)  # 'ip filter DOCKER-USER': chains of tools the collection opens
        self.committed = list(rules)  # what the actions planned so far leave

    def owned(self, identity):
        return [rule for rule in self.rules if rule.comment == identity]

    def set_owner(self, identity, rules):
        kept = [rule for rule in self.rules if rule.comment != identity and not rule.comment.startswith("helper")]
        kept += rules
        self.rules = sorted(helper_rules(kept) + kept, key=Rule.sort_key)

    def pending(self):
        """(removed, added) rules since the last call, and marks them planned."""
        before, after = set(self.committed), set(self.rules)
        removed = [rule for rule in self.committed if rule not in after]
        added = [rule for rule in self.rules if rule not in before]
        order_changed = not removed and not added and self.committed != self.rules
        self.committed = list(self.rules)
        return removed, added, order_changed


def transaction(rules):
    """Commands that replace the table with ``rules`` (or remove it when empty), atomically."""
    table = {"family": FAMILY, "name": TABLE}
    commands = [{"add": {"table": table}}, {"delete": {"table": table}}]
    if not rules:
        return commands
    commands.append({"add": {"table": table}})
    for name, spec in CHAINS.items():
        commands.append({"add": {"chain": dict({"family": FAMILY, "table": TABLE, "name": name}, **spec)}})
    commands += [{"add": {"rule": rule.json()}} for rule in rules]
    return commands


# ------------------------------------------------------------------ I/O


class Nft:
    """libnftables through its Python binding when importable, else the nft command.

    Make one after entering the namespace it is for: a binding context keeps
    talking to the namespace it was created in.
    """

    def __init__(self):
        self._lib = None
        try:
            if os.environ.get(BACKEND_VARIABLE) == "cli":
                raise ImportError("the nft command was asked for")
            import nftables  # Debian's python3-nftables or PyPI's pip-nftables
            self._lib = nftables.Nftables()
            self._lib.set_json_output(True)
        except (ImportError, OSError):
            self._lib = None
            if shutil.which("nft") is None:
                raise NftUnavailable("nftables is required on the target host: install the Debian package nftables "
                                     "(and python3-nftables or, in a virtual environment, pip-nftables)") from None

    def run(self, commands):
        document = {"nftables": commands}
        if self._lib is not None:
            rc, output, error = self._lib.json_cmd(document)
        else:
            proc = subprocess.run(["nft", "-j", "-f", "-"], input=json.dumps(document), capture_output=True,
                                  text=True, check=False)
            rc, error = proc.returncode, proc.stderr
            output = json.loads(proc.stdout) if proc.stdout.strip() else {}
        if rc != 0:
            raise NftError(_first_error(error))
        return (output or {}).get("nftables", []) if isinstance(output, dict) else []

    def read_table(self):
        """(rules, foreign forward chains that drop, foreign tables that route or NAT, the chains of
        Docker and firewalld) of this namespace. A failure to read is an error: taken for an empty
        table, the next write would replace the table and lose every other resource's rules."""
        chains = self.run([{"list": {"chains": {}}}])
        ours = False
        drops = []
        forwarders = []
        watched = []
        for item in chains:
            chain = item.get("chain")
            if not chain:
                continue
            if chain.get("family") == FAMILY and chain.get("table") == TABLE:
                ours = True
                continue
            label = f"{chain['family']} {chain['table']} {chain['name']}"
            # firewalld's forward chain has policy accept and ends with a reject of what no zone allows
            firewalld = (chain["family"], chain["table"]) == ("inet", "firewalld")
            if chain.get("hook") == "forward" and (chain.get("policy") == "drop" or firewalld):
                drops.append(label)
            if chain["name"] in FOREIGN_CHAINS or (firewalld and chain.get("hook") == "forward"):
                watched.append(label)
            if chain.get("hook") in ("forward", "postrouting"):
                table = f"{chain['family']} {chain['table']}"
                if table not in forwarders:
                    forwarders.append(table)
        if not ours:
            return [], drops, forwarders, watched
        try:
            listing = self.run([{"list": {"table": {"family": FAMILY, "name": TABLE}}}])
        except NftError as exc:
            if "No such file or directory" in str(exc):  # removed since the chains were listed
                return [], drops, forwarders, watched
            raise
        rules = [Rule.from_json(item["rule"]) for item in listing if "rule" in item]
        return rules, drops, forwarders, watched  # kernel order: a table out of order is rewritten


def _first_error(error):
    lines = [line for line in (error or "").splitlines() if line.startswith("Error")]
    return lines[0] if lines else (error or "nft failed").strip()


# ------------------------------------------------------------------ text


def _render(stmt):
    """nft syntax for the statements this module writes (for actions and diffs)."""
    if "match" in stmt:
        m = stmt["match"]
        op = "" if m["op"] in ("==", "in") else m["op"] + " "
        return f"{_render_value(m['left'])} {op}{_render_value(m['right'])}"
    if "dnat" in stmt:
        d = stmt["dnat"]
        addr = f"[{d['addr']}]" if ":" in d["addr"] and "port" in d else d["addr"]
        port = f":{d['port']}" if "port" in d else ""
        return f"dnat {d.get('family', '')} to {addr}{port}".replace("  ", " ")
    if len(stmt) == 1:
        return next(iter(stmt))
    return json.dumps(stmt)


def _render_value(value):
    if isinstance(value, dict):
        if "payload" in value and "base" in value["payload"]:
            raw = value["payload"]
            return f"@{raw['base']},{raw['offset']},{raw['len']}"
        if "payload" in value:
            return f"{value['payload']['protocol']} {value['payload']['field']}"
        if "meta" in value:
            return f"meta {value['meta']['key']}"
        if "ct" in value:
            return f"ct {value['ct']['key']}"
        if "fib" in value:
            return f"fib {' . '.join(value['fib']['flags'])} {value['fib']['result']}"
        if "prefix" in value:
            return f"{value['prefix']['addr']}/{value['prefix']['len']}"
        if "range" in value:
            return f"{value['range'][0]}-{value['range'][1]}"
        if "set" in value:
            return "{ " + ", ".join(str(v) for v in value["set"]) + " }"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
