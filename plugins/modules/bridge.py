#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bridge
short_description: Manage Linux bridges (virtual switches) in the host or in a namespace
version_added: 0.1.0
description:
  - Creates a Linux bridge such as C(v-net-0), like C(ip link add v-net-0 type bridge), brings it up and
    optionally gives it addresses, so that the host (or the namespace) has a leg on the virtual network and
    can serve as the namespaces' gateway.
options:
  name:
    description: Name of the bridge, at most 15 bytes.
    type: str
    required: true
  addresses:
    description:
      - Addresses of the bridge with prefix length, e.g. C(192.168.15.5/24).
      - This is the whole set; addresses not listed are removed (IPv6 link-local addresses are left alone).
        Omitted leaves the addresses unmanaged; V([]) removes them all.
    type: list
    elements: str
  mtu:
    description: MTU of the bridge. Omitted leaves it unmanaged.
    type: int
  stp:
    description: Turn the spanning tree protocol on or off. Omitted leaves it unmanaged (a new bridge has it off).
    type: bool
  vlan_filtering:
    description:
      - Turn VLAN filtering on or off. Omitted leaves it unmanaged.
      - Kernels built without C(CONFIG_BRIDGE_VLAN_FILTERING) refuse V(true) with "not supported by this kernel".
    type: bool
  isolate_subnet:
    description:
      - V(true) drops forwarded traffic between the bridge's subnets (those of its addresses) and every other network,
        in both directions, unless a policy (M(netfabric.netns.netns_firewall)) accepts it, it answers an accepted
        connection, or it comes through a port forward. The namespaces on the bridge still reach each other and the
        host.
      - The drop rules live in the forward chain of the nftables table C(inet netfabric), after the policies'
        accepts; this needs nftables on the host. V(false) removes them; omitted leaves them unmanaged. Removing the
        bridge removes them too.
      - Not to be confused with O(netfabric.netns.bridge_port#module:isolated), the kernel's port isolation inside
        the bridge.
    type: bool
  up:
    description: Bring the bridge up (V(true)) or down (V(false)).
    type: bool
    default: true
notes:
  - A link with this name that is not a bridge is an error, never deleted or changed.
  - O(state=absent) deletes the bridge if netfabric.netns created it (it carries the alias C(netfabric.netns));
    its ports are released, not deleted. A bridge it did not create is left in place with the addresses listed in
    O(addresses) removed, unless O(force=true).
  - An O(mtu) is kept when ports with a smaller MTU join (the kernel lowers the MTU of a bridge that was not
    given one to its smallest port's).
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.lock
  - netfabric.netns.common.netns
  - netfabric.netns.common.guard
  - netfabric.netns.common.coexist
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.bridge_port
  - module: netfabric.netns.veth
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: The switch v-net-0 with the host's address on the namespaces' network
  netfabric.netns.bridge:
    name: v-net-0
    addresses: [192.168.15.5/24]

- name: A bridge inside a router namespace, with STP
  netfabric.netns.bridge:
    name: br1
    netns: router
    stp: true
    addresses: [10.1.20.1/24, "fd20::1/64"]

- name: A back-end network that other networks reach only through policies
  netfabric.netns.bridge:
    name: br-backend
    addresses: [10.1.20.1/24]
    isolate_subnet: true

- name: A bridge whose forwarded traffic Docker and firewalld must keep dropping (the module warns)
  netfabric.netns.bridge:
    name: br-lab
    addresses: [10.1.30.1/24]
    docker: "off"
    firewalld: "off"

- name: Remove the bridge
  netfabric.netns.bridge:
    name: v-net-0
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: str
  sample: ["bridge 'v-net-0' (host): create", "bridge 'v-net-0' (host): add address 192.168.15.5/24",
           "bridge 'v-net-0' (host): set up"]
bridge:
  description: The bridge after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the bridge.
      type: str
      returned: always
      sample: v-net-0
    netns:
      description: Its namespace (V(null) for the host).
      type: str
      returned: always
      sample: null
    state:
      description: V(present) or V(absent).
      type: str
      returned: always
      sample: present
    addresses:
      description: Its addresses (IPv6 link-local left out).
      type: list
      elements: str
      returned: when present
      sample: [192.168.15.5/24]
    mtu:
      description: Its MTU.
      type: int
      returned: when present
      sample: 1500
    up:
      description: Whether it is administratively up.
      type: bool
      returned: when present
      sample: true
    stp:
      description: Whether STP is on.
      type: bool
      returned: when present
      sample: false
    isolate_subnet:
      description: Whether the bridge's subnets are isolated, when O(isolate_subnet) is managed.
      type: bool
      returned: when O(isolate_subnet) is set
      sample: true
    vlan_filtering:
      description: Whether VLAN filtering is on.
      type: bool
      returned: when present
      sample: false
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model import Bridge


def main():
    run_module("bridge", Bridge, "bridge")


if __name__ == "__main__":
    main()
