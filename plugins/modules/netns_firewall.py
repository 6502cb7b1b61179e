#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: netns_firewall
short_description: Allow or drop forwarded traffic between networks (isolation policies)
version_added: 0.2.0
description:
  - One rule in the forward chain of the collection's nftables table, matching forwarded traffic by O(source),
    O(destination), O(protocol) and O(port), with the verdict O(action); like
    C(iptables -A FORWARD -s 10.1.10.0/24 -d 10.1.20.0/24 -p tcp --dport 5432 -j ACCEPT).
  - Rules are kept in a fixed order so that explicit accepts are evaluated before drops, whatever order the tasks
    run in, followed by the drops of bridges with O(netfabric.netns.bridge#module:isolate_subnet=true). Replies to
    accepted connections are accepted (C(ct state established,related)) before all of them.
  - The identity of a policy is all its match fields (O(netns), O(source), O(destination), O(protocol), O(port));
    declaring it again with another O(action) replaces its rule.
  - The chain's policy is accept; a drop policy for a whole subnet is what
    O(netfabric.netns.bridge#module:isolate_subnet) is for.
options:
  source:
    description: Source network in CIDR notation (a single address as C(/32) or C(/128)). Omitted matches any source.
    type: str
  destination:
    description: Destination network in CIDR notation. Omitted matches any destination.
    type: str
  protocol:
    description:
      - V(tcp), V(udp) or V(icmp) (ICMPv6 for IPv6 networks). Omitted matches any protocol.
    type: str
    choices: [tcp, udp, icmp]
  port:
    description: Destination port, or an inclusive range as a string (C("5000-5010")). Needs O(protocol) tcp or udp.
    type: str
  action:
    description: What happens to matching traffic.
    type: str
    choices: [accept, drop]
    default: accept
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.lock
  - netfabric.netns.common.netns
  - netfabric.netns.common.nftables
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.bridge
  - module: netfabric.netns.netns_topology
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: The web network may reach the database port in the back-end network
  netfabric.netns.netns_firewall:
    source: 10.1.10.0/24
    destination: 10.1.20.0/24
    protocol: tcp
    port: 5432

- name: Nothing else from the web network to the log server
  netfabric.netns.netns_firewall:
    source: 10.1.10.0/24
    destination: 10.1.20.100/32
    action: drop

- name: Inside a router namespace
  netfabric.netns.netns_firewall:
    netns: router
    source: 10.2.10.0/24
    destination: 10.2.20.0/24
    protocol: icmp

- name: Remove a policy (its match fields are its identity)
  netfabric.netns.netns_firewall:
    source: 10.1.10.0/24
    destination: 10.1.20.0/24
    protocol: tcp
    port: 5432
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: str
  sample:
    - >-
      nftables table inet netfabric (host): add rule forward: ip saddr 10.1.10.0/24 ip daddr 10.1.20.0/24
      tcp dport 5432 accept comment "policy 10.1.10.0/24 > 10.1.20.0/24 tcp 5432"
policy:
  description: The policy after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    source:
      description: Source network, or V(null) for any.
      type: str
      returned: always
      sample: 10.1.10.0/24
    destination:
      description: Destination network, or V(null) for any.
      type: str
      returned: always
      sample: 10.1.20.0/24
    protocol:
      description: Protocol, or V(null) for any.
      type: str
      returned: always
      sample: tcp
    port:
      description: Port or range, or V(null).
      type: str
      returned: always
      sample: "5432"
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
    action:
      description: V(accept) or V(drop).
      type: str
      returned: when O(state=present)
      sample: accept
    rules:
      description: The rules it owns in table C(inet netfabric), each as its chain, a colon and the rule in nft syntax.
      type: list
      elements: str
      returned: always
      sample: ['forward: ip saddr 10.1.10.0/24 ip daddr 10.1.20.0/24 tcp dport 5432 accept comment "policy 10.1.10.0/24 > 10.1.20.0/24 tcp 5432"']
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model_rules import Policy


def main():
    run_module("netns_firewall", Policy, "policy")


if __name__ == "__main__":
    main()
