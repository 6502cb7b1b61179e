#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: netns_probe
short_description: Check reachability from inside a network namespace
version_added: 0.2.0
description:
  - Sends ICMP echo requests, TCP connection attempts or UDP datagrams from inside a network namespace (or the
    host's own) to O(target) and reports whether the target answered and how fast.
  - Fails when the outcome is not the one O(expect) asks for, so a play can assert both connectivity and
    isolation (O(expect=failure)). The result keys are returned in that case too.
  - The module enters the namespace in-process with C(setns(2)) only to create its sockets (a socket keeps
    the namespace it was made in) and to resolve O(target). It never runs C(ping) or any other command, so no
    tools are needed inside the namespace or on the host.
  - A probe succeeds when at least one of its O(count) attempts succeeds; RV(successes) tells how many did.
    All attempts are made, one after the other, each waiting at most O(timeout) seconds, so a probe takes up
    to O(count) times O(timeout).
options:
  netns:
    description:
      - Name of the network namespace (under C(/run/netns)) the probe is sent from.
      - Omitted means the host's own network namespace.
      - The namespace must exist; it is never created. In check mode a missing namespace is assumed to be
        created by an earlier task; the module then warns and sends nothing.
    type: str
  target:
    description:
      - The address to probe, IPv4 or IPv6 (an IPv6 link-local address takes its interface as C(fe80::1%veth0)).
      - A host name is resolved inside the namespace (C(getaddrinfo), so C(/etc/hosts) and DNS); the first
        address is used. A name that cannot be resolved is an error whatever O(expect) says.
    type: str
    required: true
  port:
    description:
      - The TCP or UDP port to probe. Required with O(protocol=tcp) and O(protocol=udp); ignored (with a warning)
        for O(protocol=icmp).
    type: int
  protocol:
    description:
      - V(icmp) sends ICMP echo requests (ICMPv6 for an IPv6 target) from a raw socket, one per attempt, and
        waits for the matching echo reply; an ICMP error that quotes the request (for example host
        unreachable) ends the attempt early.
      - V(tcp) succeeds when a connection to O(port) is established (it is closed at once); a refused
        connection or no answer within O(timeout) is a failure.
      - V(udp) sends a small datagram to O(port) and succeeds when any reply comes back. A closed port (ICMP
        port unreachable) or no reply within O(timeout) is a failure, so UDP only succeeds against a service
        that answers (an echo or DNS server, for example).
    type: str
    choices: [icmp, tcp, udp]
    default: icmp
  expect:
    description:
      - V(success) fails the task when the target cannot be reached.
      - V(failure) fails the task when it can (for example to check that two networks are isolated).
    type: str
    choices: [success, failure]
    default: success
  timeout:
    description:
      - Seconds to wait for each attempt (more than 0, at most 3600). Fractions are allowed.
    type: float
    default: 1.0
  count:
    description:
      - Number of attempts (echo requests for ICMP, connections for TCP, datagrams for UDP), 1 to 1000.
      - The target is reachable when at least one attempt succeeds.
    type: int
    default: 1
requirements:
  - Linux, run as root (entering a namespace needs C(CAP_SYS_ADMIN), a raw ICMP socket C(CAP_NET_RAW)).
notes:
  - The probe is real traffic, also in check mode. It never changes anything, so C(changed) is always V(false).
  - In check mode a probe of an address that an earlier task of the same check run would create fails like
    in a real run, since nothing was created; use O(expect) with care there, or skip the task in check mode.
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Probes are sent in check mode too; they change nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
extends_documentation_fragment:
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.netns
  - module: netfabric.netns.veth
  - module: netfabric.netns.netns_info
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: Red reaches blue over the veth cable
  netfabric.netns.netns_probe:
    netns: red
    target: 192.168.15.2
  register: ping_blue

- name: Show the round trip time
  ansible.builtin.debug:
    msg: "{{ ping_blue.latency_ms }} ms from {{ ping_blue.source }}"

- name: The web server in blue answers on port 80, from red
  netfabric.netns.netns_probe:
    netns: red
    target: 192.168.15.2
    protocol: tcp
    port: 80
    timeout: 2

- name: The DNS server in blue answers UDP queries (at least one of three datagrams gets a reply)
  netfabric.netns.netns_probe:
    netns: red
    target: 192.168.15.2
    protocol: udp
    port: 53
    count: 3

- name: Isolation - the database network cannot reach the web network
  netfabric.netns.netns_probe:
    netns: db
    target: 10.1.10.2
    expect: failure
    timeout: 0.5

- name: IPv6 from the host's own namespace
  netfabric.netns.netns_probe:
    target: fd15::2
    count: 3
"""

RETURN = r"""
reachable:
  description: Whether at least one attempt succeeded. V(null) when nothing was sent (check mode, missing namespace).
  returned: always
  type: bool
  sample: true
latency_ms:
  description:
    - The time of the fastest successful attempt in milliseconds (echo request to reply, TCP connection set-up,
      UDP datagram to reply). V(null) when no attempt succeeded.
  returned: always
  type: float
  sample: 0.042
attempts:
  description: Number of attempts made.
  returned: always
  type: int
  sample: 1
successes:
  description: Number of attempts that succeeded.
  returned: always
  type: int
  sample: 1
source:
  description:
    - The local address the probe was sent from (C(getsockname) of the probing socket, else the address the
      kernel's route lookup picks). V(null) when there is no route to the target.
  returned: always
  type: str
  sample: 192.168.15.1
address:
  description: The address probed, O(target) itself or what a host name resolved to.
  returned: always
  type: str
  sample: 192.168.15.2
failures:
  description: Why each failed attempt failed, in order (for example C(timed out after 1 s) or C(connection refused)).
  returned: always
  type: list
  elements: str
  sample: ["timed out after 1 s"]
msg:
  description: What happened, naming the namespace, protocol, target and port.
  returned: always
  type: str
  sample: "icmp to 192.168.15.2 from netns 'red': reachable: 1 of 1 attempts succeeded, fastest 0.042 ms"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError
from ansible_collections.netfabric.netns.plugins.module_utils.probe import Netns, describe, run_probe, validate
from ansible_collections.netfabric.netns.plugins.module_utils.specs import module_args


def main():
    module = AnsibleModule(**module_args("netns_probe"))
    empty = {"reachable": None, "latency_ms": None, "attempts": 0, "successes": 0, "source": None,
             "address": None, "failures": []}
    try:
        spec = validate(module.params)
    except NetfabricError as exc:
        module.fail_json(msg=exc.msg, changed=False, **empty)
    if spec["protocol"] == "icmp" and spec["port"] is not None:
        module.warn(f"port {spec['port']} is ignored with protocol icmp")
    if module.check_mode and not Netns.exists(spec["netns"]):
        module.warn(f"netns: namespace '{spec['netns']}' does not exist; assuming an earlier task creates it, "
                    "the probe was not sent (check mode)")
        module.exit_json(changed=False, msg=f"{describe(spec)} from netns '{spec['netns']}': not sent, "
                                            "the namespace does not exist yet (check mode)", **empty)
    try:
        result = run_probe(spec)
    except NetfabricError as exc:
        module.fail_json(msg=exc.msg, changed=False, **empty)
    if not result.pop("ok"):
        module.fail_json(changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
