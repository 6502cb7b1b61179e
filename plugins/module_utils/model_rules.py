# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed desired state of the resources made of nftables rules (private to the collection):
masquerades, port forwards, policies and NAT exemptions; the others are in model.py."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional

from ansible_collections.netfabric.netns.plugins.module_utils.checks import (
    _required,
    check_choice,
    check_ifname,
    check_ip,
    check_netns_name,
    check_network,
    check_port,
    check_port_range,
    check_state,
    family_of,
    join,
    ports_text,
)
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError, where
from ansible_collections.netfabric.netns.plugins.module_utils.model import Resource


@dataclass(frozen=True, repr=False, eq=False)
class Masquerade(Resource):
    """Source NAT of a subnet to the address of the outgoing interface (nat_masquerade)."""

    source: str  # normalised network
    out_interface: Optional[str] = None
    netns: Optional[str] = None
    forwarding: bool = True
    state: str = "present"

    kind = "masquerade"

    @classmethod
    def from_params(cls, p, path=""):
        out = p.get("out_interface")
        return cls(
            source=check_network(join(path, "source"), _required(p, "source", path)),
            out_interface=check_ifname(join(path, "out_interface"), out) if out else None,
            netns=check_netns_name(join(path, "netns"), p.get("netns")),
            forwarding=p.get("forwarding") is not False,
            state=check_state(join(path, "state"), p.get("state") or "present"),
        )

    @property
    def family(self):
        return family_of(self.source)

    @property
    def identity(self):
        return f"masquerade {self.source} out {self.out_interface or '*'}"

    def describe(self):
        return f"masquerade {self.source} ({where(self.netns, short=True)})"


@dataclass(frozen=True, repr=False, eq=False)
class PortForward(Resource):
    """DNAT from a port of the host to an address:port in a namespace (port_forward)."""

    ports: tuple  # (first, last); equal for a single port
    destination: str
    protocol: str = "tcp"
    destination_port: Optional[int] = None  # None: the same port(s)
    host_address: Optional[str] = None
    in_interface: Optional[str] = None
    netns: Optional[str] = None
    forwarding: bool = True
    force: bool = False
    state: str = "present"

    kind = "port_forward"

    @classmethod
    def from_params(cls, p, path=""):
        ports = check_port_range(join(path, "port"), _required(p, "port", path))
        state = check_state(join(path, "state"), p.get("state") or "present")
        raw_destination = p.get("destination")
        if state == "present":
            raw_destination = _required(p, "destination", path)
        destination = check_ip(join(path, "destination"), raw_destination) if raw_destination else None
        destination_port = check_port(join(path, "destination_port"), p.get("destination_port"))
        if destination_port is not None and ports[0] != ports[1] and destination_port != ports[0]:
            raise ValidationError(join(path, "destination_port"), f"{destination_port}: a port range maps onto the "
                                  "same ports; leave destination_port out")
        if destination_port == ports[0] and ports[0] == ports[1]:
            destination_port = None  # the default, spelled out
        host_address = check_ip(join(path, "host_address"), p["host_address"]) if p.get("host_address") else None
        for name, address in (("destination", destination), ("host_address", host_address)):
            if address and ipaddress.ip_address(address).is_loopback:
                raise ValidationError(join(path, name), f"'{address}' is a loopback address: forwarding it would need "
                                      "route_localnet (CVE-2020-8558)")
        if destination and host_address and family_of(destination) != family_of(host_address):
            raise ValidationError(join(path, "host_address"), f"'{host_address}' is not of the same address family "
                                  f"as destination '{destination}'")
        in_interface = p.get("in_interface")
        return cls(
            ports=ports,
            destination=destination,
            protocol=check_choice(join(path, "protocol"), p.get("protocol") or "tcp", ("tcp", "udp")),
            destination_port=destination_port,
            host_address=host_address,
            in_interface=check_ifname(join(path, "in_interface"), in_interface) if in_interface else None,
            netns=check_netns_name(join(path, "netns"), p.get("netns")),
            forwarding=p.get("forwarding") is not False,
            force=bool(p.get("force")),
            state=state,
        )

    @property
    def family(self):
        return family_of(self.host_address or self.destination or "0.0.0.0")

    @property
    def port_text(self):
        return ports_text(self.ports)

    @property
    def identity(self):
        return f"port_forward {self.protocol} {self.host_address or '*'} {self.port_text}"

    def describe(self):
        return f"port forward {self.protocol} {self.host_address or '*'}:{self.port_text} ({where(self.netns, short=True)})"


@dataclass(frozen=True, repr=False, eq=False)
class Policy(Resource):
    """A forward-filter rule between networks (netns_firewall, topology policies)."""

    source: Optional[str] = None
    destination: Optional[str] = None
    protocol: Optional[str] = None  # None: any
    ports: Optional[tuple] = None  # (first, last)
    action: str = "accept"
    netns: Optional[str] = None
    state: str = "present"

    kind = "policy"

    @classmethod
    def from_params(cls, p, path=""):
        source = check_network(join(path, "source"), p["source"]) if p.get("source") else None
        destination = check_network(join(path, "destination"), p["destination"]) if p.get("destination") else None
        if source and destination and family_of(source) != family_of(destination):
            raise ValidationError(join(path, "destination"), f"'{destination}' is not of the same address family "
                                  f"as source '{source}'")
        protocol = p.get("protocol")
        if protocol is not None:
            check_choice(join(path, "protocol"), protocol, ("tcp", "udp", "icmp"))
        ports = check_port_range(join(path, "port"), p["port"]) if p.get("port") not in (None, "") else None
        if ports and protocol not in ("tcp", "udp"):
            raise ValidationError(join(path, "port"), f"{p['port']}: a port needs protocol tcp or udp")
        if protocol == "icmp" and not (source or destination):
            raise ValidationError(join(path, "protocol"), "icmp needs a source or destination to tell IPv4 from IPv6")
        return cls(
            source=source,
            destination=destination,
            protocol=protocol,
            ports=ports,
            action=check_choice(join(path, "action"), p.get("action") or "accept", ("accept", "drop")),
            netns=check_netns_name(join(path, "netns"), p.get("netns")),
            state=check_state(join(path, "state"), p.get("state") or "present"),
        )

    @property
    def family(self):
        return family_of(self.source or self.destination or "0.0.0.0")

    @property
    def port_text(self):
        return ports_text(self.ports) if self.ports else "*"

    @property
    def identity(self):
        """All its match fields; the action is not part of it (changing it replaces the rule)."""
        return f"policy {self.source or '*'} > {self.destination or '*'} {self.protocol or '*'} {self.port_text}"

    def describe(self):
        return f"{self.identity} ({where(self.netns, short=True)})"


@dataclass(frozen=True, repr=False, eq=False)
class NatExemption(Resource):
    """Traffic to a network that is never masqueraded (nat_exemption): the other hosts' subnets
    of a routed fabric, where namespaces must see each other's own addresses."""

    destination: str
    source: Optional[str] = None
    netns: Optional[str] = None
    state: str = "present"

    kind = "nat_exemption"

    @classmethod
    def from_params(cls, p, path=""):
        destination = check_network(join(path, "destination"), _required(p, "destination", path))
        source = check_network(join(path, "source"), p["source"]) if p.get("source") else None
        if source and family_of(source) != family_of(destination):
            raise ValidationError(join(path, "source"), f"'{source}' is not of the same address family as "
                                  f"destination '{destination}'")
        return cls(destination=destination, source=source,
                   netns=check_netns_name(join(path, "netns"), p.get("netns")),
                   state=check_state(join(path, "state"), p.get("state") or "present"))

    @property
    def identity(self):
        return f"no_nat {self.source or '*'} > {self.destination}"

    def describe(self):
        return f"{self.identity} ({where(self.netns, short=True)})"
