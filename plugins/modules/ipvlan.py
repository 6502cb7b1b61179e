#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ipvlan
short_description: Put a namespace on the physical network with an ipvlan interface (the parent's MAC)
version_added: 0.3.0
description:
  - Creates an ipvlan interface on a host interface (O(parent)) directly in its namespace, like
    C(ip link add link eth0 name i1 netns red type ipvlan mode l2 bridge). Unlike a macvlan it shares the parent's MAC
    address, for switch ports, clouds and Wi-Fi links that accept one MAC per port; other hosts see the namespace's
    own address with the parent's MAC.
  - The interface is created in its namespace, never created in the host and moved.
  - The parent, the mode and the flags cannot change on a live interface here; when they differ the interface is
    deleted and created again (check mode says so).
  - A kernel without the ipvlan driver (C(CONFIG_IPVLAN) unset, no module C(ipvlan)) answers "Unknown device type";
    the module then fails before changing anything, with a message that says the driver is missing.
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
      - V(l2) (the ipvlan takes part in ARP/ND on the parent's segment), V(l3) (the parent's host routes the
        addresses; no broadcast or multicast), V(l3s) (V(l3) with the host's netfilter on the way).
    type: str
    choices: [l2, l3, l3s]
    default: l2
  flags:
    description: V(bridge) lets the ipvlans of one parent talk to each other directly, V(private) keeps them apart,
      V(vepa) sends their traffic to the switch.
    type: str
    choices: [bridge, private, vepa]
    default: bridge
  addresses:
    description: Addresses of the interface (the whole set; IPv6 link-local left alone). Omitted leaves them alone.
    type: list
    elements: str
  mtu:
    description: MTU of the interface, at most the parent's. Omitted leaves the kernel's (the parent's).
    type: int
  up:
    description: Bring the interface up (V(true)) or down (V(false)).
    type: bool
    default: true
notes:
  - O(state=absent), and a change that recreates the interface, delete only an interface netfabric.netns created
    (it carries the alias C(netfabric.netns)), unless O(force=true).
  - As with a macvlan, the host does not reach its ipvlans through the parent.
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.lock
  - netfabric.netns.common.netns
  - netfabric.netns.common.guard
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.macvlan
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: Namespace red on the LAN, with the parent's MAC
  netfabric.netns.ipvlan:
    name: i-red
    netns: red
    parent: eth0
    addresses: [192.168.1.50/24]

- name: Layer 3 mode, kept apart from the other ipvlans of eth0
  netfabric.netns.ipvlan:
    name: i-blue
    netns: blue
    parent: eth0
    mode: l3
    flags: private
    addresses: [10.77.0.2/32]

- name: Remove it
  netfabric.netns.ipvlan:
    name: i-red
    netns: red
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: str
  sample: ["ipvlan 'i-red' (netns red): create on 'eth0', mode l2, flags bridge"]
ipvlan:
  description: The interface after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the interface.
      type: str
      returned: always
      sample: i-red
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
      description: V(ipvlan).
      type: str
      returned: when present
      sample: ipvlan
    parent:
      description: The host interface it sits on.
      type: str
      returned: when present
      sample: eth0
    mode:
      description: Its mode.
      type: str
      returned: when present
      sample: l2
    flags:
      description: Its flags.
      type: str
      returned: when present
      sample: bridge
    mac:
      description: Its MAC address (the parent's); V(null) in check mode for one still to be created.
      type: str
      returned: when present
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
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model_macvlan import Ipvlan


def main():
    run_module("ipvlan", Ipvlan, "ipvlan")


if __name__ == "__main__":
    main()
