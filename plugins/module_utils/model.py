# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed desired state (private to the collection).

Each resource is built from a module's parameters (or a topology item) by ``from_params``,
which validates every value with checks.py before anything on the host is touched, so that
every message starts with the path of the offending option.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ansible_collections.netfabric.netns.plugins.module_utils.checks import (
    _required,
    check_cidr_list,
    check_dns,
    check_hosts,
    check_ifname,
    check_int,
    check_ip,
    check_ip_list,
    check_ipv6_mtu,
    check_mtu,
    check_netns_name,
    check_network,
    check_port,
    check_state,
    check_sysctls,
    check_table,
    family_of,
    join,
)
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError, where


@dataclass(frozen=True, repr=False, eq=False)
class Resource:
    """Common fields: where the resource lives and whether it should exist."""

    kind = "resource"

    def describe(self):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError


@dataclass(frozen=True, repr=False, eq=False)
class Namespace(Resource):
    name: str
    state: str = "present"
    loopback: Optional[bool] = True
    forwarding: Optional[bool] = None
    sysctls: Optional[dict] = None
    dns: Optional[tuple] = None  # (nameservers, search, options): /etc/netns/NAME/resolv.conf
    hosts: Optional[tuple] = None  # ((name, address), ...): /etc/netns/NAME/hosts
    if_ours: bool = False  # absent: delete it only if the collection created it (a topology's teardown)

    kind = "netns"

    @classmethod
    def from_params(cls, p, path=""):
        return cls(
            name=check_netns_name(join(path, "name"), _required(p, "name", path)),
            state=check_state(join(path, "state"), p.get("state") or "present"),
            loopback=p.get("loopback", True),
            forwarding=p.get("forwarding"),
            sysctls=check_sysctls(join(path, "sysctls"), p.get("sysctls")),
            dns=check_dns(join(path, "dns"), p.get("dns")),
            hosts=check_hosts(join(path, "hosts"), p.get("hosts")),
        )

    def desired_sysctls(self):
        """Forwarding first: writing ip_forward resets conf.*.forwarding."""
        values = {}
        if self.forwarding is not None:
            flag = "1" if self.forwarding else "0"
            values["net.ipv4.ip_forward"] = flag
            values["net.ipv6.conf.all.forwarding"] = flag
        values.update(self.sysctls or {})
        return values

    def describe(self):
        return f"namespace '{self.name}'"


@dataclass(frozen=True, repr=False, eq=False)
class Veth(Resource):
    name: str
    peer: Optional[str] = None
    netns: Optional[str] = None
    peer_netns: Optional[str] = None
    addresses: Optional[tuple] = None
    peer_addresses: Optional[tuple] = None
    bridge: Optional[str] = None
    peer_bridge: Optional[str] = None
    mtu: Optional[int] = None
    up: Optional[bool] = True
    state: str = "present"
    force: bool = False
    docker: str = "auto"  # open Docker's and firewalld's forwarding for it (coexist.py)
    firewalld: str = "auto"

    kind = "veth"

    @classmethod
    def from_params(cls, p, path=""):
        state = check_state(join(path, "state"), p.get("state") or "present")
        veth = cls(
            name=check_ifname(join(path, "name"), _required(p, "name", path)),
            peer=check_ifname(join(path, "peer"), p["peer"]) if p.get("peer") is not None else None,
            netns=check_netns_name(join(path, "netns"), p.get("netns")),
            peer_netns=check_netns_name(join(path, "peer_netns"), p.get("peer_netns")),
            addresses=check_cidr_list(join(path, "addresses"), p.get("addresses")),
            peer_addresses=check_cidr_list(join(path, "peer_addresses"), p.get("peer_addresses")),
            bridge=check_ifname(join(path, "bridge"), p["bridge"]) if p.get("bridge") else None,
            peer_bridge=check_ifname(join(path, "peer_bridge"), p["peer_bridge"]) if p.get("peer_bridge") else None,
            mtu=check_mtu(join(path, "mtu"), p.get("mtu")),
            up=p.get("up", True),
            state=state,
            force=bool(p.get("force")),
            docker=p.get("docker") or "auto",
            firewalld=p.get("firewalld") or "auto",
        )
        check_ipv6_mtu(join(path, "mtu"), veth.mtu, veth.addresses, veth.peer_addresses)
        if state == "present" and veth.peer is None:
            raise ValidationError(join(path, "peer"), "is required when state is present")
        if veth.peer is not None and veth.peer == veth.name and veth.peer_netns == veth.netns:
            raise ValidationError(join(path, "peer"), f"'{veth.peer}' is the same name in the same namespace as name")
        for end, bridge in (("name", veth.bridge), ("peer", veth.peer_bridge)):
            if bridge is not None and bridge == getattr(veth, end):
                raise ValidationError(join(path, "bridge" if end == "name" else "peer_bridge"),
                                      f"'{bridge}' cannot be attached to itself")
        return veth

    def ends(self):
        """The two ends as (name, netns, addresses, bridge)."""
        return ((self.name, self.netns, self.addresses, self.bridge),
                (self.peer, self.peer_netns, self.peer_addresses, self.peer_bridge))

    def describe(self):
        return f"veth '{self.name}' ({where(self.netns, short=True)})"


@dataclass(frozen=True, repr=False, eq=False)
class Bridge(Resource):
    name: str
    netns: Optional[str] = None
    addresses: Optional[tuple] = None
    mtu: Optional[int] = None
    stp: Optional[bool] = None
    vlan_filtering: Optional[bool] = None
    isolate_subnet: Optional[bool] = None
    up: Optional[bool] = True
    state: str = "present"
    force: bool = False
    docker: str = "auto"  # open Docker's and firewalld's forwarding for it (coexist.py)
    firewalld: str = "auto"

    kind = "bridge"

    @classmethod
    def from_params(cls, p, path=""):
        bridge = cls(
            name=check_ifname(join(path, "name"), _required(p, "name", path)),
            netns=check_netns_name(join(path, "netns"), p.get("netns")),
            addresses=check_cidr_list(join(path, "addresses"), p.get("addresses")),
            mtu=check_mtu(join(path, "mtu"), p.get("mtu")),
            stp=p.get("stp"),
            vlan_filtering=p.get("vlan_filtering"),
            isolate_subnet=p.get("isolate_subnet"),
            up=p.get("up", True),
            state=check_state(join(path, "state"), p.get("state") or "present"),
            force=bool(p.get("force")),
            docker=p.get("docker") or "auto",
            firewalld=p.get("firewalld") or "auto",
        )
        check_ipv6_mtu(join(path, "mtu"), bridge.mtu, bridge.addresses)
        return bridge

    def describe(self):
        return f"bridge '{self.name}' ({where(self.netns, short=True)})"


@dataclass(frozen=True, repr=False, eq=False)
class BridgePort(Resource):
    bridge: str
    port: str
    netns: Optional[str] = None
    hairpin: Optional[bool] = None
    isolated: Optional[bool] = None
    state: str = "present"
    force: bool = False

    kind = "bridge_port"

    @classmethod
    def from_params(cls, p, path=""):
        port = cls(
            bridge=check_ifname(join(path, "bridge"), _required(p, "bridge", path)),
            port=check_ifname(join(path, "port"), _required(p, "port", path)),
            netns=check_netns_name(join(path, "netns"), p.get("netns")),
            hairpin=p.get("hairpin"),
            isolated=p.get("isolated"),
            state=check_state(join(path, "state"), p.get("state") or "present"),
            force=bool(p.get("force")),
        )
        if port.port == port.bridge:
            raise ValidationError(join(path, "port"), f"'{port.port}' cannot be attached to itself")
        return port

    def describe(self):
        return f"bridge '{self.bridge}' ({where(self.netns, short=True)})"


@dataclass(frozen=True, repr=False, eq=False)
class AddressSet(Resource):
    """Addresses on an interface the collection does not own (netns_address)."""

    interface: str
    addresses: tuple = field(default_factory=tuple)
    netns: Optional[str] = None
    state: str = "present"
    force: bool = False

    kind = "address"

    @classmethod
    def from_params(cls, p, path=""):
        return cls(
            interface=check_ifname(join(path, "interface"), _required(p, "interface", path)),
            addresses=check_cidr_list(join(path, "addresses"), _required(p, "addresses", path)),
            netns=check_netns_name(join(path, "netns"), p.get("netns")),
            state=check_state(join(path, "state"), p.get("state") or "present"),
            force=bool(p.get("force")),
        )

    def describe(self):
        return f"interface '{self.interface}' ({where(self.netns, short=True)})"


@dataclass(frozen=True, repr=False, eq=False)
class Route(Resource):
    dst: str  # normalised network, '0.0.0.0/0' or '::/0' for default
    gateway: Optional[str] = None
    dev: Optional[str] = None
    metric: Optional[int] = None
    table: Optional[int] = None
    netns: Optional[str] = None
    state: str = "present"
    force: bool = False

    kind = "route"

    @classmethod
    def from_params(cls, p, path=""):
        raw_dst = _required(p, "dst", path)
        dst = check_network(join(path, "dst"), raw_dst, default=True)
        gateway = check_ip(join(path, "gateway"), p["gateway"]) if p.get("gateway") else None
        dev = check_ifname(join(path, "dev"), p["dev"]) if p.get("dev") else None
        state = check_state(join(path, "state"), p.get("state") or "present")
        if dst is None:
            dst = "::/0" if gateway and ":" in gateway else "0.0.0.0/0"
        if gateway and family_of(gateway) != family_of(dst):
            raise ValidationError(join(path, "gateway"), f"'{gateway}' is not of the same address family as dst '{raw_dst}'")
        if state == "present" and not gateway and not dev:
            raise ValidationError(path, "a route needs gateway or dev (or both)")
        return cls(
            dst=dst,
            gateway=gateway,
            dev=dev,
            metric=check_int(join(path, "metric"), p.get("metric"), 0, 2**32 - 1, "metric"),
            table=check_table(join(path, "table"), p.get("table")),
            netns=check_netns_name(join(path, "netns"), p.get("netns")),
            state=state,
            force=bool(p.get("force")),
        )

    @property
    def family(self):
        return family_of(self.dst)

    def label(self):
        dst = "default" if self.dst.endswith("/0") else self.dst
        return dst + (" (IPv6)" if self.family == 6 and dst == "default" else "")

    def describe(self):
        table = "" if self.table in (None, 254) else f", table {self.table}"
        return f"route {self.label()} ({where(self.netns, short=True)}{table})"


@dataclass(frozen=True, repr=False, eq=False)
class Vxlan(Resource):
    """A VXLAN device with unicast head-end replication to its remotes (vxlan)."""

    name: str
    vni: Optional[int] = None
    local: Optional[str] = None
    remotes: Optional[tuple] = None  # None: the forwarding entries are not managed
    dstport: int = 4789
    dev: Optional[str] = None
    bridge: Optional[str] = None
    mtu: Optional[int] = None
    addresses: Optional[tuple] = None
    up: Optional[bool] = True
    netns: Optional[str] = None
    state: str = "present"
    force: bool = False
    docker: str = "auto"  # open Docker's and firewalld's forwarding for it (coexist.py)
    firewalld: str = "auto"
    fit_ports: bool = False

    kind = "vxlan"

    @classmethod
    def from_params(cls, p, path=""):
        state = check_state(join(path, "state"), p.get("state") or "present")
        vni = p.get("vni")
        if state == "present":
            vni = _required(p, "vni", path)
        local = check_ip(join(path, "local"), p["local"]) if p.get("local") else None
        remotes = check_ip_list(join(path, "remotes"), p.get("remotes"))
        for i, remote in enumerate(remotes or ()):
            if local and family_of(remote) != family_of(local):
                raise ValidationError(f"{join(path, 'remotes')}[{i}]", f"'{remote}' is not of the same address family "
                                      f"as local '{local}'")
        vxlan = cls(
            name=check_ifname(join(path, "name"), _required(p, "name", path)),
            vni=check_int(join(path, "vni"), vni, 1, 2**24 - 1, "VNI"),
            local=local,
            remotes=remotes,
            dstport=check_port(join(path, "dstport"), p.get("dstport") or 4789),
            dev=check_ifname(join(path, "dev"), p["dev"]) if p.get("dev") else None,
            bridge=check_ifname(join(path, "bridge"), p["bridge"]) if p.get("bridge") else None,
            mtu=check_mtu(join(path, "mtu"), p.get("mtu")),
            addresses=check_cidr_list(join(path, "addresses"), p.get("addresses")),
            up=p.get("up", True),
            netns=check_netns_name(join(path, "netns"), p.get("netns")),
            state=state,
            force=bool(p.get("force")),
            docker=p.get("docker") or "auto",
            firewalld=p.get("firewalld") or "auto",
            fit_ports=bool(p.get("fit_ports")),
        )
        check_ipv6_mtu(join(path, "mtu"), vxlan.mtu, vxlan.addresses)
        if vxlan.fit_ports and not vxlan.bridge:
            raise ValidationError(join(path, "fit_ports"), "needs bridge: the ports it fits are those of its bridge")
        if vxlan.bridge is not None and vxlan.bridge == vxlan.name:
            raise ValidationError(join(path, "bridge"), f"'{vxlan.bridge}' cannot be attached to itself")
        return vxlan

    @property
    def identity(self):
        return f"vxlan {self.name}"

    def describe(self):
        return f"vxlan '{self.name}' ({where(self.netns, short=True)})"
