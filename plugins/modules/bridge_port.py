#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bridge_port
short_description: Attach an interface to a Linux bridge
version_added: 0.1.0
description:
  - Enslaves an existing interface to a bridge in the same namespace, like C(ip link set veth-red-br master v-net-0),
    and optionally sets the port's hairpin mode and isolation.
  - O(state=absent) releases the port from the bridge (C(nomaster)); it does not delete the interface.
options:
  bridge:
    description: Name of the bridge. It must exist in O(netns).
    type: str
    required: true
  port:
    description: Name of the interface to attach. It must exist in O(netns).
    type: str
    required: true
  hairpin:
    description:
      - Hairpin mode (C(IFLA_BRPORT_MODE)), which lets frames go back out of the port they came in on.
      - Omitted leaves it unmanaged.
    type: bool
  isolated:
    description:
      - The kernel's port isolation (C(IFLA_BRPORT_ISOLATED)); isolated ports cannot talk to each other,
        only to non-isolated ports. Not the same as the firewall isolation between networks.
      - Omitted leaves it unmanaged.
    type: bool
notes:
  - An interface attached to another bridge is moved to O(bridge).
  - The interface that carries the Ansible connection address is not enslaved unless O(force=true).
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.lock
  - netfabric.netns.common.netns
  - netfabric.netns.common.guard
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.bridge
  - module: netfabric.netns.veth
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: Plug the host end of red's cable into v-net-0
  netfabric.netns.bridge_port:
    bridge: v-net-0
    port: veth-red-br

- name: Isolated port with hairpin mode
  netfabric.netns.bridge_port:
    bridge: v-net-0
    port: veth-blue-br
    hairpin: true
    isolated: true

- name: Unplug it (the interface stays)
  netfabric.netns.bridge_port:
    bridge: v-net-0
    port: veth-blue-br
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: str
  sample: ["bridge 'v-net-0' (host): enslave 'veth-red-br'"]
bridge_port:
  description: The port after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    bridge:
      description: Name of the bridge.
      type: str
      returned: always
      sample: v-net-0
    port:
      description: Name of the port.
      type: str
      returned: always
      sample: veth-red-br
    netns:
      description: Their namespace (V(null) for the host).
      type: str
      returned: always
      sample: null
    state:
      description: V(present) when the port is attached to the bridge, else V(absent).
      type: str
      returned: always
      sample: present
    hairpin:
      description: Hairpin mode of the port.
      type: bool
      returned: when present
      sample: false
    isolated:
      description: Port isolation.
      type: bool
      returned: when present
      sample: false
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model import BridgePort


def main():
    run_module("bridge_port", BridgePort, "bridge_port")


if __name__ == "__main__":
    main()
