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

import ipaddress
import os
import re

from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.model import join
from ansible_collections.netfabric.netns.plugins.module_utils.units import read_text, write_atomic

ETC_NETNS = "/etc/netns"
MARK = "# Written by netfabric.netns"
MAX_NAMESERVERS = 3  # glibc's resolver (MAXNS) ignores the rest
_WORD = re.compile(r"^[A-Za-z0-9_.:+/=-]+$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
LOCALHOST = ("127.0.0.1\tlocalhost\n"
             "::1\tlocalhost ip6-localhost ip6-loopback\n")


def check_dns(path, value):
    """None (unmanaged), or (nameservers, search, options) as tuples."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError(path, f"must be a dictionary with nameservers, search and options, got {value!r}")
    unknown = sorted(set(value) - {"nameservers", "search", "options"})
    if unknown:
        raise ValidationError(path, f"unknown key '{unknown[0]}' (expected nameservers, search, options)")
    lists = []
    for key in ("nameservers", "search", "options"):
        items = value.get(key) or []
        if not isinstance(items, (list, tuple)):
            raise ValidationError(join(path, key), f"must be a list, got {items!r}")
        checked = []
        for i, item in enumerate(items):
            item_path = f"{join(path, key)}[{i}]"
            if key == "nameservers":
                try:
                    item = str(ipaddress.ip_address(str(item).partition("%")[0]))
                except ValueError:
                    raise ValidationError(item_path, f"'{item}' is not an IPv4 or IPv6 address") from None
            elif not isinstance(item, str) or not _WORD.match(item):
                raise ValidationError(item_path, f"{item!r} is not a single word (no spaces or line breaks)")
            if item in checked:
                raise ValidationError(item_path, f"'{item}' is listed twice")
            checked.append(item)
        lists.append(tuple(checked))
    if len(lists[0]) > MAX_NAMESERVERS:
        raise ValidationError(join(path, "nameservers"), f"{len(lists[0])} nameservers: the resolver uses at most "
                                                         f"{MAX_NAMESERVERS}")
    return tuple(lists)


def check_hosts(path, value):
    """None (unmanaged), or ((name, address), ...) sorted by name."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError(path, f"must be a dictionary of host name to address, got {value!r}")
    entries = []
    for name, address in value.items():
        if not isinstance(name, str) or not _HOSTNAME.match(name):
            raise ValidationError(path, f"'{name}' is not a host name")
        try:
            address = str(ipaddress.ip_address(str(address)))
        except ValueError:
            raise ValidationError(join(path, name), f"'{address}' is not an IPv4 or IPv6 address") from None
        entries.append((name, address))
    return tuple(sorted(entries))


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
            planner.add("netns_file", None, subject, f"remove {path}", path=path, content=None)
        elif current != content:
            planner.add("netns_file", None, subject, f"write {path}", path=path, content=content)


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
