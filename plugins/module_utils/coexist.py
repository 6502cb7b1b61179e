# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Living beside Docker and firewalld (private to the collection): the part of the Planner
(planner.py) that opens their forwarding rules for the collection's interfaces, and warns
about other tables' drops that nothing opens.

An accept in the table ``inet netfabric`` cannot override another table's drop. Docker's
``FORWARD`` policy is drop and firewalld rejects forwarding that no zone allows, so the
host-side interfaces of bridges, veths and vxlans (not those enslaved to a bridge: the bridge
carries their forwarded traffic) are opened there, as their ``docker`` and ``firewalld``
options say (``auto``: where the daemon's rules are found). Every run plans them again from
what it reads, so rules that went (Docker installed after the topology, a firewalld reload)
come back with the next run or the persisted topology's restore. The daemons run in the host's
namespace: interfaces in named namespaces have nothing to open.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ansible_collections.netfabric.netns.plugins.module_utils import docker, firewalld, nft, ops
from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError, where


@dataclass
class Foreign:
    """Docker's and firewalld's state in one namespace, as read, then as planned."""

    docker: dict = field(default_factory=dict)  # iptables binary -> rules of DOCKER-USER (argument tuples)
    firewalld: bool = False  # firewalld runs (its table is there)
    zones: dict = field(default_factory=dict)  # interface -> (runtime zone, permanent zone), read on demand


class CoexistPlanning:
    """Mixed into Planner: openings in Docker's and firewalld's rules, and the warnings."""

    def _foreign(self, ns):
        cache = self.__dict__.setdefault("_foreign_state", {})
        if ns.name not in cache:
            state = Foreign()
            if not ns.planned and self._has_nft(ns):
                chains = self.nft_table(ns).foreign_chains
                state.firewalld = any(label.startswith(firewalld.TABLE + " ") for label in chains)
                if any(label.split(" ")[2] == docker.CHAIN for label in chains):
                    try:
                        state.docker = self.reader.read_docker(ns.name, chains)
                    except NetfabricError as exc:
                        self.plan.warnings.append(f"{where(ns.name)}: {exc.msg}")
            cache[ns.name] = state
        return cache[ns.name]

    def _zone(self, foreign, interface):
        """(runtime, permanent) zone of ``interface``; None when firewalld does not answer."""
        if interface not in foreign.zones:
            try:
                foreign.zones.update(self.reader.read_zones([interface]))
            except NetfabricError as exc:
                self.plan.warnings.append(f"{exc.msg}: interface '{interface}' is left out of firewalld's zones")
                foreign.zones[interface] = None
        return foreign.zones[interface]

    def plan_openings(self, r, ns, interfaces):
        """Open Docker's and firewalld's forwarding for ``interfaces`` of ``r`` (a bridge, veth or
        vxlan) in ``ns``, as its options say, and close what it opened and no longer needs."""
        if ns is None or ns.name is not None or ns.planned:
            return
        present = r.state == "present"
        owner = docker.owner(r)
        foreign = self._foreign(ns)
        wanted = [rule for name in interfaces for rule in docker.rules(name, owner)] \
            if present and r.docker == "auto" else []
        for binary, rules in sorted(foreign.docker.items()):
            for rule in [rule for rule in rules if docker.comment_of(rule) == owner and rule not in wanted]:
                self.add(ops.DOCKER_RULE, ns.name, f"Docker's chain {docker.CHAIN} ({binary})",
                         f"delete rule {' '.join(rule)}", command="delete", binary=binary, rule=list(rule))
                rules.remove(rule)
            for rule in [rule for rule in wanted if rule not in rules]:
                self.add(ops.DOCKER_RULE, ns.name, f"Docker's chain {docker.CHAIN} ({binary})",
                         f"insert rule {' '.join(rule)}", command="insert", binary=binary, rule=list(rule))
                rules.insert(0, rule)
        if present and r.docker == "off" and foreign.docker and interfaces:
            self.plan.warnings.append(f"{r.describe()}: docker is off, so Docker's FORWARD chain (policy drop) drops "
                                      f"the forwarded traffic of {', '.join(interfaces)}; set docker: auto to let "
                                      f"the collection accept it in {docker.CHAIN}")
        self._plan_zones(r, ns, interfaces if present and r.firewalld == "auto" else [], foreign, owner)
        if present and r.firewalld == "off" and foreign.firewalld and interfaces:
            self.plan.warnings.append(f"{r.describe()}: firewalld is off, so firewalld rejects the forwarded traffic "
                                      f"of {', '.join(interfaces)} that no zone allows; set firewalld: auto to let "
                                      f"the collection put it in firewalld's zone {firewalld.ZONE}")

    def _plan_zones(self, r, ns, interfaces, foreign, owner):
        """Bind ``interfaces`` to the trusted zone; release those ``owner`` bound and no longer needs
        (the settings record says which: an interface the admin bound is never released)."""
        released = self.settings.leave(owner, ns.name) if self.settings is not None else {}
        for name in interfaces:
            key = firewalld.KEY + name
            if (None, key) in released:  # still needed: keep the record as it was
                self.settings.changed(ns.name, key, *released.pop((None, key)), owner)
            zones = self._zone(foreign, name) if foreign.firewalld else None
            if zones is None or zones == (firewalld.ZONE, firewalld.ZONE):
                continue
            if {zones[0], zones[1]} - {"", firewalld.ZONE}:
                self.plan.warnings.append(f"{r.describe()}: '{name}' is in firewalld's zone "
                                          f"{zones[0] or zones[1]}, bound by someone else: left there (that zone "
                                          "decides what it may forward)")
                continue
            self.add(ops.FIREWALLD_ZONE, ns.name, f"firewalld, interface '{name}'",
                     f"bind to zone {firewalld.ZONE} (runtime and permanent)", interface=name, zone=firewalld.ZONE,
                     add=True)
            foreign.zones[name] = (firewalld.ZONE, firewalld.ZONE)
            if self.settings is not None:
                self.settings.changed(ns.name, key, "", firewalld.ZONE, owner)
        for (unused, key), unused_values in sorted(released.items()):
            if not key.startswith(firewalld.KEY):
                continue
            name = key[len(firewalld.KEY):]
            zones = self._zone(foreign, name) if foreign.firewalld else None
            if zones is None:
                self.plan.warnings.append(f"firewalld does not run: '{name}' stays in the zone {firewalld.ZONE} of its "
                                          "permanent configuration (firewall-offline-cmd --zone=trusted "
                                          f"--remove-interface={name} takes it out)")
            elif firewalld.ZONE in zones:
                self.add(ops.FIREWALLD_ZONE, ns.name, f"firewalld, interface '{name}'",
                         f"release from zone {firewalld.ZONE} (runtime and permanent)", interface=name,
                         zone=firewalld.ZONE, add=False)
                foreign.zones[name] = ("", "")

    def _warn_foreign_drops(self, ns, what, family, address):
        """Other tables' drops of forwarded traffic (Docker's FORWARD policy, firewalld's final reject,
        iptables-legacy's FORWARD policy) that the accepts of ``what`` cannot override and that
        nothing opens for the interface carrying ``address``."""
        carrier = self._carrier(ns, address)
        foreign = self._foreign(ns)
        for label in self.nft_table(ns).foreign_drops:
            table_family, table, chain = label.split(" ")[:3]
            if table_family not in ("inet", nft.ip_proto(family)):
                continue  # an ip table cannot drop IPv6 traffic, nor ip6 IPv4
            if table == "firewalld":
                zones = self._zone(foreign, carrier) if carrier else None
                if zones and zones[0] == firewalld.ZONE:
                    continue
                why, advice = "rejects what no firewalld zone allows", (
                    f"set firewalld: auto on the collection's bridge, veth or vxlan that carries it "
                    f"({carrier or 'none found'}): it is then put in firewalld's zone {firewalld.ZONE}")
            elif chain == "FORWARD" and label.replace("FORWARD", docker.CHAIN, 1) in self.nft_table(ns).foreign_chains:
                binary = docker.binary(label)
                if any(rule[:2] == ("-i", carrier) and (docker.comment_of(rule) or "").startswith(docker.PREFIX)
                       for rule in foreign.docker.get(binary, ())):
                    continue
                why, advice = "drops forwarded packets by policy (Docker sets FORWARD to drop)", (
                    f"set docker: auto on the collection's bridge, veth or vxlan that carries it "
                    f"({carrier or 'none found'}): it then accepts it in {docker.CHAIN}")
            else:
                why, advice = "drops forwarded packets by policy", "accept it in that chain too"
            self.plan.warnings.append(
                f"table {table_family} {table} chain {chain} in {where(ns.name)}"
                f"{' ' + docker.LEGACY if label.endswith(docker.LEGACY) else ''} {why}: the accepts in table "
                f"{nft.FAMILY} {nft.TABLE} cannot override another table's drop, so {what} may not pass; {advice}")

    @staticmethod
    def _carrier(ns, address):
        """The interface whose subnet holds ``address`` (a network or an address), or its bridge."""
        if not address:
            return None
        target = ipaddress.ip_network(address, strict=False)
        for link in ns.links.values():
            for cidr in link.addresses:
                network = ipaddress.ip_interface(cidr).network
                if network.version == target.version and (target.subnet_of(network) or network.subnet_of(target)):
                    return link.master or link.name
        return None
