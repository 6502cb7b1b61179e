#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: port_forward
short_description: Forward a port of the host to a service inside a namespace (DNAT)
version_added: 0.2.0
description:
  - Rewrites the destination of connections to a port of the host (or of O(netns)) to O(destination), like
    C(iptables -t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 192.168.15.2:80), in nftables.
  - Only packets addressed to the host itself match (C(fib daddr type local)), or with O(host_address) only those
    sent to that address; traffic bridged between namespaces is never caught.
  - Works for connections from other machines (prerouting), from the host itself to its own address (output; never
    for C(127.0.0.0/8) or C(::1), which would need C(route_localnet), CVE-2020-8558), and from a namespace on the
    destination's own subnet through the host address (hairpin; that traffic is masqueraded, else the reply would
    bypass the host).
  - Accepts the forwarded connections (C(ct status dnat)) in the collection's forward chain, and with
    O(forwarding=true) turns routing on in O(netns).
  - The identity of a forward is (O(netns), O(protocol), O(host_address), O(port)); declaring it again with another
    O(destination), O(destination_port) or O(in_interface) replaces its rules. When a UDP forward is added,
    changed or removed, the conntrack entries of its ports are flushed, so that running flows follow it.
options:
  protocol:
    description: Transport protocol.
    type: str
    choices: [tcp, udp]
    default: tcp
  port:
    description:
      - The host's port, or an inclusive range as a string (C("8000-8010")), which maps onto the same ports of
        O(destination).
    type: str
    required: true
  destination:
    description: Address in the namespace to forward to, IPv4 or IPv6 (the family of the forward). Required with
      O(state=present).
    type: str
  destination_port:
    description: Port at O(destination). Defaults to O(port). Not allowed with a range unless it equals its start.
    type: int
  host_address:
    description:
      - Only forward connections sent to this address of the host, e.g. a second address on C(eth0) for a second
        app on the same port. Omitted means any address of the host (of the family of O(destination)).
    type: str
  in_interface:
    description:
      - Only forward connections arriving on this interface (C(iifname)). Connections from the host itself have no
        input interface, so they are not forwarded then.
    type: str
  forwarding:
    description:
      - Turn on forwarding in O(netns) (C(net.ipv4.ip_forward=1), or C(net.ipv6.conf.all.forwarding=1) for IPv6;
        for IPv6 C(accept_ra) is first set to 2 where it is 1 on the interfaces of the IPv6 default routes).
      - V(false) leaves the sysctls alone. What this option turned on is turned back off when the last forward or
        masquerade that needed it goes (see the notes).
    type: bool
    default: true
  force:
    description:
      - Forward the TCP port Ansible connects on (O(connection_port)) on the address Ansible connects to
        (O(connection_address); every address of the host when that is not an address of the host), which would
        cut the controller off. Without it the module refuses.
    type: bool
    default: false
  connection_port:
    description:
      - The port the controller connects on; filled in by the collection's action plugin (C(ansible_port), 22 for
        SSH), else taken from C(SSH_CONNECTION).
    type: int
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.netns
  - netfabric.netns.common.guard
  - netfabric.netns.common.lock
  - netfabric.netns.common.nftables
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.nat_masquerade
  - module: netfabric.netns.netns_address
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: The host's port 8080 reaches the web server in blue
  netfabric.netns.port_forward:
    port: 8080
    destination: 192.168.15.2
    destination_port: 80

- name: Two apps on port 80, one per host address
  netfabric.netns.port_forward:
    port: 80
    host_address: "{{ item.address }}"
    destination: "{{ item.app }}"
  loop:
    - {address: 192.168.1.12, app: 192.168.15.2}
    - {address: 192.168.1.13, app: 192.168.15.1}

- name: A UDP range, only from the uplink
  netfabric.netns.port_forward:
    protocol: udp
    port: "10000-10100"
    destination: 192.168.15.2
    in_interface: eth0

- name: IPv6
  netfabric.netns.port_forward:
    port: 8080
    host_address: "2001:db8::1"
    destination: "fd15::2"
    destination_port: 80

- name: Remove a forward (its identity is enough)
  netfabric.netns.port_forward:
    port: 8080
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
      nftables table inet netfabric (host): add rule prerouting: fib daddr type local meta nfproto ipv4
      tcp dport 8080 dnat ip to 192.168.15.2:80 comment "port_forward tcp * 8080"
port_forward:
  description: The forward after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    protocol:
      description: V(tcp) or V(udp).
      type: str
      returned: always
      sample: tcp
    port:
      description: The host's port or range.
      type: str
      returned: always
      sample: "8080"
    host_address:
      description: The host address it is limited to, or V(null).
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
    destination:
      description: Where connections go.
      type: str
      returned: when O(state=present)
      sample: 192.168.15.2
    destination_port:
      description: The port at the destination (the first of a range).
      type: int
      returned: when O(state=present)
      sample: 80
    in_interface:
      description: The input interface it is limited to, or V(null).
      type: str
      returned: when O(state=present)
      sample: null
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
      sample: ['prerouting: fib daddr type local meta nfproto ipv4 tcp dport 8080 dnat ip to 192.168.15.2:80 comment "port_forward tcp * 8080"']
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model_rules import PortForward


def main():
    run_module("port_forward", PortForward, "port_forward")


if __name__ == "__main__":
    main()
