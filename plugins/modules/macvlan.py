#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: macvlan
short_description: Put a namespace straight on the physical network with a macvlan interface
version_added: 0.3.0
description:
  - Creates a macvlan interface on a host interface (O(parent), e.g. C(eth0) or a VLAN interface) directly in its
    namespace, like C(ip link add link eth0 name m1 netns red type macvlan mode bridge); it presents its own MAC
    address to the network, so other hosts on the LAN reach the namespace at its own address, without routes, NAT
    or port forwarding (option 2 of the "External Access to Containers" walkthrough).
  - The interface is created in its namespace (the request goes to the host namespace, where the parent is, with the
    namespace's descriptor), never created in the host and moved.
  - The parent, the mode and a declared MAC cannot change on a live interface here; when they differ the interface is
    deleted and created again (check mode says so, C(delete (mode changed))).
  - The host cannot reach its own macvlans through the parent (the kernel hands their frames to the wire and to
    their sibling macvlans, never to the parent). The usual remedy is a macvlan of the host itself on the same parent
    in mode V(bridge) with an address (a "shim", made with this module and O(netns) omitted), and host routes to the
    namespaces' addresses through it, which O(shim) adds and removes.
options:
  name:
    description: Name of the interface.
    type: str
    required: true
  parent:
    description:
      - The interface of the host namespace it sits on. Required with O(state=present).
      - An interface inside a namespace, or one that does not exist, is an error.
    type: str
  mode:
    description:
      - V(bridge) lets the macvlans of one parent talk to each other directly; V(vepa) sends their traffic to the
        switch (which must hairpin it back); V(private) keeps them apart; V(passthru) gives the one macvlan the
        parent's MAC and puts the parent in promiscuous mode.
      - V(passthru) on the interface that carries the Ansible connection is refused unless O(force=true).
    type: str
    choices: [bridge, vepa, private, passthru]
    default: bridge
  addresses:
    description: Addresses of the interface (the whole set; IPv6 link-local left alone). Omitted leaves them alone.
    type: list
    elements: str
  mtu:
    description: MTU of the interface, at most the parent's. Omitted leaves the kernel's (the parent's).
    type: int
  mac:
    description: A fixed unicast MAC address; omitted lets the kernel pick a random one (a new one each time it is created).
    type: str
  up:
    description: Bring the interface up (V(true)) or down (V(false)).
    type: bool
    default: true
  shim:
    description:
      - Name of a macvlan in the host namespace on the same parent, in mode V(bridge), with an address of its own
        (declared with this module, O(netns) omitted, before this one). The host then reaches this interface
        through it, by a host route (C(/32), IPv6 C(/128)) to each of its addresses via the shim, removed with the
        address or the interface.
      - Needs O(mode=bridge) and O(netns). Omitted leaves such routes unmanaged; give it with O(state=absent) too.
    type: str
notes:
  - O(state=absent), and a change that recreates the interface, delete only an interface netfabric.netns created
    (it carries the alias C(netfabric.netns)), unless O(force=true).
  - The switch port must accept several MAC addresses (one per macvlan); where it does not (port security, most
    clouds, a Wi-Fi client), use M(netfabric.netns.ipvlan).
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.lock
  - netfabric.netns.common.netns
  - netfabric.netns.common.guard
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.ipvlan
  - module: netfabric.netns.port_forward
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: Namespace red on the LAN with its own MAC and address
  netfabric.netns.macvlan:
    name: m-red
    netns: red
    parent: eth0
    addresses: [192.168.1.50/24]

- name: A fixed MAC, in private mode
  netfabric.netns.macvlan:
    name: m-blue
    netns: blue
    parent: eth0
    mode: private
    mac: "02:00:c0:a8:01:33"
    addresses: [192.168.1.51/24]

- name: The host's shim, so that the host reaches its own namespaces
  netfabric.netns.macvlan:
    name: mvshim
    parent: eth0
    addresses: [192.168.1.60/32]

- name: Red again, now reachable from the host through the shim
  netfabric.netns.macvlan:
    name: m-red
    netns: red
    parent: eth0
    addresses: [192.168.1.50/24]
    shim: mvshim

- name: Remove it (and its host route)
  netfabric.netns.macvlan:
    name: m-red
    netns: red
    shim: mvshim
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: str
  sample: ["macvlan 'm-red' (netns red): create on 'eth0', mode bridge", "macvlan 'm-red' (netns red): add address 192.168.1.50/24",
           "macvlan 'm-red' (netns red): set up"]
macvlan:
  description: The interface after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the interface.
      type: str
      returned: always
      sample: m-red
    netns:
      description: Its namespace (V(null) for the host).
      type: str
      returned: always
      sample: red
    state:
      description: V(present) or V(absent).
      type: str
      returned: always
      sample: present
    kind:
      description: V(macvlan).
      type: str
      returned: when present
      sample: macvlan
    parent:
      description: The host interface it sits on.
      type: str
      returned: when present
      sample: eth0
    mode:
      description: Its mode.
      type: str
      returned: when present
      sample: bridge
    mac:
      description: Its MAC address; V(null) in check mode for one still to be created without O(mac).
      type: str
      returned: when present
      sample: "02:00:c0:a8:01:33"
    mtu:
      description: MTU.
      type: int
      returned: when present
      sample: 1500
    up:
      description: Whether it is up.
      type: bool
      returned: when present
      sample: true
    addresses:
      description: Its addresses.
      type: list
      elements: str
      returned: when present
      sample: [192.168.1.50/24]
    shim:
      description: The host's shim it is reached through.
      type: str
      returned: when O(shim) is given
      sample: mvshim
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model_macvlan import Macvlan


def main():
    run_module("macvlan", Macvlan, "macvlan")


if __name__ == "__main__":
    main()
