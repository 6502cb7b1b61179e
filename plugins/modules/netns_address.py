#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: netns_address
short_description: Add or remove addresses on any interface
version_added: 0.1.0
description:
  - Adds addresses to an interface the collection does not own, such as C(eth0) (a second host address for a
    second forwarded service), like C(ip addr add 192.168.1.13/24 dev eth0).
  - Unlike the O(netfabric.netns.veth#module:addresses) of links the collection manages, this module never
    removes an address it was not given. O(state=present) adds what is listed, O(state=absent) removes exactly
    what is listed.
options:
  interface:
    description: Name of the interface. It must exist in O(netns).
    type: str
    required: true
  addresses:
    description: Addresses with prefix length, IPv4 or IPv6, e.g. C(192.168.1.13/24).
    type: list
    elements: str
    required: true
notes:
  - The address Ansible connects to is not removed unless O(force=true).
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.lock
  - netfabric.netns.common.netns
  - netfabric.netns.common.guard
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.veth
  - module: netfabric.netns.bridge
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: A second host address for the second app
  netfabric.netns.netns_address:
    interface: eth0
    addresses: [192.168.1.13/24]

- name: Remove it again
  netfabric.netns.netns_address:
    interface: eth0
    addresses: [192.168.1.13/24]
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: str
  sample: ["interface 'eth0' (host): add address 192.168.1.13/24"]
address:
  description: The interface's addresses after the run (in check mode, as they would be).
  returned: always
  type: dict
  contains:
    interface:
      description: Name of the interface.
      type: str
      returned: always
      sample: eth0
    netns:
      description: Its namespace (V(null) for the host).
      type: str
      returned: always
      sample: null
    addresses:
      description: All its addresses, not only the listed ones (IPv6 link-local left out).
      type: list
      elements: str
      returned: always
      sample: [192.168.1.12/24, 192.168.1.13/24]
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model import AddressSet


def main():
    run_module("netns_address", AddressSet, "address")


if __name__ == "__main__":
    main()
