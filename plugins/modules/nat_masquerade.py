#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nat_masquerade
short_description: Let a subnet of namespaces reach the outside world through source NAT
version_added: 0.2.0
description:
  - Rewrites the source address of traffic from O(source) that leaves the host (or O(netns)) to the address of the
    outgoing interface, like C(iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE), in nftables.
  - Traffic that stays inside O(source) is never rewritten (C(ip daddr != <source>)), so namespaces on one bridge keep
    seeing each other's own addresses, also with bridge netfilter on (Docker hosts, and kernels where it is built in).
  - Accepts the forwarded traffic from O(source) and the replies (C(ct state established,related)) in the
    collection's forward chain, and with O(forwarding=true) turns routing on in O(netns).
  - The identity of a masquerade is (O(netns), O(source), O(out_interface)).
options:
  source:
    description: The subnet to masquerade, in CIDR notation, IPv4 or IPv6, e.g. C(192.168.15.0/24).
    type: str
    required: true
  out_interface:
    description:
      - Only masquerade traffic that leaves through this interface (C(oifname)), e.g. the uplink C(eth0).
      - Omitted masquerades whatever the outgoing interface is (except traffic that stays inside O(source)).
    type: str
  forwarding:
    description:
      - Turn on forwarding in O(netns) (C(net.ipv4.ip_forward=1), or C(net.ipv6.conf.all.forwarding=1) for an IPv6
        O(source)); without it nothing is routed.
      - For IPv6, C(accept_ra) is first set to 2 on O(out_interface), or on the interfaces of the IPv6 default routes,
        where it is 1, so that the host keeps accepting router advertisements (and its SLAAC default route).
      - V(false) leaves the sysctls alone. O(state=absent) never turns forwarding off.
    type: bool
    default: true
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.lock
  - netfabric.netns.common.netns
  - netfabric.netns.common.nftables
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.port_forward
  - module: netfabric.netns.bridge
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: Namespaces on v-net-0 reach the outside world through the host
  netfabric.netns.nat_masquerade:
    source: 192.168.15.0/24

- name: Only towards the uplink, and for IPv6 too
  netfabric.netns.nat_masquerade:
    source: "{{ item }}"
    out_interface: eth0
  loop: [192.168.15.0/24, "fd15::/64"]

- name: Inside a router namespace, leaving its sysctls alone
  netfabric.netns.nat_masquerade:
    netns: router
    source: 10.1.10.0/24
    forwarding: false

- name: Remove the masquerade (forwarding stays on)
  netfabric.netns.nat_masquerade:
    source: 192.168.15.0/24
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order (rules added or removed, sysctls set).
  returned: always
  type: list
  elements: str
  sample:
    - >-
      nftables table inet netfabric (host): add rule forward: ct state established,related accept
      comment "helper established"
    - >-
      nftables table inet netfabric (host): add rule postrouting: ip saddr 192.168.15.0/24
      ip daddr != 192.168.15.0/24 masquerade comment "masquerade 192.168.15.0/24 out *"
    - "the host namespace: set net.ipv4.ip_forward=1"
masquerade:
  description: The masquerade after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    source:
      description: The subnet, normalised.
      type: str
      returned: always
      sample: 192.168.15.0/24
    out_interface:
      description: The outgoing interface it is limited to, or V(null).
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
    forwarding:
      description: Whether the module manages forwarding (O(forwarding)).
      type: bool
      returned: when O(state=present)
      sample: true
    rules:
      description: The rules it owns in table C(inet netfabric), each as its chain, a colon and the rule in nft syntax.
      type: list
      elements: str
      returned: always
      sample: ['postrouting: ip saddr 192.168.15.0/24 ip daddr != 192.168.15.0/24 masquerade comment "masquerade 192.168.15.0/24 out *"']
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model_rules import Masquerade


def main():
    run_module("nat_masquerade", Masquerade, "masquerade")


if __name__ == "__main__":
    main()
