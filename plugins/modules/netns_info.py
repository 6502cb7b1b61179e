#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: netns_info
short_description: Gather facts about network namespaces, their links and routes
version_added: 0.1.0
description:
  - Lists the named namespaces and, for the host and each namespace (or only O(netns)), its links (kind, veth
    peer and the peer's namespace, bridge, addresses, MTU, state) and its routes, read through netlink, and the
    nftables rules the collection owns there (masquerades and port forwards).
  - Returns a picture of it too, RV(diagram), in Mermaid; the filters P(netfabric.netns.to_mermaid#filter) and
    P(netfabric.netns.to_dot#filter) draw registered results, of one host or of a whole group.
options:
  netns:
    description:
      - Only report this namespace. Omitted reports the host's own namespace and every named namespace.
      - A namespace that does not exist is reported in RV(namespaces) only by its absence; it is not an error.
    type: str
requirements:
  - Linux, run as root.
  - pyroute2 >= 0.9 on the managed host.
  - nftables to report rules (optional).
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; it behaves the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
extends_documentation_fragment:
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.netns
  - plugin: netfabric.netns.to_mermaid
    plugin_type: filter
  - plugin: netfabric.netns.to_dot
    plugin_type: filter
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: Everything
  netfabric.netns.netns_info:
  register: info

- name: Red's links
  ansible.builtin.debug:
    msg: "{{ info.netns.red.links | map(attribute='name') }}"

- name: Only blue
  netfabric.netns.netns_info:
    netns: blue
  register: blue

- name: The host's picture, for a Markdown page on the controller
  ansible.builtin.copy:
    content: "```mermaid\n{{ info.diagram }}```\n"
    dest: "/tmp/{{ inventory_hostname }}-network.md"
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
namespaces:
  description: Names of all named namespaces (under C(/run/netns)), sorted.
  returned: always
  type: list
  elements: str
  sample: [blue, red]
topologies:
  description:
    - The topologies recorded on the host (C(/var/lib/netfabric/topology-<name>.json)), by name.
  returned: always
  type: dict
  sample: {"fabric": {"state_file": "/var/lib/netfabric/topology-fabric.json", "resources": 4,
           "annotations": {"peers": {}}}}
  contains:
    state_file:
      description: Where the record is kept.
      type: str
    resources:
      description: How many resources it records.
      type: int
    annotations:
      description: What the topology's caller keeps with it (O(netfabric.netns.netns_topology#module:annotations)).
      type: dict
host:
  description: The host's own namespace, with the same keys as each entry of RV(netns). V(null) with O(netns).
  returned: always
  type: dict
  sample: {"links": [], "routes": []}
netns:
  description: Per namespace name, its links and routes.
  returned: always
  type: dict
  sample:
    red:
      links:
        - name: veth-red
          index: 2
          kind: veth
          peer: veth-red-br
          peer_netns: null
          master: null
          mtu: 1500
          state: up
          addresses: [192.168.15.1/24]
      routes:
        - dst: default
          family: 4
          gateway: 192.168.15.5
          dev: veth-red
          metric: 0
          table: 254
  contains:
    links:
      description: The namespace's links, by index.
      type: list
      elements: dict
      returned: always
      contains:
        name:
          description: Interface name.
          type: str
          returned: always
        index:
          description: Interface index in its namespace.
          type: int
          returned: always
        kind:
          description: Link kind (C(veth), C(bridge), ...), V(null) for plain devices such as C(lo).
          type: str
          returned: always
        master:
          description: Bridge the link is attached to.
          type: str
          returned: always
        mtu:
          description: MTU.
          type: int
          returned: always
        state:
          description: Administrative state, V(up) or V(down).
          type: str
          returned: always
        addresses:
          description: Addresses with prefix length (IPv6 link-local left out).
          type: list
          elements: str
          returned: always
        peer:
          description: Name of the veth's other end.
          type: str
          returned: for veth links
        peer_netns:
          description: Namespace of the other end; V(null) for the host (or unknown when RV(netns.links.peer) is V(null)).
          type: str
          returned: for veth links
        stp:
          description: Whether STP is on.
          type: bool
          returned: for bridges
        vlan_filtering:
          description: Whether VLAN filtering is on.
          type: bool
          returned: for bridges
        hairpin:
          description: Hairpin mode of a bridge port.
          type: bool
          returned: for bridge ports
        isolated:
          description: Port isolation of a bridge port.
          type: bool
          returned: for bridge ports
        vni:
          description: The VXLAN network identifier.
          type: int
          returned: for vxlan links
        local:
          description: The vxlan's local (source) address, V(null) when not set.
          type: str
          returned: for vxlan links
        dstport:
          description: The vxlan's UDP port.
          type: int
          returned: for vxlan links
        remotes:
          description: The vxlan's unicast peers (destinations of its all-zero forwarding entries), sorted.
          type: list
          elements: str
          returned: for vxlan links
        parent:
          description: The interface a macvlan or ipvlan sits on; V(null) when it is in a namespace not reported.
          type: str
          returned: for macvlan and ipvlan links
        parent_netns:
          description: The namespace of RV(netns.links.parent), V(null) for the host.
          type: str
          returned: for macvlan and ipvlan links
        mode:
          description: The mode of a macvlan (V(bridge), V(vepa), V(private), V(passthru), V(source)) or of an ipvlan
            (V(l2), V(l3), V(l3s)).
          type: str
          returned: for macvlan and ipvlan links
          sample: bridge
        flags:
          description: An ipvlan's flags, V(bridge), V(private) or V(vepa).
          type: str
          returned: for ipvlan links
        mac:
          description: The link's MAC address (an ipvlan's is its parent's).
          type: str
          returned: for macvlan and ipvlan links
          sample: 02:00:0a:00:00:32
    routes:
      description: Unicast routes of every table but C(local).
      type: list
      elements: dict
      returned: always
      contains:
        dst:
          description: Destination, V(default) for a default route.
          type: str
          returned: always
        family:
          description: 4 or 6.
          type: int
          returned: always
        gateway:
          description: Next hop.
          type: str
          returned: always
        dev:
          description: Outgoing interface.
          type: str
          returned: always
        metric:
          description: Priority.
          type: int
          returned: always
        table:
          description: Table number.
          type: int
          returned: always
    rules:
      description:
        - The rules the collection owns in this namespace's nftables table C(inet netfabric) (masquerades, port
          forwards and their shared helpers), in table order. Empty when there are none or nftables is not installed.
      type: list
      elements: dict
      returned: always
      contains:
        owner:
          description: The identity of the resource that owns the rule (its comment), e.g. C(port_forward tcp * 8080).
          type: str
          returned: always
        chain:
          description: C(prerouting), C(output), C(forward) or C(postrouting).
          type: str
          returned: always
        rule:
          description: The rule in nft syntax.
          type: str
          returned: always
diagram:
  description:
    - What is reported, as a Mermaid flowchart (renders as a picture in a C(mermaid) code block on GitHub, GitLab and
      many wikis). Namespaces are boxes, interfaces are nodes with their addresses (the loopback left out, links
      that are down dashed), bridges are hexagons (switches), veth cables and bridge ports are lines, vxlans are
      joined to their remotes and macvlans or ipvlans to their parent by dotted lines, masquerades are arrows from
      the subnet to the uplink and port forwards arrows from the uplink to the destination.
    - With O(netns), only that namespace.
    - The filters P(netfabric.netns.to_mermaid#filter) and P(netfabric.netns.to_dot#filter) draw the same from a
      registered result, or several hosts' results in one picture.
  returned: always
  type: str
  sample: |-
    flowchart LR
      subgraph g__r["host namespace"]
        i__r__v_2dnet_2d0{{"v-net-0<br>192.168.15.5/24"}}:::bridge
        i__r__veth_2dred_2dbr["veth-red-br"]:::interface
      end
      subgraph g__nred["red"]
        i__nred__veth_2dred["veth-red<br>192.168.15.1/24"]:::interface
      end
      i__r__veth_2dred_2dbr --- i__nred__veth_2dred
      i__r__veth_2dred_2dbr === i__r__v_2dnet_2d0
      classDef bridge fill:#dbeafe,stroke:#1e40af
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.netns.plugins.module_utils.common import require_pyroute2
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.specs import module_args
from ansible_collections.netfabric.netns.plugins.module_utils.checks import check_netns_name


def main():
    module = AnsibleModule(**module_args("netns_info"))
    require_pyroute2(module)
    from ansible_collections.netfabric.netns.plugins.module_utils.engine import describe

    try:
        name = check_netns_name("netns", module.params["netns"])
    except ValidationError as exc:
        module.fail_json(msg=exc.msg)
    facts = describe(name)
    for warning in facts.pop("warnings"):
        module.warn(warning)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
