# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the fabric role (documented in fabric_self.yml, fabric_peers.yml and
fabric_topology.yml); the computations are module_utils/fabric.py's."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.netfabric.netns.plugins.module_utils import fabric


def _filter(func):
    def wrapped(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except fabric.FabricError as exc:
            raise AnsibleFilterError(str(exc)) from None
    wrapped.__name__ = func.__name__
    wrapped.__doc__ = func.__doc__
    return wrapped


@_filter
def fabric_self(info, host, topology=None, address=None, interface=None, default_ipv4=None, subnets=None):
    """This host's {host, address, mtu, subnets} from its netns_info result."""
    return fabric.host_facts(info, topology, host, address, interface, default_ipv4, subnets)


@_filter
def fabric_peers(members, hostvars, host, known=None, fact="netns_fabric_self"):
    """{member: facts} of the other members: ``hostvars[member][fact]``, else ``known``."""
    def facts_of(member):
        if member not in hostvars:
            return None
        variables = hostvars[member]
        return variables[fact] if fact in variables else None
    return fabric.peers(host, list(members), facts_of, known)


@_filter
def fabric_topology(me, peers, mode="routed", topology=None, vni=None, bridge=None, dstport=4789, mtu=None,
                    interface=None):
    """The fabric's own netns_topology: routed, or vxlan."""
    if mode == "routed":
        return fabric.routed_topology(me, peers)
    if mode == "vxlan":
        return fabric.vxlan_topology(me, peers, topology, vni, bridge, dstport, mtu, interface)
    raise AnsibleFilterError(f"fabric_topology: mode must be routed or vxlan, got {mode!r}")


class FilterModule:
    def filters(self):
        return {"fabric_self": fabric_self, "fabric_peers": fabric_peers, "fabric_topology": fabric_topology}
