#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: netns_topology
short_description: Converge a whole host topology of namespaces, links, NAT and policies in one call
version_added: 0.2.0
description:
  - Takes the description of a host's whole namespace network (O(topology)) and makes the host match it in one run,
    reading the kernel once, planning every resource and applying the plan in dependency order (namespaces,
    bridges, vxlans, veths, macvlans, ipvlans, addresses, routes, NAT exemptions, masquerades, port forwards, policies, then the top-level
    C(forwarding) of O(topology)).
  - Each list item takes exactly the options of the matching module (M(netfabric.netns.netns),
    M(netfabric.netns.bridge), M(netfabric.netns.veth), M(netfabric.netns.netns_address),
    M(netfabric.netns.netns_route), M(netfabric.netns.nat_masquerade), M(netfabric.netns.port_forward),
    M(netfabric.netns.netns_firewall)) and behaves the same way.
  - The whole topology is validated before anything changes, with messages that carry the item's path
    (C(veths[3].peer_netns)); duplicate names, references to namespaces that are neither declared nor existing,
    an address declared twice in one namespace, a gateway on no connected subnet and two port forwards on the same
    host address and port are all refused.
  - RV(actions) is the ordered plan; check mode returns the same list and changes nothing.
  - RV(diagram) draws the host as the run leaves it (as it would in check mode), so a change can be reviewed as a
    picture before it is applied.
  - What the topology made is recorded in C(/var/lib/netfabric/topology-<name>.json), so that O(prune) and
    O(state=absent) remove what it made, and nothing else.
  - When the kernel refuses a step midway, the namespaces and links this run created are removed again and the
    error names the step, the steps done and what was rolled back. Addresses, routes, sysctls and rules set before
    the failure stay; the state file keeps them, so the next run (or O(state=absent)) converges from there.
  - With O(persist=true) the topology survives a reboot and a reload of the firewall, without Ansible; see
    O(persist).
options:
  topology:
    description:
      - The topology. Lists of the matching modules' options - C(namespaces) (M(netfabric.netns.netns)),
        C(bridges) (M(netfabric.netns.bridge)), C(vxlans) (M(netfabric.netns.vxlan)), C(veths)
        (M(netfabric.netns.veth)), C(macvlans) (M(netfabric.netns.macvlan)), C(ipvlans) (M(netfabric.netns.ipvlan)),
        C(addresses) (M(netfabric.netns.netns_address)), C(routes)
        (M(netfabric.netns.netns_route)), C(nat_exemptions) (M(netfabric.netns.nat_exemption)), C(masquerade)
        (M(netfabric.netns.nat_masquerade)), C(port_forwards) (M(netfabric.netns.port_forward)), C(policies)
        (M(netfabric.netns.netns_firewall)) - planned in that order, and C(forwarding) (bool; turns routing on in the
        host namespace, for IPv6 too when the topology has IPv6 addresses).
      - C(docker) and C(firewalld) (V(auto), the default, or V(off)) are the defaults of the options of the same name of
        its bridges, veths and vxlans - whether their forwarded traffic is opened in Docker's C(DOCKER-USER) chain
        and firewalld's C(trusted) zone (see M(netfabric.netns.bridge)); an item's own value wins.
    type: dict
    default: {}
  name:
    description:
      - The topology's name. It keys the state file, so several topologies can share one host.
    type: str
    default: default
  prune:
    description:
      - Remove what an earlier run of this topology (by O(name)) created and this one no longer declares. Without
        it, such resources are left in place and stay recorded, so a later prune still finds them.
      - Resources that this topology never declared are never touched.
    type: bool
    default: false
  state:
    description:
      - V(present) converges the topology; V(absent) removes what it declares and what its state file records, in
        reverse dependency order, then the state file.
      - List items may carry their own O(state=absent) to remove one resource while the rest stays.
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - The default of C(force) for the items whose module has that option (veths, bridges, addresses, routes, port
        forwards, vxlans, macvlans, ipvlans); an item's own C(force) wins. See the module of each kind for what it overrides.
    type: bool
    default: false
  persist:
    description:
      - Make the topology come back after a reboot, and its rules after C(nftables.service) reloads, without Ansible.
      - V(true) stores O(topology) as given in C(/etc/netfabric/topology-<name>.json) (mode 0600, written
        atomically) after it converged, and makes sure the host has what re-applies it - the engine files of this
        collection version with a small entry point in C(/var/lib/netfabric/engine/<version>-<hash>/), run by the
        Python that runs this module (it has pyroute2); the unit C(/etc/systemd/system/netfabric-restore.service),
        enabled, which converges every stored topology at boot after C(network.target) and the firewall services and
        before C(network-online.target); and the drop-in C(/etc/systemd/system/nftables.service.d/netfabric.conf),
        which converges them again after C(nftables.service) starts, restarts or reloads (Debian's
        C(/etc/nftables.conf) begins with C(flush ruleset)).
      - V(false) (and O(state=absent)) forgets the stored topology, if there is one; what runs now is left as it is.
        The unit, the drop-in and the engine go with the last stored topology of the host.
      - The restore converges like a module run with O(state=present) and no O(prune), so it never removes anything.
        Its output is in the journal (C(journalctl -u netfabric-restore -u nftables)).
      - The role C(netfabric.netns.topology) persists by default.
    type: bool
    default: false
  annotations:
    description:
      - Free-form data kept in the topology's state file with the record of what it made, and returned by
        M(netfabric.netns.netns_info) in RV(netfabric.netns.netns_info#module:topologies). The C(fabric) role keeps
        the facts of its peers there, for runs in which some peers have no facts (C(--limit)).
      - Omitted keeps what is recorded; a change is reported as changed (the action "record its annotations").
        O(state=absent) removes them with the state file.
    type: dict
  connection_port:
    description: The port the controller connects on, filled in by the action plugin; never forwarded away.
    type: int
requirements:
  - Linux, run as root.
  - pyroute2 >= 0.9 on the managed host.
  - nftables on the managed host when the topology has masquerades, port forwards, policies or isolated bridges.
notes:
  - Named namespaces live in C(/run/netns), a tmpfs, and the rules in the nftables table C(inet netfabric); without
    O(persist=true) a reboot, or a restart of Debian's C(nftables.service), loses them until the play runs again.
  - O(persist=true) needs systemd on the host for the restore to run; the files are written on any host, and
    C(systemctl daemon-reload) runs when systemd is the init system.
  - Runs on one host are serialised by the lock C(/var/lib/netfabric/lock) (see O(lock_timeout)).
  - The state file records what the topology may have made before anything is changed, and again when the run
    ends, so a run killed at any moment (Ctrl-C, SIGKILL, OOM) leaves a record from which a re-run or
    O(state=absent) converges. A damaged state file is an error naming the file; O(state=absent) then removes
    what it can still read, with a warning.
  - Ownership. Links the collection creates carry the interface alias C(netfabric.netns) (a namespace, on its
    C(lo)). O(state=absent) and O(prune) delete only those; a bridge or namespace that existed before is left in
    place (its declared addresses are removed). A resource recorded by another topology on the host is refused,
    naming that topology; its teardown leaves it to that topology.
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Check mode computes the same action list as the real run, also on an empty host, and writes nothing.
extends_documentation_fragment:
  - netfabric.netns.common.guard
  - netfabric.netns.common.lock
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.netns_info
  - module: netfabric.netns.netns_probe
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: The bridge walkthrough with NAT and a port forward
  netfabric.netns.netns_topology:
    name: walkthrough
    topology:
      namespaces: [{name: red}, {name: blue}]
      bridges: [{name: v-net-0, addresses: [192.168.15.5/24]}]
      veths:
        - {name: veth-red, netns: red, addresses: [192.168.15.1/24], peer: veth-red-br, peer_bridge: v-net-0}
        - {name: veth-blue, netns: blue, addresses: [192.168.15.2/24], peer: veth-blue-br, peer_bridge: v-net-0}
      routes:
        - {netns: red, dst: default, gateway: 192.168.15.5}
        - {netns: blue, dst: default, gateway: 192.168.15.5}
      masquerade: [{source: 192.168.15.0/24}]
      port_forwards: [{port: 80, destination: 192.168.15.2}]

- name: Two networks behind the host as a router, the back end reachable only on the database port
  netfabric.netns.netns_topology:
    name: apps
    prune: true
    topology:
      forwarding: true
      namespaces: [{name: web}, {name: db}]
      bridges:
        - {name: br-web, addresses: [10.1.10.1/24]}
        - {name: br-back, addresses: [10.1.20.1/24], isolate_subnet: true}
      veths:
        - {name: eth0, netns: web, addresses: [10.1.10.10/24], peer: veth-web, peer_bridge: br-web}
        - {name: eth0, netns: db, addresses: [10.1.20.10/24], peer: veth-db, peer_bridge: br-back}
      routes:
        - {netns: web, dst: default, gateway: 10.1.10.1}
        - {netns: db, dst: default, gateway: 10.1.20.1}
      policies:
        - {source: 10.1.10.0/24, destination: 10.1.20.0/24, protocol: tcp, port: 5432}

- name: The walkthrough again, re-applied at every boot and after nftables reloads
  netfabric.netns.netns_topology:
    name: walkthrough
    persist: true
    topology:
      namespaces: [{name: red}, {name: blue, dns: {nameservers: [192.168.15.1], search: [lab.test]}}]
      bridges: [{name: v-net-0, addresses: [192.168.15.5/24]}]
      veths:
        - {name: veth-red, netns: red, addresses: [192.168.15.1/24], peer: veth-red-br, peer_bridge: v-net-0}
        - {name: veth-blue, netns: blue, addresses: [192.168.15.2/24], peer: veth-blue-br, peer_bridge: v-net-0}
      port_forwards: [{port: 8080, destination: 192.168.15.2, destination_port: 80}]

- name: Tear it down
  netfabric.netns.netns_topology:
    name: apps
    state: absent
"""

RETURN = r"""
actions:
  description: The plan, in the order it was (or in check mode would be) applied.
  returned: always
  type: list
  elements: str
  sample: ["namespace 'red': create", "namespace 'red': set loopback up", "bridge 'v-net-0' (host): create"]
resources:
  description: The path of every resource planned, in order (pruned ones start with C((pruned))).
  returned: always
  type: list
  elements: str
  sample: ["namespaces[0]", "namespaces[1]", "bridges[0]", "veths[0]"]
state_file:
  description: Where the record of what the topology made is kept.
  returned: always
  type: str
  sample: /var/lib/netfabric/topology-walkthrough.json
stored_topology:
  description:
    - Where the topology is stored for the restore at boot (O(persist=true)); V(null) when it is not persisted.
    - RV(actions) lists what the persistence changed too (in check mode, would change), as steps that start with
      C(persist:).
  returned: always
  type: str
  sample: /etc/netfabric/topology-walkthrough.json
diagram:
  description:
    - The whole host (every namespace, not only the topology's) as this run leaves it, or in check mode would leave
      it, as a Mermaid flowchart; the same picture as RV(netfabric.netns.netns_info#module:diagram) draws after
      the run.
  returned: always
  type: str
  sample: |-
    flowchart LR
      subgraph g__r["host namespace"]
        i__r__rb["rb"]:::interface
      end
      subgraph g__nred["red"]
        i__nred__veth0["veth0<br>10.0.0.2/24"]:::interface
      end
      i__nred__veth0 --- i__r__rb
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.netns.plugins.module_utils.common import connection, lock_timeout, require_pyroute2
from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError
from ansible_collections.netfabric.netns.plugins.module_utils.specs import module_args


def main():
    module = AnsibleModule(**module_args("netns_topology"))
    require_pyroute2(module)
    from ansible_collections.netfabric.netns.plugins.module_utils import persist
    from ansible_collections.netfabric.netns.plugins.module_utils.engine import converge_topology

    params = module.params
    try:
        result = converge_topology(params["topology"], params["name"], params["state"], params["prune"],
                                   module.check_mode, connection(module), params["force"],
                                   lock_timeout=lock_timeout(module), annotations=params["annotations"])
        stored = persist.converge(params["name"], params["topology"], params["force"], params["state"],
                                  params["persist"], module.check_mode, lock_timeout=lock_timeout(module))
    except NetfabricError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    for warning in result.pop("warnings"):
        module.warn(warning)
    result["changed"] = result["changed"] or stored["changed"]
    result["actions"] += stored["actions"]
    result["stored_topology"] = stored["stored_topology"]
    diff = result.pop("diff")
    if stored["changed"]:
        diff["before"]["persist"], diff["after"]["persist"] = stored["diff"]["before"], stored["diff"]["after"]
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
