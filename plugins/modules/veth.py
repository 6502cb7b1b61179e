#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: veth
short_description: Manage veth pairs ("virtual cables") between network namespaces
version_added: 0.1.0
description:
  - Creates a veth pair with one end O(name) in O(netns) and the other end O(peer) in O(peer_netns), the
    "cable" of C(ip link add veth-red type veth peer name veth-blue) plus C(ip link set ... netns ...).
  - The peer is created directly in its namespace, never created in the host and moved.
  - Each end can get addresses, be attached to a bridge in its own namespace, get an MTU, and is brought up.
options:
  name:
    description: Name of the first end, at most 15 bytes.
    type: str
    required: true
  peer:
    description:
      - Name of the other end, at most 15 bytes. Required with O(state=present).
    type: str
  peer_netns:
    description:
      - Namespace of the other end. Omitted means the host's own namespace.
    type: str
  addresses:
    description:
      - Addresses of the first end, with prefix length (IPv4 or IPv6), e.g. C(192.168.15.1/24).
      - This is the whole set; addresses not listed are removed (IPv6 link-local addresses are left alone).
        Omitted leaves the addresses unmanaged; V([]) removes them all.
    type: list
    elements: str
  peer_addresses:
    description: Addresses of the other end, with the same semantics as O(addresses).
    type: list
    elements: str
  bridge:
    description:
      - Bridge in O(netns) to attach the first end to (like M(netfabric.netns.bridge_port)).
      - Omitted leaves the end's bridge membership as it is.
    type: str
  peer_bridge:
    description:
      - Bridge in O(peer_netns) to attach the other end to, e.g. C(v-net-0) on the host.
    type: str
  mtu:
    description: MTU of both ends. Omitted leaves the MTU unmanaged (a new pair gets the kernel's 1500).
    type: int
  up:
    description:
      - Bring both ends up (V(true)) or down (V(false)).
    type: bool
    default: true
notes:
  - The pair is matched by name in the declared namespaces. If an end exists there but is not paired with the
    declared peer in O(peer_netns) (for example its peer was moved to another namespace by hand, or an old pair
    uses the name), the module deletes that pair, wherever its other end is, and creates the declared pair, when
    netfabric.netns created it (its ends carry the alias C(netfabric.netns)); an end it did not create (a
    container's C(eth0) is a veth too) is an error unless O(force=true). Ends in namespaces not named in the task
    are not searched for.
  - With O(state=absent), O(name) is deleted in O(netns) (its peer goes with it); if it is not there, O(peer) is
    deleted in O(peer_netns). A pair netfabric.netns did not create is left in place, with its declared addresses
    removed, unless O(force=true). A link of another kind with that name is an error, never deleted.
  - An end whose namespace does not exist is an error in a real run; in check mode it is assumed to be created
    by an earlier task, with a warning.
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.lock
  - netfabric.netns.common.netns
  - netfabric.netns.common.guard
  - netfabric.netns.common.coexist
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.netns
  - module: netfabric.netns.bridge
  - module: netfabric.netns.bridge_port
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: A cable between red and blue
  netfabric.netns.veth:
    name: veth-red
    netns: red
    addresses: [192.168.15.1/24]
    peer: veth-blue
    peer_netns: blue
    peer_addresses: [192.168.15.2/24]

- name: Red plugged into the host bridge v-net-0
  netfabric.netns.veth:
    name: veth-red
    netns: red
    addresses: [192.168.15.1/24, "fd15::1/64"]
    peer: veth-red-br
    peer_bridge: v-net-0

- name: Unplug the cable (deletes both ends)
  netfabric.netns.veth:
    name: veth-red
    netns: red
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: str
  sample:
    - "veth 'veth-red' (netns red): create with peer 'veth-red-br' (host)"
    - "bridge 'v-net-0' (host): enslave 'veth-red-br'"
    - "veth 'veth-red' (netns red): add address 192.168.15.1/24"
    - "veth 'veth-red' (netns red): set up"
veth:
  description: The pair after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the first end.
      type: str
      returned: always
      sample: veth-red
    netns:
      description: Namespace of the first end (V(null) for the host).
      type: str
      returned: always
      sample: red
    state:
      description: V(present) or V(absent).
      type: str
      returned: always
      sample: present
    peer:
      description: Name of the other end.
      type: str
      returned: when present
      sample: veth-red-br
    peer_netns:
      description: Namespace of the other end (V(null) for the host).
      type: str
      returned: when present
      sample: null
    addresses:
      description: Addresses of the first end (IPv6 link-local left out).
      type: list
      elements: str
      returned: when present
      sample: [192.168.15.1/24]
    peer_addresses:
      description: Addresses of the other end.
      type: list
      elements: str
      returned: when present
      sample: []
    bridge:
      description: Bridge the first end is attached to.
      type: str
      returned: when present
      sample: null
    peer_bridge:
      description: Bridge the other end is attached to.
      type: str
      returned: when present
      sample: v-net-0
    mtu:
      description: MTU of the first end.
      type: int
      returned: when present
      sample: 1500
    up:
      description: Whether the first end is administratively up.
      type: bool
      returned: when present
      sample: true
    peer_up:
      description: Whether the other end is administratively up.
      type: bool
      returned: when present
      sample: true
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model import Veth


def main():
    run_module("veth", Veth, "veth")


if __name__ == "__main__":
    main()
