#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: netns
short_description: Manage named network namespaces
version_added: 0.1.0
description:
  - Creates or removes a named network namespace under C(/run/netns), like C(ip netns add) and C(ip netns del),
    in the module's own process (no helper process, no C(ip) command).
  - Optionally brings the loopback interface up, turns on IP forwarding inside the namespace and sets other
    C(net.*) sysctls of the namespace.
  - Names are matched exactly; a namespace is never created by accident by another module.
options:
  name:
    description:
      - Name of the namespace. It may not contain C(/) and may not be C(.) or C(..).
    type: str
    required: true
  loopback:
    description:
      - Bring the namespace's C(lo) up (V(true)) or down (V(false)). A new namespace starts with C(lo) down.
    type: bool
    default: true
  forwarding:
    description:
      - Set C(net.ipv4.ip_forward) and C(net.ipv6.conf.all.forwarding) inside the namespace, so it routes
        between its interfaces (a router namespace).
      - Omitted leaves both as they are.
    type: bool
  sysctls:
    description:
      - Other C(net.*) sysctls of the namespace, for example C(net.ipv4.conf.all.rp_filter). Values are
        compared as text, booleans become C(1) and C(0).
      - Written after O(forwarding), because writing C(net.ipv4.ip_forward) resets every C(conf.*.forwarding).
      - An interface name with a dot is written as C(sysctl) writes it, with C(/) in place of that dot
        (C(net.ipv4.conf.eth0/10.rp_filter)), or the whole key with C(/) as separator
        (C(net/ipv4/conf/eth0.10/rp_filter)).
      - A sysctl that does not exist in the namespace is an error, found before anything changes.
    type: dict
  dns:
    description:
      - The namespace's own resolver configuration, written to C(/etc/netns/<name>/resolv.conf). C(ip netns exec)
        shows that file to the commands it runs as C(/etc/resolv.conf), and so do the services of
        M(netfabric.netns.netns_service).
      - Omitted leaves the file alone. When all three lists are empty the file is removed (if this collection wrote
        it), and the namespace uses the host's C(/etc/resolv.conf) again.
    type: dict
    suboptions:
      nameservers:
        description: Addresses of the name servers, in order (at most 3, as the resolver uses no more).
        type: list
        elements: str
        default: []
      search:
        description: Search domains, in order.
        type: list
        elements: str
        default: []
      options:
        description: Resolver options, e.g. C(ndots:2), C(timeout:1), C(edns0).
        type: list
        elements: str
        default: []
  hosts:
    description:
      - The namespace's own hosts file, C(/etc/netns/<name>/hosts) - a dictionary of host name to address. It stands
        in for the whole C(/etc/hosts) (in C(ip netns exec) and for M(netfabric.netns.netns_service)), so it starts
        with the C(localhost) entries.
      - Omitted leaves the file alone; V({}) removes it (if this collection wrote it).
    type: dict
notes:
  - With O(state=absent) the name is removed like C(ip netns del) even while processes still run inside;
    the module warns with their PIDs. The namespace itself lives on until they exit. The files of O(dns) and
    O(hosts) go too (also when the namespace is already gone, e.g. after a reboot); a file in C(/etc/netns/<name>/)
    that this collection did not write (it has no C(# Written by netfabric.netns) first line) is never removed.
  - A plain file in C(/run/netns) (left by a run killed between creating the file and mounting the namespace on
    it, which C(ip netns add) can leave too) is not a namespace; O(state=present) replaces it,
    O(state=absent) removes it.
  - A namespace the module creates has the alias C(netfabric.netns) on its C(lo), and a topology's teardown deletes
    only namespaces that carry it or that its state file records as made.
extends_documentation_fragment:
  - netfabric.netns.common
  - netfabric.netns.common.lock
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.veth
  - module: netfabric.netns.netns_info
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: Create the namespaces red and blue
  netfabric.netns.netns:
    name: "{{ item }}"
  loop: [red, blue]

- name: A router namespace that forwards between its interfaces
  netfabric.netns.netns:
    name: router
    forwarding: true
    sysctls:
      net.ipv4.conf.all.rp_filter: 0

- name: Blue with its own name servers and host names (ip netns exec blue sees them as /etc/resolv.conf and /etc/hosts)
  netfabric.netns.netns:
    name: blue
    dns:
      nameservers: [192.168.15.1]
      search: [lab.test]
    hosts:
      db.lab.test: 192.168.15.1

- name: Remove the namespace blue
  netfabric.netns.netns:
    name: blue
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: str
  sample: ["namespace 'red': create", "namespace 'red': set loopback up"]
netns:
  description: The namespace after the run (in check mode, as it would be).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the namespace.
      type: str
      returned: always
      sample: red
    state:
      description: V(present) or V(absent).
      type: str
      returned: always
      sample: present
    loopback:
      description: Whether C(lo) is up, when O(loopback) is managed.
      type: bool
      returned: when present
      sample: true
    sysctls:
      description: The managed sysctls and their values.
      type: dict
      returned: when O(forwarding) or O(sysctls) is set
      sample: {"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1"}
    resolv_conf:
      description: The text of C(/etc/netns/<name>/resolv.conf) (V(null) - no such file).
      type: str
      returned: when O(dns) is set, or with O(state=absent) when the file existed
      sample: "# Written by netfabric.netns ...\nsearch lab.test\nnameserver 192.168.15.1\n"
    hosts:
      description: The text of C(/etc/netns/<name>/hosts) (V(null) - no such file).
      type: str
      returned: when O(hosts) is set, or with O(state=absent) when the file existed
      sample: "# Written by netfabric.netns ...\n127.0.0.1\tlocalhost\n...\n192.168.15.1\tdb.lab.test\n"
"""


from ansible_collections.netfabric.netns.plugins.module_utils.common import run_module
from ansible_collections.netfabric.netns.plugins.module_utils.model import Namespace


def main():
    run_module("netns", Namespace, "netns")


if __name__ == "__main__":
    main()
