# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning nftables rules and forwarding (private to the collection): the part of the
Planner (planner.py) that plans masquerades, port forwards, policies, NAT exemptions and
the forwarding sysctls they need, as the rules of the table ``inet netfabric``."""

from __future__ import annotations

import ipaddress

from ansible_collections.netfabric.netns.plugins.module_utils import nft, ops
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError, where
from ansible_collections.netfabric.netns.plugins.module_utils.checks import join, sysctl_key

FORWARDING_KEYS = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding")


class RulePlanning:
    """Mixed into Planner: the resources made of nftables rules, and forwarding."""

    def nft_table(self, ns):
        if ns.nft is None:
            ns.nft = nft.Table() if ns.planned else nft.Table(*self.reader.read_nft(ns.name))
        return ns.nft

    def _owns_rules(self, ns, identity):
        """Whether ``identity`` has rules here; False where nftables is not installed."""
        try:
            return bool(self.nft_table(ns).owned(identity))
        except nft.NftUnavailable:
            return False

    def _plan_rules(self, ns, identity, rules):
        """Make ``rules`` the whole set owned by ``identity``; one action per rule changed."""
        table = self.nft_table(ns)
        before = [rule.text for rule in table.owned(identity)]
        table.set_owner(identity, rules)
        removed, added, reordered = table.pending()
        steps = [f"remove rule {rule.text}" for rule in removed] + [f"add rule {rule.text}" for rule in added]
        if reordered:
            steps.append("restore the order of its rules")
        subject = f"nftables table {nft.FAMILY} {nft.TABLE} ({where(ns.name, short=True)})"
        for verb in steps:  # plan_resources makes the last one of the namespace commit the table
            self.add(ops.NFT_RULE, ns.name, subject, verb, rules=table, commit=False)
        return before, [rule.text for rule in table.owned(identity)], bool(steps)

    def _need_forwarding(self, ns, r, path, uplink=None):
        """A resource with ``forwarding`` (masquerade, port forward) turns routing on while it is
        present; when it goes (or stops asking), what the collection turned on for it goes back."""
        if r.state == "present" and r.forwarding:
            self._forwarding(ns, r.family, join(path, "forwarding"), uplink=uplink, user=r.identity)
        else:
            self._release_forwarding(ns, r.identity)

    def _release_forwarding(self, ns, user):
        """Turn back off what the collection turned on, once its last user is gone, unless another
        firewall (Docker, libvirt, firewalld) may route through it."""
        if self.settings is None or ns.planned:
            return
        for (unused, key), (value, unused_set) in sorted(self.settings.leave(user, ns.name).items()):
            if self.sysctl(ns, key, "forwarding") == value:
                continue
            others = self.nft_table(ns).foreign_forwarders if self._has_nft(ns) else []
            if others:
                self.plan.warnings.append(f"{key} in {where(ns.name)} stays {self.sysctl(ns, key, 'forwarding')}: "
                                          f"netfabric.netns turned it on and no longer needs it, but table "
                                          f"{others[0]} may (turn it off by hand if nothing does)")
                continue
            self.add(ops.SYSCTL_SET, ns.name, f"namespace '{ns.name}'" if ns.name else "the host namespace",
                     f"set {key}={value} (as before netfabric.netns turned it on)", key=key, value=value)
            ns.sysctls[key] = value

    def _has_nft(self, ns):
        try:
            self.nft_table(ns)
            return True
        except nft.NftUnavailable:
            return False

    def _forwarding(self, ns, family, path, uplink=None, user=None):
        """Routing on in the namespace; for IPv6 first accept_ra=2 on the uplinks (``uplink``,
        else the devices of the IPv6 default routes), or forwarding=1 makes them ignore
        router advertisements (and lose a SLAAC route). ``user``: the resource that needs it,
        recorded where the collection turns it on."""
        subject = f"namespace '{ns.name}'" if ns.name else "the host namespace"
        if family == 6:
            for dev in [uplink] if uplink else self._ipv6_default_devs(ns):
                link = ns.links.get(dev)
                if link is None or link.index is None:
                    continue
                key = sysctl_key("net", "ipv6", "conf", dev, "accept_ra")
                if self.sysctl(ns, key, path) == "1":
                    self.add(ops.SYSCTL_SET, ns.name, subject, f"set {key}=2", key=key, value="2")
                    ns.sysctls[key] = "2"
        key = "net.ipv4.ip_forward" if family == 4 else "net.ipv6.conf.all.forwarding"
        current = self.sysctl(ns, key, path)
        if current != "1":
            self.add(ops.SYSCTL_SET, ns.name, subject, f"set {key}=1", key=key, value="1")
            ns.sysctls[key] = "1"
            if self.settings is not None and user and not ns.planned:
                self.settings.changed(ns.name, key, current, "1", user)
        elif self.settings is not None and user:
            self.settings.join(ns.name, key, user)

    def _ipv6_default_devs(self, ns):
        if ns.planned:
            return []
        return sorted({r.dev for r in self.routes(ns) if r.dst == "::/0" and r.dev})

    def _plan_owner(self, r, path, fields, build_rules):
        """The common part of a resource made of nft rules: its namespace, its rules (built by
        ``build_rules(ns)`` when present) and its before/after views. ns is None when the
        namespace is gone (and the resource absent)."""
        ns = self.namespace(r.netns, join(path, "netns"), required=r.state == "present")
        if ns is None:
            return None, dict(fields, state="absent", rules=[]), dict(fields, state="absent", rules=[]), False
        rules = build_rules(ns) if r.state == "present" else []
        before, after, changed = self._plan_rules(ns, r.identity, rules)
        return (ns, dict(fields, state="present" if before else "absent", rules=before),
                dict(fields, state=r.state, rules=after), changed)

    @ops.plans("masquerade")
    def plan_masquerade(self, r, path):
        def rules(ns):
            if r.out_interface:
                self.existing_link(ns, r.out_interface, join(path, "out_interface"))
            return nft.masquerade_rules(r.source, r.out_interface, r.identity)

        fields = {"source": r.source, "out_interface": r.out_interface, "netns": r.netns}
        ns, before, after, unused = self._plan_owner(r, path, fields, rules)
        if ns is not None:
            self._need_forwarding(ns, r, path, uplink=r.out_interface)
        if ns is not None and r.state == "present":
            self._warn_foreign_drops(ns, f"traffic from {r.source}", r.family, r.source)
            after["forwarding"] = r.forwarding
        return before, after

    @ops.plans("port_forward")
    def plan_port_forward(self, r, path):
        def rules(ns):
            self._guard_connection_port(r, ns, path)
            if r.in_interface:
                self.existing_link(ns, r.in_interface, join(path, "in_interface"))
            return nft.port_forward_rules(r, r.identity, self._connected_subnet(ns, r.destination))

        fields = {"protocol": r.protocol, "port": r.port_text, "host_address": r.host_address, "netns": r.netns}
        ns, before, after, changed = self._plan_owner(r, path, fields, rules)
        if changed and r.protocol == "udp":
            first, last = r.ports
            self.add(ops.CONNTRACK_FLUSH, ns.name, r.describe(), f"forget conntrack entries of udp ports {r.port_text}",
                     protocol="udp", first=first, last=last, keep=r.destination if r.state == "present" else None)
        if ns is not None:
            self._need_forwarding(ns, r, path)
        if ns is not None and r.state == "present":
            self._warn_foreign_drops(ns, f"traffic to {r.destination}", r.family, r.destination)
            after.update(forwarding=r.forwarding, destination=r.destination,
                         destination_port=r.destination_port or r.ports[0], in_interface=r.in_interface)
        return before, after

    @ops.plans("forwarding")
    def plan_forwarding(self, r, path):
        """Routing in the host namespace on (or off), for IPv4 and, when used, IPv6."""
        ns = self.namespace(None, path)
        families = (4, 6) if r.ipv6 else (4,)
        before = {key: self.sysctl(ns, key, path) for key in FORWARDING_KEYS[:len(families)]}
        if r.state == "absent":
            self._release_forwarding(ns, r.owner)
        elif r.enabled:
            for family in families:
                self._forwarding(ns, family, path, user=r.owner)
        else:
            self._release_forwarding(ns, r.owner)
            for key in before:
                if self.sysctl(ns, key, path) != "0":
                    self.add(ops.SYSCTL_SET, None, "the host namespace", f"set {key}=0", key=key, value="0")
                    ns.sysctls[key] = "0"
        return {"forwarding": before}, {"forwarding": {key: ns.sysctls[key] for key in before}}

    @ops.plans("policy")
    def plan_policy(self, r, path):
        fields = {"source": r.source, "destination": r.destination, "protocol": r.protocol,
                  "port": r.port_text if r.ports else None, "netns": r.netns}
        ns, before, after, unused = self._plan_owner(r, path, fields, lambda ns: nft.policy_rules(r, r.identity))
        if ns is not None and r.state == "present":
            if r.action == "accept":
                self._warn_foreign_drops(ns, f"what {r.identity} accepts", r.family, r.source or r.destination)
            after["action"] = r.action
        return before, after

    @ops.plans("nat_exemption")
    def plan_nat_exemption(self, r, path):
        fields = {"source": r.source, "destination": r.destination, "netns": r.netns}
        unused, before, after, unused_changed = self._plan_owner(
            r, path, fields, lambda ns: nft.nat_exemption_rules(r, r.identity))
        return before, after

    def _connected_subnet(self, ns, destination):
        """The subnet of this namespace that holds ``destination``, for the hairpin masquerade."""
        target = ipaddress.ip_address(destination)
        for link in ns.links.values():
            for cidr in link.addresses:
                network = ipaddress.ip_interface(cidr).network
                if target.version == network.version and target in network and network.prefixlen < network.max_prefixlen:
                    return str(network)
        return None

    def _guard_connection_port(self, r, ns, path):
        """Never forward away the port Ansible reaches this host on."""
        port = self.connection.port if self.connection is not None else None
        if r.force or ns.name is not None or port is None or r.protocol != "tcp":
            return
        first, last = r.ports
        if not first <= port <= last:
            return
        hit = sorted(a for a in self.connection_path().addresses if r.host_address in (None, a))
        if hit:
            raise ValidationError(join(path, "port"), f"refusing to forward tcp port {port} of {hit[0]}: it is the "
                                  "port of the Ansible connection (set force: true to do it anyway)")
