"""Validation of the desired-state model: runs before anything is touched."""

from __future__ import annotations

import pytest

from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.checks import check_sysctls, sysctl_path
from ansible_collections.netfabric.netns.plugins.module_utils.model import (
    AddressSet, Bridge, BridgePort, Namespace, Route, Veth)


def error_of(cls, params, path=""):
    with pytest.raises(ValidationError) as info:
        cls.from_params(params, path)
    return str(info.value)


@pytest.mark.parametrize("cls,params,message", [
    (Veth, {"name": "a" * 16, "peer": "b"}, "name: interface name 'aaaaaaaaaaaaaaaa' is longer than 15 bytes"),
    (Veth, {"name": "a", "peer": "veth-very-long-1"}, "peer: interface name 'veth-very-long-1' is longer than 15 bytes"),
    (Veth, {"name": "a", "peer": "b", "addresses": ["10.0.0.1/33"]},
     "addresses[0]: '10.0.0.1/33' is not a valid IPv4 or IPv6 address with prefix length"),
    (Veth, {"name": "a", "peer": "b", "peer_addresses": ["10.0.0.1"]},
     "peer_addresses[0]: '10.0.0.1' is not an address with a prefix length"),
    (Veth, {"name": "a", "peer": "b", "netns": "red/blue"}, "netns: namespace name 'red/blue' may not contain '/'"),
    (Veth, {"name": "a"}, "peer: is required when state is present"),
    (Veth, {"name": "a", "peer": "a"}, "peer: 'a' is the same name in the same namespace as name"),
    (Bridge, {"name": "br 0"}, "name: interface name 'br 0' may not be"),
    (Bridge, {"name": "br0", "mtu": 10}, "mtu: MTU 10 is out of range 68-65535"),
    (BridgePort, {"bridge": "br0", "port": "br0"}, "port: 'br0' cannot be attached to itself"),
    (Namespace, {"name": ".."}, "name: namespace name '..' may not contain '/'"),
    (Namespace, {"name": "red", "sysctls": {"kernel.panic": 1}}, "sysctls: 'kernel.panic' is not a sysctl"),
    (AddressSet, {"interface": "eth0", "addresses": ["fd15::1/129"]}, "addresses[0]: 'fd15::1/129' is not a valid"),
    (AddressSet, {"interface": "eth0", "addresses": ["10.0.0.1/24", "10.0.0.1/24"]},
     "addresses[1]: address '10.0.0.1/24' is listed twice"),
    (Route, {"dst": "default", "gateway": "192.168.15.300"}, "gateway: '192.168.15.300' is not an IPv4 or IPv6 address"),
    (Route, {"dst": "10.1.0.5/16", "dev": "eth0"}, "dst: '10.1.0.5/16' has host bits set (did you mean 10.1.0.0/16?)"),
    (Route, {"dst": "nowhere", "dev": "eth0"}, "dst: 'nowhere' is not 'default' or a network"),
    (Route, {"dst": "10.1.0.0/16", "gateway": "fd00::1"}, "gateway: 'fd00::1' is not of the same address family"),
    (Route, {"dst": "10.1.0.0/16"}, "a route needs gateway or dev"),
    (Route, {"dst": "default", "dev": "eth0", "table": "blue"}, "table: routing table must be an integer, got 'blue'"),
])
def test_bad_input_names_option_and_value(cls, params, message):
    assert message in error_of(cls, params)


def test_error_path_is_prefixed_inside_a_topology():
    message = error_of(Veth, {"name": "a", "peer": "b", "peer_netns": "x/y"}, "veths[3]")
    assert message.startswith("veths[3].peer_netns: namespace name 'x/y'")


def test_addresses_are_normalised():
    veth = Veth.from_params({"name": "a", "peer": "b", "addresses": ["FD15:0::1/64", "192.168.15.1/24"]})
    assert veth.addresses == ("fd15::1/64", "192.168.15.1/24")


def test_omitted_options_stay_unmanaged():
    bridge = Bridge.from_params({"name": "v-net-0"})
    assert (bridge.addresses, bridge.mtu, bridge.stp, bridge.vlan_filtering) == (None, None, None, None)
    assert Bridge.from_params({"name": "v-net-0", "addresses": []}).addresses == ()


def test_default_route_family_follows_the_gateway():
    assert Route.from_params({"dst": "default", "gateway": "192.168.15.5"}).dst == "0.0.0.0/0"
    assert Route.from_params({"dst": "default", "gateway": "fd15::5"}).dst == "::/0"
    assert Route.from_params({"dst": "default", "dev": "eth0", "table": "main"}).table == 254


def test_forwarding_is_written_before_other_sysctls():
    ns = Namespace.from_params({"name": "r", "forwarding": True, "sysctls": {"net.ipv4.conf.all.forwarding": 0}})
    assert list(ns.desired_sysctls().items()) == [
        ("net.ipv4.ip_forward", "1"), ("net.ipv6.conf.all.forwarding", "1"), ("net.ipv4.conf.all.forwarding", "0")]


def test_sysctl_values_and_paths():
    assert check_sysctls("s", {"net.ipv4.conf.all.rp_filter": True}) == {"net.ipv4.conf.all.rp_filter": "1"}
    assert sysctl_path("net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward"
    assert sysctl_path("net/ipv4/conf/eth0.10/rp_filter") == "/proc/sys/net/ipv4/conf/eth0.10/rp_filter"


def test_absent_needs_no_peer():
    assert Veth.from_params({"name": "a", "state": "absent"}).peer is None


def test_ipv6_address_below_the_ipv6_minimum_mtu_is_refused_up_front():
    message = error_of(Veth, {"name": "a", "peer": "b", "mtu": 1000, "peer_addresses": ["fd15::1/64"]})
    assert message == "mtu: MTU 1000 is below 1280, the minimum for the IPv6 address fd15::1/64"
    assert Bridge.from_params({"name": "br0", "mtu": 1000, "addresses": ["10.0.0.1/24"]}).mtu == 1000
