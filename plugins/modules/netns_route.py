#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: netns_route
short_description: Manage IPv4 and IPv6 routes in a namespace or the host
version_added: 0.1.0
description:
  - Adds, replaces or deletes a route, like C(ip netns exec blue ip route add default via 192.168.15.5).
  - A route is identified by O(dst), O(table) and, when given, O(metric). A route with that identity but another
    gateway or device is replaced in place (keeping its metric).
options:
  dst:
    description:
      - Destination network in CIDR notation (C(10.1.0.0/16), C(fd20::/64)) or V(default).
      - V(default) is the IPv4 default route, or the IPv6 one when O(gateway) is an IPv6 address; write
        C(::/0) for an IPv6 default route without gateway.
    type: str
    required: true
  gateway:
    description:
      - Next hop. It must be on a network connected to the namespace; the kernel refuses it otherwise
        ("the gateway is not on a connected network").
      - Omitted means a direct route on O(dev).
    type: str
  dev:
    description:
      - Outgoing interface. Required when O(gateway) is omitted. Omitted with a gateway lets the kernel choose,
        and leaves the device of an existing route unmanaged.
    type: str
  metric:
    description:
      - Route priority (C(metric) in C(ip route)). When given it is part of the route's identity.
      - Omitted matches an existing route of any metric; a new route gets the kernel's default.
    type: int
  table:
    description: Routing table, a number or V(main), V(local), V(default). Omitted means V(main).
    type: str
notes:
  - With O(state=absent) every route of that identity is deleted; O(gateway) and O(dev), when given, narrow it down.
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.netns
  - netfabric.netns.common.guard
  - netfabric.netns.common.lock
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.netns_info
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: Blue reaches the outside world through the host's bridge address
  netfabric.netns.netns_route:
    netns: blue
    dst: default
    gateway: 192.168.15.5

- name: Blue reaches the LAN 192.168.1.0/24 through the host
  netfabric.netns.netns_route:
    netns: blue
    dst: 192.168.1.0/24
    gateway: 192.168.15.5

- name: An IPv6 route in a separate table
  netfabric.netns.netns_route:
    netns: router
    dst: fd30::/64
    gateway: fd20::2
    table: 100
    metric: 50

- name: Remove the default route of blue
  netfabric.netns.netns_route:
    netns: blue
    dst: default
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: str
  sample: ["route default (netns blue): add via 192.168.15.5"]
route:
  description: The route after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    dst:
      description: Destination, V(default) for a default route.
      type: str
      returned: always
      sample: default
    netns:
      description: Its namespace (V(null) for the host).
      type: str
      returned: always
      sample: blue
    table:
      description: Routing table number.
      type: int
      returned: always
      sample: 254
    state:
      description: V(present) or V(absent).
      type: str
      returned: always
      sample: present
    gateway:
      description: Next hop.
      type: str
      returned: when present
      sample: 192.168.15.5
    dev:
      description: Outgoing interface, when known.
      type: str
      returned: when present
      sample: veth-blue
    metric:
      description: Route priority, when known.
      type: int
      returned: when present
      sample: 0
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model import Route


def main():
    run_module("netns_route", Route, "route")


if __name__ == "__main__":
    main()
