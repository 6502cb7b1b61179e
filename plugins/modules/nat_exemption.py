#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nat_exemption
short_description: Never masquerade traffic to a network (e.g. other hosts' namespaces)
version_added: 0.2.0
description:
  - Traffic to O(destination) (optionally only from O(source)) is never rewritten by a masquerade of
    M(netfabric.netns.nat_masquerade), so the receiver sees the sender's own address. A routed fabric between hosts
    needs this - without it, a namespace on one host would reach a namespace on another host masqueraded as its
    host's address.
  - An accept in the collection's nftables C(postrouting) chain, evaluated before every masquerade (an accept ends
    the nat chain for that packet).
  - The identity of an exemption is (O(netns), O(source), O(destination)).
options:
  destination:
    description: The network, in CIDR notation, that traffic is sent to.
    type: str
    required: true
  source:
    description: Only traffic from this network. Omitted means from anywhere.
    type: str
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.lock
  - netfabric.netns.common.netns
  - netfabric.netns.common.nftables
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.nat_masquerade
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: The namespaces of host3 see the addresses of ours as they are
  netfabric.netns.nat_exemption:
    destination: 10.3.1.0/24
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: str
  sample: ['nftables table inet netfabric (host): add rule postrouting: ip daddr 10.3.1.0/24 accept comment "no_nat * > 10.3.1.0/24"']
nat_exemption:
  description: The exemption after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    destination:
      description: The network.
      type: str
      returned: always
      sample: 10.3.1.0/24
    source:
      description: The source network, or V(null).
      type: str
      returned: always
      sample: null
    netns:
      description: The namespace (V(null) for the host).
      type: str
      returned: always
      sample: null
    state:
      description: V(present) or V(absent).
      type: str
      returned: always
      sample: present
    rules:
      description: The rules it owns in table C(inet netfabric), each as its chain, a colon and the rule in nft syntax.
      type: list
      elements: str
      returned: always
      sample: ['postrouting: ip daddr 10.3.1.0/24 accept comment "no_nat * > 10.3.1.0/24"']
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model_rules import NatExemption


def main():
    run_module("nat_exemption", NatExemption, "nat_exemption")


if __name__ == "__main__":
    main()
