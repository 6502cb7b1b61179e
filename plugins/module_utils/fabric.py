# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the fabric role computes, as plain functions (private to the collection; the filters
in plugins/filter/fabric.py call them on the controller).

A host's own facts (underlay address, MTU, exported subnets) come from its netns_info result
and its netns_topology; its peers are the other members with facts in this run, or, for a
member without (``--limit``), those recorded by the last run; from them the fabric's own
topology is built: routes and NAT exemptions (routed), or a VXLAN device on the stretched
bridge (vxlan). One call per host, linear in the number of peers.
"""

from __future__ import annotations

import ipaddress


class FabricError(ValueError):
    """The inventory does not describe a fabric that can be built; the message says why."""


VXLAN_OVERHEAD = {4: 50, 6: 70}  # bytes of outer headers per frame


def _links(info, netns=None):
    scope = info.get("host") if netns is None else (info.get("netns") or {}).get(netns)
    return (scope or {}).get("links") or []


def host_facts(info, topology, host, address=None, interface=None, default_ipv4=None, subnets=None):
    """{host, address, mtu, subnets} of this host.

    address: ``address``, else the first IPv4 address of ``interface``, else ``default_ipv4``.
    mtu: that of ``interface``, else of the link that carries the address (1500 when unknown).
    subnets: ``subnets``, else those of the host-namespace bridges of ``topology`` (present
    ones), of the address's family.
    """
    links = _links(info)
    named = next((link for link in links if link.get("name") == interface), None) if interface else None
    if not address:
        ipv4 = [cidr.split("/")[0] for cidr in (named or {}).get("addresses", []) if ":" not in cidr]
        address = ipv4[0] if ipv4 else default_ipv4
    if not address:
        raise FabricError("no underlay address: set netns_fabric_address, or netns_fabric_interface to an interface "
                          "with an IPv4 address" + (f" ({interface} has none)" if interface else ""))
    carrier = named if interface else next(
        (link for link in links if address in [cidr.split("/")[0] for cidr in link.get("addresses", [])]), None)
    mtu = int((carrier or {}).get("mtu") or 1500)
    if subnets is None:
        ipv6 = ":" in address
        subnets = []
        for bridge in (topology or {}).get("bridges") or []:
            if bridge.get("netns") is not None or bridge.get("state", "present") == "absent":
                continue
            for cidr in bridge.get("addresses") or []:
                network = str(ipaddress.ip_interface(cidr).network)
                if (":" in cidr) == ipv6 and network not in subnets:
                    subnets.append(network)
    return {"host": host, "address": address, "mtu": mtu, "subnets": list(subnets)}


def peers(me, members, facts_of, known=None):
    """{member: facts} of the other members: their facts of this run (``facts_of(member)``, None
    when they have none), else what the last run recorded (``known``); members with neither are
    left out."""
    known = known or {}
    found = {}
    for member in members:
        if member == me or member in found:
            continue
        facts = facts_of(member)
        if facts is None:
            facts = known.get(member)
        if facts is not None:
            found[member] = facts
    return found


def routed_topology(me, peer_facts):
    """The routed fabric: a route per peer subnet via the peer's address, forwarding, and no NAT
    towards any fabric subnet (the peers' and this host's own)."""
    owners = {}
    for facts in [me] + [peer_facts[name] for name in sorted(peer_facts)]:
        for subnet in facts.get("subnets") or []:
            if subnet in owners:
                raise FabricError(f"subnet {subnet} is exported by both {owners[subnet]} and {facts['host']}: each "
                                  "host's namespaces need subnets of their own")
            owners[subnet] = facts["host"]
    routes = [{"dst": subnet, "gateway": peer_facts[name]["address"]}
              for name in sorted(peer_facts) for subnet in peer_facts[name].get("subnets") or []]
    exemptions = [{"destination": subnet} for subnet in list(me.get("subnets") or []) + [r["dst"] for r in routes]]
    return {"forwarding": True, "routes": routes, "nat_exemptions": exemptions}


def vxlan_mtu(me, mtu=None):
    """The MTU of the VXLAN device: ``mtu``, else the underlay link's minus the outer headers."""
    if mtu is not None:
        return int(mtu)
    return int(me["mtu"]) - VXLAN_OVERHEAD[6 if ":" in me["address"] else 4]


def declared_bridge(topology, bridge):
    """The host-namespace bridge ``bridge`` as netns_topology declares it (present), or None."""
    for item in (topology or {}).get("bridges") or []:
        if item.get("name") == bridge and item.get("netns") is None and item.get("state", "present") != "absent":
            return item
    return None


def declared_too_big(topology, bridge, mtu):
    """What netns_topology declares larger than ``mtu`` on ``bridge`` (the bridge itself, the veths
    with an end on it): descriptions. Members whose MTU it leaves unmanaged are fitted instead."""
    found = []
    declared = declared_bridge(topology, bridge)
    if declared is not None and declared.get("mtu") is not None and int(declared["mtu"]) > mtu:
        found.append(f"the bridge itself (mtu {declared['mtu']})")
    for veth in (topology or {}).get("veths") or []:
        on_bridge = (veth.get("peer_bridge") == bridge and veth.get("peer_netns") is None) or \
            (veth.get("bridge") == bridge and veth.get("netns") is None)
        if on_bridge and veth.get("state", "present") != "absent" and veth.get("mtu") is not None \
                and int(veth["mtu"]) > mtu:
            found.append(f"veth {veth['name']} (mtu {veth['mtu']})")
    return found


def vxlan_topology(me, peer_facts, topology, vni, bridge, dstport=4789, mtu=None, interface=None):
    """The VXLAN fabric: the bridge (unless netns_topology declares it) and a VXLAN device on it with
    every peer as a remote, which fits the bridge's ports (both ends of its veths) to its MTU.
    Fails when netns_topology declares something on the bridge larger than that MTU."""
    if vni is None or bridge is None:
        raise FabricError("netns_fabric_mode vxlan needs netns_fabric_vni and netns_fabric_bridge")
    size = vxlan_mtu(me, mtu)
    big = declared_too_big(topology, bridge, size)
    if big:
        raise FabricError(f"{', '.join(big)} on {bridge}: MTU above {size} in netns_topology, larger frames would "
                          f"vanish in the VXLAN tunnel. Declare mtu {size} (or less), or leave it out: the fabric then "
                          "sets it.")
    device = {"name": f"vxf{vni}", "vni": int(vni), "local": me["address"],
              "remotes": sorted(facts["address"] for facts in peer_facts.values()),
              "dstport": int(dstport), "bridge": bridge, "mtu": size, "fit_ports": True}
    if interface:
        device["dev"] = interface
    bridges = [] if declared_bridge(topology, bridge) is not None else [{"name": bridge, "mtu": size}]
    return {"bridges": bridges, "vxlans": [device]}
