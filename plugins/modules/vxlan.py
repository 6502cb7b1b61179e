#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vxlan
short_description: Manage a VXLAN device with unicast peers, optionally on a bridge
version_added: 0.2.0
description:
  - Creates a VXLAN device, like C(ip link add vx0 type vxlan id 42 local 10.10.0.11 dstport 4789), that carries
    Ethernet frames to other hosts over UDP; with O(bridge) it stretches that bridge across the hosts.
  - Frames for unknown destinations go to every host in O(remotes) (head-end replication, all-zero forwarding
    entries added with C(append), like C(bridge fdb append 00:00:00:00:00:00 dev vx0 dst 10.10.0.12)), so no
    multicast is needed in the underlay.
  - The VNI, the port, O(local) and O(dev) cannot change on a live device; when they differ the device is
    deleted and created again.
  - Only the hosts in O(remotes) may reach this device on this host - an accept per remote, then a drop, in the
    input chain of the collection's nftables table C(inet netfabric). Both match only this device's own packets (its
    O(local) address, its O(dev), its UDP port and its VNI), so other users of the port (Docker Swarm overlays,
    Calico, other VNIs) are left alone.
  - The device's MTU must leave room for the 50 bytes of VXLAN encapsulation over IPv4 (70 over IPv6) on the
    underlay; members of the same bridge need the same MTU or larger frames vanish silently. Set O(mtu) (the kernel
    picks the underlay device's MTU minus 50 when O(dev) is given, 1450 without it).
options:
  name:
    description: Name of the device.
    type: str
    required: true
  vni:
    description: VXLAN network identifier, 1 to 16777215. Required with O(state=present).
    type: int
  local:
    description: This host's underlay address, the source of the UDP packets.
    type: str
  remotes:
    description:
      - Underlay addresses of the other hosts. This is the whole set; entries not listed are removed.
      - Omitted leaves the forwarding entries and the port's rules unmanaged.
    type: list
    elements: str
  dstport:
    description: UDP port, on every host the same. Without it the kernel would use 8472, not the IANA port.
    type: int
    default: 4789
  dev:
    description: Underlay interface the packets leave through.
    type: str
  bridge:
    description: Bridge to attach the device to (in the same namespace), stretching that bridge across the hosts.
    type: str
  mtu:
    description: MTU of the device. Omitted leaves it unmanaged.
    type: int
  addresses:
    description: Addresses of the device itself (the whole set; IPv6 link-local left alone). Omitted leaves them alone.
    type: list
    elements: str
  up:
    description: Bring the device up (V(true)) or down (V(false)).
    type: bool
    default: true
  fit_ports:
    description:
      - Lower the MTU of every port of O(bridge) that is larger than the device's, and of the other end of its veth
        ports (where the frames start), to the device's MTU. A frame larger than the VXLAN device's MTU vanishes on the
        bridge without a word; the C(fabric) role sets this for the ports whose MTU the topology leaves unmanaged.
      - What each had is recorded (C(/var/lib/netfabric/settings.json)) and given back when the device is removed (or
        O(fit_ports) turned off), where the port still has the MTU this set.
    type: bool
    default: false
notes:
  - Requires nftables on the host when O(remotes) is given.
  - O(state=absent), and a change of O(vni), O(dstport), O(local) or O(dev) (which recreates the device), delete
    only a device netfabric.netns created (it carries the alias C(netfabric.netns)), unless O(force=true).
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.lock
  - netfabric.netns.common.netns
  - netfabric.netns.common.guard
  - netfabric.netns.common.coexist
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.bridge
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: Stretch v-net-0 to the two other hosts
  netfabric.netns.vxlan:
    name: vx-net-0
    vni: 42
    local: 10.10.0.11
    remotes: [10.10.0.12, 10.10.0.13]
    dev: eth0
    bridge: v-net-0
    mtu: 1450

- name: Remove the device
  netfabric.netns.vxlan:
    name: vx-net-0
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: str
  sample: ["vxlan 'vx-net-0' (host): create, vni 42, port 4789, local 10.10.0.11", "vxlan 'vx-net-0' (host): add remote 10.10.0.12"]
vxlan:
  description: The device after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the device.
      type: str
      returned: always
      sample: vx-net-0
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
    vni:
      description: The VNI.
      type: int
      returned: when present
      sample: 42
    dstport:
      description: The UDP port.
      type: int
      returned: when present
      sample: 4789
    local:
      description: The local underlay address, or V(null).
      type: str
      returned: when present
      sample: 10.10.0.11
    remotes:
      description: The other hosts (all-zero forwarding entries).
      type: list
      elements: str
      returned: when present
      sample: [10.10.0.12, 10.10.0.13]
    bridge:
      description: The bridge it is attached to, or V(null).
      type: str
      returned: when present
      sample: v-net-0
    mtu:
      description: MTU.
      type: int
      returned: when present
      sample: 1450
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
      sample: []
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model import Vxlan


def main():
    run_module("vxlan", Vxlan, "vxlan")


if __name__ == "__main__":
    main()
