# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A namespace's own resolv.conf and hosts under /etc/netns/NAME/ (private to the collection).

The ``ip netns exec`` convention: it bind-mounts every file of /etc/netns/NAME/ over its
namesake in /etc for the command it runs; netns_service units bind these two the same way
(systemd does not do it by itself). The netns module's ``dns`` and ``hosts`` options write
them; a file carries a first line that marks it as written here, and only such a file is
ever removed (with ``dns: {}``, ``hosts: {}`` or the namespace's ``state: absent``).
"""

from __future__ import annotations

import os

from ansible_collections.netfabric.netns.plugins.module_utils import ops
from ansible_collections.netfabric.netns.plugins.module_utils.units import read_text, write_atomic

ETC_NETNS = "/etc/netns"
MARK = "# Written by netfabric.netns"
LOCALHOST = ("127.0.0.1\tlocalhost\n"
             "::1\tlocalhost ip6-localhost ip6-loopback\n")


def resolv_conf(netns, dns):
    """The file's text, or None when dns lists nothing (no file: the host's own is used)."""
    nameservers, search, options = dns
    if not (nameservers or search or options):
        return None
    lines = [f"{MARK} (netns '{netns}' dns): ip netns exec and netns_service show it as /etc/resolv.conf"]
    if search:
        lines.append("search " + " ".join(search))
    lines += [f"nameserver {address}" for address in nameservers]
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def hosts_file(netns, hosts):
    """The file's text (localhost entries first), or None for an empty mapping."""
    if not hosts:
        return None
    head = f"{MARK} (netns '{netns}' hosts): ip netns exec and netns_service show it as /etc/hosts\n"
    return head + LOCALHOST + "".join(f"{address}\t{name}\n" for name, address in hosts)


def paths(netns):
    directory = os.path.join(ETC_NETNS, netns)
    return os.path.join(directory, "resolv.conf"), os.path.join(directory, "hosts")


def plan(planner, r, subject, before, after):
    """Actions for the namespace's files; records them in the netns diff as resolv_conf and hosts.

    present: a managed option (dns, hosts) writes its file, or removes ours when it lists
    nothing; an omitted one is left alone. absent: ours are removed, whatever the options say.
    """
    wanted = {}
    resolv_path, hosts_path = paths(r.name)
    if r.state == "absent":
        wanted = {resolv_path: None, hosts_path: None}
    else:
        if r.dns is not None:
            wanted[resolv_path] = resolv_conf(r.name, r.dns)
        if r.hosts is not None:
            wanted[hosts_path] = hosts_file(r.name, r.hosts)
    for path, content in wanted.items():
        key = "resolv_conf" if path == resolv_path else "hosts"
        current = read_text(path)
        ours = current is not None and current.startswith(MARK)
        if content is None and not ours:
            continue  # nothing, or not ours to remove
        before[key] = current
        after[key] = content
        if content is None:
            planner.add(ops.NETNS_FILE, None, subject, f"remove {path}", path=path, content=None)
        elif current != content:
            planner.add(ops.NETNS_FILE, None, subject, f"write {path}", path=path, content=content)


def apply(path, content):
    """Write the file (content) or remove it (None), then the namespace's directory and
    /etc/netns once they are empty."""
    if content is not None:
        write_atomic(path, content, 0o644, 0o755)
        return
    if os.path.lexists(path):
        os.unlink(path)
    for directory in (os.path.dirname(path), ETC_NETNS):
        try:
            os.rmdir(directory)
        except OSError:  # not empty (or gone): leave it
            break
