# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of input values, in one place (private to the collection).

Plain Python, no Ansible and no pyroute2: each checker takes the path of the option it
checks (``veths[3].peer_netns`` in a topology, ``peer_netns`` in a module) and its value,
and returns the value normalised or raises a ValidationError that starts with that path.
model.py builds the resources from them.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError


IFNAMSIZ = 15  # bytes, without the terminating NUL


ROUTE_TABLES = {"main": 254, "local": 255, "default": 253}


MAX_NAMESERVERS = 3  # glibc's resolver (MAXNS) ignores the rest
_WORD = re.compile(r"^[A-Za-z0-9_.:+/=-]+$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_SYSCTL_KEY = re.compile(r"^net[./][A-Za-z0-9_.\-/]+$")


def join(path, name):
    """Path of a nested option: ``join('veths[3]', 'peer')`` -> ``veths[3].peer``."""
    return f"{path}.{name}" if path else name


def check_state(path, value):
    if value not in ("present", "absent"):
        raise ValidationError(path, f"state must be 'present' or 'absent', got {value!r}")
    return value


def check_ifname(path, value):
    if not isinstance(value, str) or not value:
        raise ValidationError(path, f"interface name must be a non-empty string, got {value!r}")
    if len(value.encode()) > IFNAMSIZ:
        raise ValidationError(path, f"interface name '{value}' is longer than {IFNAMSIZ} bytes")
    if value in (".", "..") or any(c in value for c in "/:") or any(c.isspace() or not c.isprintable() for c in value):
        raise ValidationError(path, f"interface name {value!r} may not be '.', '..' or contain '/', ':', whitespace "
                                    "or control characters")
    if "%" in value:
        raise ValidationError(path, f"interface name '{value}' may not contain '%': the kernel would take it as a "
                                    "pattern and number the link (br%d becomes br0, then br1, ...)")
    if value in ("all", "default"):
        raise ValidationError(path, f"interface name '{value}' is reserved: the kernel's per-interface settings "
                                    "(net.ipv4.conf.all, net.ipv4.conf.default) use it")
    return value


def check_netns_name(path, value):
    """A name under /run/netns; None means the host's own namespace."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValidationError(path, f"namespace name must be a non-empty string, got {value!r}")
    if "/" in value or value in (".", "..") or "\0" in value:
        raise ValidationError(path, f"namespace name '{value}' may not contain '/' or be '.' or '..'")
    if len(value.encode()) > 255:
        raise ValidationError(path, f"namespace name '{value[:20]}...' is longer than 255 bytes")
    return value


def _no_zone(path, value):
    """Python accepts IPv6 zone ids ('fe80::2%eth0'); the kernel reads the address back without it."""
    if isinstance(value, str) and "%" in value:
        raise ValidationError(path, f"'{value}' has a zone id ('%{value.split('%', 1)[1].split('/')[0]}'): give the "
                                    "address without it (and the interface as dev where the option exists)")


def check_cidr(path, value):
    """An interface address with its prefix, normalised: '192.168.15.1/24'."""
    _no_zone(path, value)
    if not isinstance(value, str) or "/" not in value:
        raise ValidationError(path, f"'{value}' is not an address with a prefix length (e.g. 192.168.15.1/24)")
    try:
        return str(ipaddress.ip_interface(value))
    except ValueError:
        raise ValidationError(path, f"'{value}' is not a valid IPv4 or IPv6 address with prefix length") from None


def _check_list(path, values, check, what):
    """A list whose items each pass ``check``, none twice; None stays None (unmanaged)."""
    if values is None:
        return None
    if not isinstance(values, (list, tuple)):
        raise ValidationError(path, f"must be a list of {what}, got {values!r}")
    result = []
    for i, value in enumerate(values):
        item = check(f"{path}[{i}]", value)
        if item in result:
            raise ValidationError(f"{path}[{i}]", f"address '{value}' is listed twice")
        result.append(item)
    return tuple(result)


def check_cidr_list(path, values):
    return _check_list(path, values, check_cidr, "addresses with prefix length")


def check_ip(path, value):
    _no_zone(path, value)
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValidationError(path, f"'{value}' is not an IPv4 or IPv6 address") from None


def check_network(path, value, default=False):
    """A network in CIDR notation, normalised; host bits are an error (10.0.0.1/24). With
    ``default``, 'default' is accepted and returned as None (its family is decided later)."""
    if default and value == "default":
        return None
    _no_zone(path, value)
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except (ValueError, TypeError) as exc:
        if "has host bits set" in str(exc):
            raise ValidationError(path, f"'{value}' has host bits set (did you mean "
                                        f"{ipaddress.ip_network(value, strict=False)}?)") from None
        expected = "'default' or a network" if default else "a network"
        raise ValidationError(path, f"'{value}' is not {expected} in CIDR notation (e.g. 10.1.0.0/16)") from None


def check_int(path, value, low, high, what="value"):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            raise ValidationError(path, f"{what} must be an integer, got {value!r}") from None
    if not low <= value <= high:
        raise ValidationError(path, f"{what} {value} is out of range {low}-{high}")
    return value


def check_mtu(path, value):
    return check_int(path, value, 68, 65535, "MTU")


def check_mac(path, value):
    """A unicast MAC address, normalised to lower case with colons (as the kernel shows it)."""
    if value is None:
        return None
    text = str(value).strip().lower().replace("-", ":")
    octets = text.split(":")
    if len(octets) != 6 or not all(len(o) == 2 and all(c in "0123456789abcdef" for c in o) for o in octets):
        raise ValidationError(path, f"'{value}' is not a MAC address (six hexadecimal octets, e.g. 02:00:00:00:00:01)")
    if int(octets[0], 16) & 1 or text == "00:00:00:00:00:00":
        raise ValidationError(path, f"'{value}' is not a unicast address (a multicast bit or all zeros)")
    return text


def check_ipv6_mtu(path, mtu, *address_lists):
    """The kernel turns IPv6 off on a link below 1280 bytes and refuses its addresses."""
    if mtu is None or mtu >= 1280:
        return
    for addresses in address_lists:
        for cidr in addresses or ():
            if ":" in cidr:
                raise ValidationError(path, f"MTU {mtu} is below 1280, the minimum for the IPv6 address {cidr}")


def check_table(path, value):
    if value is None:
        return None
    if isinstance(value, str) and value in ROUTE_TABLES:
        return ROUTE_TABLES[value]
    return check_int(path, value, 1, 2**32 - 1, "routing table")


def check_sysctls(path, values):
    if values is None:
        return None
    if not isinstance(values, dict):
        raise ValidationError(path, f"must be a dictionary of sysctl names and values, got {values!r}")
    result = {}
    for key, value in values.items():
        if not isinstance(key, str) or not _SYSCTL_KEY.match(key) or ".." in key or "//" in key:
            raise ValidationError(path, f"'{key}' is not a sysctl of the network namespace (net.*)")
        if isinstance(value, bool):
            value = "1" if value else "0"
        if not isinstance(value, (str, int)) or "\n" in str(value):
            raise ValidationError(join(path, key), f"sysctl value must be a string or integer, got {value!r}")
        result[key] = str(value).strip()
    return result


def sysctl_path(key):
    """The file of a sysctl, read as sysctl(8) does: 'net.ipv4.ip_forward' ->
    /proc/sys/net/ipv4/ip_forward; in the dotted form a '/' stands for a dot in a name
    ('net.ipv6.conf.eth0/100.accept_ra' -> .../conf/eth0.100/accept_ra); a key whose first
    separator is '/' is a path already ('net/ipv6/conf/eth0.100/accept_ra')."""
    first = min((i for i in (key.find("."), key.find("/")) if i >= 0), default=-1)
    if first >= 0 and key[first] == "/":
        return "/proc/sys/" + key
    return "/proc/sys/" + key.translate(str.maketrans("./", "/."))


def sysctl_key(*parts):
    """A dotted sysctl key from its parts, a dot inside a part written '/' (sysctl(8)'s form)."""
    return ".".join(part.replace(".", "/") for part in parts)


def family_of(cidr):
    return 6 if ":" in cidr else 4


def is_link_local_v6(cidr):
    return ":" in cidr and ipaddress.ip_interface(cidr).ip.is_link_local


def check_port(path, value):
    return check_int(path, value, 1, 65535, "port")


def check_port_range(path, value):
    """A port (8080) or an inclusive range ('8000-8010'): returns (first, last)."""
    if isinstance(value, str) and "-" in value:
        first, unused, last = value.partition("-")
        low, high = check_port(path, first.strip()), check_port(path, last.strip())
        if low > high:
            raise ValidationError(path, f"port range '{value}' ends before it starts")
        return low, high
    port = check_port(path, value)
    return port, port


def ports_text(ports):
    """(8080, 8080) -> '8080', (8000, 8010) -> '8000-8010'."""
    first, last = ports
    return str(first) if first == last else f"{first}-{last}"


def check_choice(path, value, choices):
    if value not in choices:
        raise ValidationError(path, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def check_ip_list(path, values):
    return _check_list(path, values, check_ip, "addresses")


def _required(params, name, path):
    value = params.get(name)
    if value is None or value == "":
        raise ValidationError(join(path, name), "is required")
    return value


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
