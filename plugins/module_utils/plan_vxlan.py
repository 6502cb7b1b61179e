# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning VXLAN devices (private to the collection): the part of the Planner (planner.py)
for a VXLAN device with unicast peers, optionally on a bridge whose ports it fits to its
MTU (a frame larger than the VXLAN device's MTU vanishes on the bridge without a word)."""

from __future__ import annotations

from ansible_collections.netfabric.netns.plugins.module_utils import nft, ops
from ansible_collections.netfabric.netns.plugins.module_utils.checks import join
from ansible_collections.netfabric.netns.plugins.module_utils.errors import where
from ansible_collections.netfabric.netns.plugins.module_utils.observed import Link
from ansible_collections.netfabric.netns.plugins.module_utils.plan_links import _link_view


class VxlanPlanning:
    """Mixed into Planner: VXLAN devices."""

    @ops.plans("vxlan")
    def plan_vxlan(self, r, path):
        if r.state == "absent":
            views = self._plan_gone(r, path, r.identity)
            self._unfit_ports(r)
            return views
        ns = self.namespace(r.netns, join(path, "netns"))
        link = ns.links.get(r.name)
        if link is not None and link.kind != "vxlan":
            self.wrong_kind(join(path, "name"), ns, link, "vxlan")
        if r.dev:
            self.existing_link(ns, r.dev, join(path, "dev"))
        before = _link_view(r, link)
        if link is not None:
            before.update(vni=link.vni, dstport=link.dstport, local=link.local)
            if link.index is not None and link.remotes is None:
                link.remotes = self.reader.read_remotes(ns.name, link.index)
            before["remotes"] = list(link.remotes or [])
            changed = self._vxlan_identity_changes(r, ns, link)
            if changed:  # the kernel cannot change these on a live device
                self.recreate(r, ns, link, changed, join(path, changed[0] if changed[0] != "port" else "dstport"), path)
                link = None
        if link is None:
            self.add(ops.LINK_ADD_VXLAN, ns.name, r.describe(),
                     f"create, vni {r.vni}, port {r.dstport}" + (f", local {r.local}" if r.local else "")
                     + (f", dev {r.dev}" if r.dev else "") + (f", mtu {r.mtu}" if r.mtu else ""),
                     name=r.name, vni=r.vni, dstport=r.dstport, local=r.local, dev=r.dev, mtu=r.mtu)
            link = ns.links[r.name] = Link(r.name, None, kind="vxlan", mtu=r.mtu or 1450, vni=r.vni, ours=True,
                                           dstport=r.dstport, local=r.local, remotes=[])
        if r.remotes is not None:
            for remote in r.remotes:
                if remote not in link.remotes:
                    self.add(ops.FDB_APPEND, ns.name, r.describe(), f"add remote {remote}", name=r.name, remote=remote)
            for remote in link.remotes:
                if remote not in r.remotes:
                    self.add(ops.FDB_DEL, ns.name, r.describe(), f"remove remote {remote}", name=r.name, remote=remote)
            link.remotes = list(r.remotes)
            self._plan_rules(ns, r.identity, nft.vxlan_rules(r, r.identity))
        if r.bridge:
            self._attach(r, ns, link, r.bridge, join(path, "bridge"))
        self._link_settings(r, ns, link, "vxlan", r.addresses, r.mtu, r.up, path)
        self.plan_openings(r, ns, [] if r.bridge else [r.name])  # on a bridge, the bridge opens its traffic
        if r.bridge and r.fit_ports:
            self._fit_ports(r, ns, link.mtu, path)
        elif self.settings is not None:
            self._unfit_ports(r)
        after = _link_view(r, link)
        after.update(vni=r.vni, dstport=r.dstport, local=r.local, remotes=list(link.remotes or []), bridge=link.master)
        return before, after

    def _vxlan_identity_changes(self, r, ns, link):
        changed = []
        if link.vni != r.vni:
            changed.append("vni")
        if link.dstport != r.dstport:
            changed.append("port")
        if r.local is not None and link.local != r.local:
            changed.append("local")
        if r.dev is not None:
            dev = ns.links.get(r.dev)
            if dev is None or dev.index != link.dev_index:
                changed.append("dev")
        return changed

    def _fit_ports(self, r, ns, mtu, path):
        """Lower to ``mtu`` every port of the vxlan's bridge that is larger, and the other end of
        its veth ports (where the frames start), recording what each had, so that the vxlan's
        removal gives it back (hostfiles.Settings)."""
        for port in [link for link in ns.links.values() if link.master == r.bridge and link.name != r.name]:
            ends = [(ns, port)]
            if port.kind == "veth" and port.index is not None:
                peer_ns = ns if port.peer_nsid is None else self.namespace(
                    self.reader.netns_by_nsid(ns.name, port.peer_nsid), path, required=False)
                peer = peer_ns.link_by_index(port.peer_index) if peer_ns is not None else None
                if peer is not None:
                    ends.append((peer_ns, peer))
            for owner, end in ends:
                key = f"mtu {end.name}"
                if end.mtu > mtu:
                    self.guard(end, owner, "change the MTU of", r.force, path)
                    self.add(ops.LINK_SET, owner.name, f"{end.kind or 'link'} '{end.name}' ({where(owner.name, True)})",
                             f"set mtu {mtu} (to fit vxlan '{r.name}' on bridge '{r.bridge}')", name=end.name, mtu=mtu)
                    if self.settings is not None and end.index is not None:
                        self.settings.changed(owner.name, key, end.mtu, mtu, r.identity)
                    end.mtu = mtu
                elif self.settings is not None:
                    self.settings.join(owner.name, key, r.identity)

    def _unfit_ports(self, r):
        """Give back the MTUs the vxlan lowered, where they still have the value it set."""
        if self.settings is None:
            return
        for (netns, key), (value, lowered) in sorted(self.settings.leave(r.identity).items(),
                                                     key=lambda item: (item[0][0] or "", item[0][1])):
            ns = self.namespace(netns, "", required=False)
            link = ns.links.get(key.split(" ", 1)[1]) if ns is not None else None
            if link is None or str(link.mtu) != lowered:
                continue
            self.add(ops.LINK_SET, netns, f"{link.kind or 'link'} '{link.name}' ({where(netns, True)})",
                     f"set mtu {value} (as before vxlan '{r.name}' lowered it)", name=link.name, mtu=int(value))
            link.mtu = int(value)
