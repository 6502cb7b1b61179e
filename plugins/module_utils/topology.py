# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole host topology: parsing, cross-checks and the record of what it made (private).

Each list item is validated against the argument spec of the matching module
(module_utils/specs.py), so it takes exactly that module's options, and built
into the same resource the module would build. The checks that span items
(duplicates, references, conflicting addresses, unreachable gateways,
overlapping forwards) run here, before anything is planned or changed; every
message starts with the item's path, e.g. ``veths[3].peer_netns``.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, replace
from typing import Optional

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError, where
from ansible_collections.netfabric.netns.plugins.module_utils.checks import join
from ansible_collections.netfabric.netns.plugins.module_utils.model import (
    AddressSet, Bridge, Namespace, Resource, Route, Veth, Vxlan)
from ansible_collections.netfabric.netns.plugins.module_utils.model_macvlan import Ipvlan, Macvlan
from ansible_collections.netfabric.netns.plugins.module_utils.model_rules import Masquerade, NatExemption, Policy, PortForward
from ansible_collections.netfabric.netns.plugins.module_utils.specs import COEXIST, REQUIRED_IF, SPECS

# In dependency order: a resource may refer only to resources of earlier lists.
LISTS = (
    ("namespaces", "netns", Namespace),
    ("bridges", "bridge", Bridge),
    ("vxlans", "vxlan", Vxlan),
    ("veths", "veth", Veth),
    ("macvlans", "macvlan", Macvlan),  # a shim (host namespace) before the macvlans that use it
    ("ipvlans", "ipvlan", Ipvlan),
    ("addresses", "netns_address", AddressSet),
    ("routes", "netns_route", Route),
    ("nat_exemptions", "nat_exemption", NatExemption),
    ("masquerade", "nat_masquerade", Masquerade),
    ("port_forwards", "port_forward", PortForward),
    ("policies", "netns_firewall", Policy),
)
LIST_NAMES = [name for name, unused, unused_cls in LISTS]
# Top-level keys that are the default of the items' option of the same name (where they take it).
DEFAULTS = dict(COEXIST)
KEYS = ["forwarding"] + list(DEFAULTS) + LIST_NAMES


@dataclass(frozen=True)
class Forwarding(Resource):
    """Routing in the host namespace (the topology's top-level ``forwarding``)."""

    enabled: Optional[bool]
    ipv6: bool = False
    owner: str = "topology"  # who needs it, in the record of what the collection turned on
    state: str = "present"

    kind = "forwarding"
    netns = None

    def describe(self):
        return "the host namespace"


def key_of(resource):
    """What identifies a resource across runs (the state file, prune, duplicates)."""
    netns = getattr(resource, "netns", None)
    if isinstance(resource, Namespace):
        return ("netns", resource.name)
    if isinstance(resource, (Bridge, Veth, Vxlan, Macvlan)):
        return (resource.kind, netns, resource.name)
    if isinstance(resource, AddressSet):
        return ("address", netns, resource.interface, tuple(sorted(resource.addresses)))
    if isinstance(resource, Route):
        return ("route", netns, resource.dst, resource.table or 254, resource.metric)
    return (resource.kind, netns, resource.identity)


def parse(topology, path="", force=False):
    """(items, forwarding): items is a list of (path, params, resource) in dependency order.
    ``force`` is the default of the items' own ``force`` option, where they have one."""
    if topology is None:
        topology = {}
    if not isinstance(topology, dict):
        raise ValidationError(path or "topology", f"must be a dictionary of lists, got {type(topology).__name__}")
    unknown = sorted(set(topology) - set(KEYS))
    if unknown:
        raise ValidationError(path or "topology", f"unknown key '{unknown[0]}' (expected one of {', '.join(KEYS)})")
    # checked like module options: YAML's unquoted off (a boolean) reads as "off"
    result = _defaults_validator().validate({key: topology[key] for key in DEFAULTS if key in topology})
    for error in result.errors:
        raise ValidationError(path or "topology", error.error_message)
    defaults = result.validated_parameters
    items = []
    for list_name, module, cls in LISTS:
        values = topology.get(list_name) or []
        if not isinstance(values, list):
            raise ValidationError(join(path, list_name), f"must be a list, got {type(values).__name__}")
        for i, raw in enumerate(values):
            item_path = f"{join(path, list_name)}[{i}]"
            if force and "force" in SPECS[module] and isinstance(raw, dict) and "force" not in raw:
                raw = dict(raw, force=True)
            if isinstance(raw, dict):
                raw = dict({key: value for key, value in defaults.items() if key in SPECS[module]}, **raw)
            params = validate_item(item_path, module, raw)
            items.append((item_path, params, cls.from_params(params, item_path)))
    forwarding = topology.get("forwarding")
    if forwarding is not None and not isinstance(forwarding, bool):
        raise ValidationError(join(path, "forwarding"), f"must be true or false, got {forwarding!r}")
    return items, forwarding


@functools.lru_cache(maxsize=None)
def _defaults_validator():
    return ArgumentSpecValidator(DEFAULTS)


@functools.lru_cache(maxsize=None)
def _validator(module):
    """One validator per module, reused for every item (building one deep-copies the spec)."""
    return ArgumentSpecValidator(SPECS[module], required_if=REQUIRED_IF.get(module))


def validate_item(path, module, raw):
    """The item checked and converted against the module's spec (types, choices, defaults)."""
    if not isinstance(raw, dict):
        raise ValidationError(path, f"must be a dictionary of {module} options, got {raw!r}")
    result = _validator(module).validate(raw)
    for error in result.errors:
        if type(error).__name__ == "UnsupportedError":  # its message is "<names>. Supported parameters include: ..."
            names = sorted(set(raw) - set(SPECS[module]))
            raise ValidationError(path, f"unknown option {', '.join(repr(n) for n in names)} "
                                        f"(a {module} item takes: {', '.join(sorted(SPECS[module]))})")
        raise ValidationError(path, error.error_message)
    return result.validated_parameters


def check(items, netns_exists, existing_subnets, forwarding=None):
    """Cross-item checks; the two callbacks read the host (namespaces, connected subnets).
    A bridge that is not declared must exist: the planner checks that, with the item's path."""
    present = [(p, r) for p, unused, r in items if r.state == "present"]
    if forwarding is False:
        for path, resource in present:
            if isinstance(resource, (Masquerade, PortForward)) and resource.forwarding and resource.netns is None:
                raise ValidationError("forwarding", f"false turns routing off in the host namespace, but {path} needs "
                                                    "it on (set forwarding: false on it, or leave the top-level "
                                                    "forwarding out)")
    _check_duplicates(items)
    declared_ns = {r.name for p, r in present if isinstance(r, Namespace)}
    for path, resource in present:
        for field in ("netns", "peer_netns"):
            name = getattr(resource, field, None)
            if isinstance(resource, Namespace) or name is None or name in declared_ns or netns_exists(name):
                continue
            raise ValidationError(join(path, field), f"namespace '{name}' is not declared and does not exist")
    addresses = _check_addresses(present)
    _check_gateways(present, addresses, existing_subnets)
    _check_forwards(present)


def _check_duplicates(items):
    seen = {}
    for path, unused, resource in items:
        key = key_of(resource)
        if key in seen:
            raise ValidationError(path, f"{resource.describe()} is declared twice (also at {seen[key]})")
        seen[key] = path
    links = {}
    for path, unused, resource in items:
        ends = []
        if isinstance(resource, (Bridge, Vxlan, Macvlan)):
            ends = [(resource.netns, resource.name, "name")]
        elif isinstance(resource, Veth):
            ends = [(resource.netns, resource.name, "name")]
            if resource.peer:
                ends.append((resource.peer_netns, resource.peer, "peer"))
        for netns, name, field in ends:
            if (netns, name) in links:
                raise ValidationError(join(path, field), f"interface '{name}' in {where(netns)} is declared twice "
                                                         f"(also at {links[(netns, name)]})")
            links[(netns, name)] = join(path, field)


def _check_addresses(present):
    """Every declared address once per namespace; returns {netns: [interfaces]}."""
    owners = {}
    by_netns = {}
    for path, resource in present:
        lists = []
        if isinstance(resource, (Bridge, Veth, Vxlan, Macvlan)):
            lists.append((resource.netns, resource.addresses, "addresses"))
        if isinstance(resource, Veth):
            lists.append((resource.peer_netns, resource.peer_addresses, "peer_addresses"))
        if isinstance(resource, AddressSet):
            lists.append((resource.netns, resource.addresses, "addresses"))
        for netns, cidrs, field in lists:
            for i, cidr in enumerate(cidrs or ()):
                iface = ipaddress.ip_interface(cidr)
                item = f"{join(path, field)}[{i}]"
                if (netns, iface.ip) in owners:
                    raise ValidationError(item, f"address {iface.ip} in {where(netns)} is also declared at "
                                                f"{owners[(netns, iface.ip)]}")
                owners[(netns, iface.ip)] = item
                by_netns.setdefault(netns, []).append(iface)
    return by_netns


def _check_gateways(present, addresses, existing_subnets):
    for path, resource in present:
        if not isinstance(resource, Route) or not resource.gateway:
            continue
        gateway = ipaddress.ip_address(resource.gateway)
        if gateway.is_link_local:
            continue  # fe80::1 with dev: on-link by definition
        declared = [iface.network for iface in addresses.get(resource.netns, [])]
        if any(gateway in network for network in declared):
            continue
        if any(gateway in ipaddress.ip_network(net) for net in existing_subnets(resource.netns)):
            continue
        raise ValidationError(join(path, "gateway"), f"{gateway} is not on a subnet connected to "
                                                     f"{where(resource.netns)} (declared or existing)")


def _check_forwards(present):
    forwards = [(p, r) for p, r in present if isinstance(r, PortForward)]
    for i, (path, forward) in enumerate(forwards):
        for other_path, other in forwards[:i]:
            same_target = (forward.netns, forward.protocol, forward.host_address) == \
                (other.netns, other.protocol, other.host_address)
            if same_target and forward.ports[0] <= other.ports[1] and other.ports[0] <= forward.ports[1]:
                raise ValidationError(join(path, "port"), f"{forward.protocol} port {forward.port_text} on "
                                      f"{forward.host_address or 'any host address'} overlaps the forward at {other_path}")


# ------------------------------------------------------------------ ownership


def claims(resource):
    """What a resource holds on the host, as hashable keys: its namespace, its links (both ends
    of a veth), each address it adds to an interface it does not own, its route or rules."""
    netns = getattr(resource, "netns", None)
    if isinstance(resource, Namespace):
        return {("netns", resource.name)}
    if isinstance(resource, (Bridge, Vxlan, Macvlan)):
        return {("link", netns, resource.name)}
    if isinstance(resource, Veth):
        ends = {("link", netns, resource.name)}
        return ends | ({("link", resource.peer_netns, resource.peer)} if resource.peer else set())
    if isinstance(resource, AddressSet):
        return {("address", netns, resource.interface, cidr) for cidr in resource.addresses}
    if isinstance(resource, Route) or hasattr(resource, "identity"):
        return {key_of(resource)}
    return set()  # a bridge port: the links it joins are claimed by whoever made them


def check_claims(items, others):
    """A resource recorded by another topology on this host is refused, naming that topology."""
    for path, unused, resource in items:
        if resource.state != "present":
            continue
        for claim in sorted(claims(resource), key=str):
            if claim in others:
                other, state_path = others[claim]
                raise ValidationError(path, f"{_claim_text(claim)} belongs to topology '{other}' (recorded in "
                                            f"{state_path}): a resource is managed by one topology only")


def _claim_text(claim):
    if claim[0] == "netns":
        return f"namespace '{claim[1]}'"
    if claim[0] == "link":
        return f"interface '{claim[2]}' in {where(claim[1])}"
    if claim[0] == "address":
        return f"address {claim[3]} on '{claim[2]}' in {where(claim[1])}"
    return f"{claim[0]} {' '.join(str(c) for c in claim[2:] if c is not None)} in {where(claim[1])}"


def mark_created(record, namespaces):
    """Record that this topology created ``namespaces`` (it deletes only those on absent/prune)."""
    for entry in record.values():
        if isinstance(entry["resource"], Namespace) and entry["resource"].name in namespaces:
            entry["created"] = True


# ------------------------------------------------------------------ plan order


def desired(items, forwarding, state, recorded, prune, others=None, name="default"):
    """(resources to plan in order, the record to keep afterwards, warnings).

    present: what an earlier run recorded and this one no longer declares is removed
    first when ``prune`` (in reverse dependency order); then every item in order.
    absent: every item and every recorded resource, in reverse dependency order.
    Removing never deletes what the topology did not make: a namespace it did not create
    (recorded ``created``) is left, and so is what another topology (``others``) records.
    """
    others = others or {}
    warnings = []
    declared = {key_of(r): (path, params, r) for path, params, r in items}
    dropped = [entry for key, entry in recorded.items() if key not in declared]
    ipv6 = any(":" in str(v) for unused, params, unused_r in items for v in _addresses_of(params))
    created = {entry["resource"].name for entry in recorded.values()
               if isinstance(entry["resource"], Namespace) and entry.get("created")}

    def removable(path, resource):
        taken = sorted(others[c][0] for c in claims(resource) if c in others)
        if taken:
            warnings.append(f"{path}: {resource.describe()} is also recorded by topology '{taken[0]}': left in place")
            return None
        if isinstance(resource, Namespace) and resource.name not in created:
            # not recorded as made by this topology (an older or damaged record): the planner
            # deletes it only if the collection made it (the mark on its loopback)
            return replace(resource, if_ours=True)
        return resource

    if state == "absent":
        everything = [(path, r) for path, unused, r in items] + [(entry["path"], entry["resource"]) for entry in dropped]
        ordered = sorted(everything, key=lambda pr: -rank(pr[1]))
        ordered = [(path, removable(path, r)) for path, r in ordered]
        ordered = [(path, r) for path, r in ordered if r is not None]
        ordered = [(path, replace(r, state="absent")) for path, r in _outside_removed_namespaces(ordered)]
        return ordered + [("forwarding", Forwarding(None, owner=f"topology {name}", state="absent"))], {}, warnings
    plan = []
    record = {key: {"path": path, "params": params, "resource": r,
                    "created": bool(recorded.get(key, {}).get("created"))}
              for key, (path, params, r) in declared.items() if r.state == "present"}
    if prune:
        for entry in sorted(dropped, key=lambda e: -rank(e["resource"])):
            resource = removable(entry["path"], entry["resource"])
            if resource is not None:
                plan.append((f"(pruned) {entry['path']}", replace(resource, state="absent")))
    else:
        for entry in dropped:
            record[key_of(entry["resource"])] = entry
    plan += [(path, r) for path, unused, r in items]
    if forwarding is not None:
        plan.append(("forwarding", Forwarding(forwarding, ipv6, owner=f"topology {name}")))
    return plan, record, warnings


def _outside_removed_namespaces(ordered):
    """What a teardown must remove itself. Whatever lies wholly inside a namespace that is
    removed too (its bridges, addresses, routes, rules, a veth with both ends there) goes
    with it, like `ip netns del` takes it: no need to read and delete it piece by piece.
    A veth with one end outside is deleted from that end, before the namespaces go: all
    such ends of one namespace in one kernel batch (kernel.Applier.do_link_del). Left to
    the kernel, that end would stay as long as anything holds the removed namespace (a
    process, or only a socket one opened there: seen in the tests)."""
    removed = {r.name for unused, r in ordered if isinstance(r, Namespace) and not r.if_ours}

    def gone(netns):
        return netns is not None and netns in removed

    kept = []
    for path, resource in ordered:
        if isinstance(resource, Veth) and resource.peer and gone(resource.netns) != gone(resource.peer_netns):
            if gone(resource.netns):  # name the outside end first: plan_veth deletes that one
                resource = replace(resource, name=resource.peer, netns=resource.peer_netns, peer=resource.name,
                                   peer_netns=resource.netns, addresses=resource.peer_addresses,
                                   peer_addresses=resource.addresses, bridge=resource.peer_bridge,
                                   peer_bridge=resource.bridge)
        elif not isinstance(resource, Namespace) and gone(getattr(resource, "netns", None)) \
                and not getattr(resource, "shim", None):  # a shim's host routes to it stay otherwise
            continue
        kept.append((path, resource))
    return kept


def _addresses_of(params):
    for field in ("addresses", "peer_addresses", "source", "destination", "dst", "gateway"):
        value = params.get(field)
        if isinstance(value, (list, tuple)):
            yield from value
        elif value:
            yield value


def rank(resource):
    return next(i for i, (unused, unused_module, cls) in enumerate(LISTS) if isinstance(resource, cls))
