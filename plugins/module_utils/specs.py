# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of every resource module, in one place (private to the collection).

Each module builds its argument_spec from here, and netns_topology validates each
item of a topology list against the same spec, so that an item takes exactly
the options of the matching module.
"""

from __future__ import annotations

NETNS = {"netns": {"type": "str"}}
STATE = {"state": {"type": "str", "choices": ["present", "absent"], "default": "present"}}
FORCE = {"force": {"type": "bool", "default": False}}
# Whether a link's forwarded traffic is opened in Docker's and firewalld's rules (module_utils/coexist.py).
COEXIST = {"docker": {"type": "str", "choices": ["auto", "off"], "default": "auto"},
           "firewalld": {"type": "str", "choices": ["auto", "off"], "default": "auto"}}
# Filled in by the action plugins (plugin_utils/connection_guard.py); not topology options.
CONNECTION = {
    "connection_address": {"type": "list", "elements": "str"},
    "controller_address": {"type": "list", "elements": "str"},
    "connection_port": {"type": "int"},
}


def _spec(*parts, **options):
    spec = {}
    for part in parts:
        spec.update(part)
    spec.update(options)
    return spec


SPECS = {
    "netns": _spec(
        STATE,
        name={"type": "str", "required": True},
        loopback={"type": "bool", "default": True},
        forwarding={"type": "bool"},
        sysctls={"type": "dict"},
        dns={"type": "dict", "options": {
            "nameservers": {"type": "list", "elements": "str", "default": []},
            "search": {"type": "list", "elements": "str", "default": []},
            "options": {"type": "list", "elements": "str", "default": []},
        }},
        hosts={"type": "dict"},
    ),
    "veth": _spec(
        NETNS, STATE, FORCE, COEXIST,
        name={"type": "str", "required": True},
        peer={"type": "str"},
        peer_netns={"type": "str"},
        addresses={"type": "list", "elements": "str"},
        peer_addresses={"type": "list", "elements": "str"},
        bridge={"type": "str"},
        peer_bridge={"type": "str"},
        mtu={"type": "int"},
        up={"type": "bool", "default": True},
    ),
    "bridge": _spec(
        NETNS, STATE, FORCE, COEXIST,
        name={"type": "str", "required": True},
        addresses={"type": "list", "elements": "str"},
        mtu={"type": "int"},
        stp={"type": "bool"},
        vlan_filtering={"type": "bool"},
        isolate_subnet={"type": "bool"},
        up={"type": "bool", "default": True},
    ),
    "bridge_port": _spec(
        NETNS, STATE, FORCE,
        bridge={"type": "str", "required": True},
        port={"type": "str", "required": True},
        hairpin={"type": "bool"},
        isolated={"type": "bool"},
    ),
    "netns_address": _spec(
        NETNS, STATE, FORCE,
        interface={"type": "str", "required": True},
        addresses={"type": "list", "elements": "str", "required": True},
    ),
    "netns_route": _spec(
        NETNS, STATE, FORCE,
        dst={"type": "str", "required": True},
        gateway={"type": "str"},
        dev={"type": "str"},
        metric={"type": "int"},
        table={"type": "str"},
    ),
    "nat_masquerade": _spec(
        NETNS, STATE,
        source={"type": "str", "required": True},
        out_interface={"type": "str"},
        forwarding={"type": "bool", "default": True},
    ),
    "port_forward": _spec(
        NETNS, STATE, FORCE,
        protocol={"type": "str", "choices": ["tcp", "udp"], "default": "tcp"},
        port={"type": "str", "required": True},
        destination={"type": "str"},
        destination_port={"type": "int"},
        host_address={"type": "str"},
        in_interface={"type": "str"},
        forwarding={"type": "bool", "default": True},
    ),
    "vxlan": _spec(
        NETNS, STATE, FORCE, COEXIST,
        name={"type": "str", "required": True},
        vni={"type": "int"},
        local={"type": "str"},
        remotes={"type": "list", "elements": "str"},
        dstport={"type": "int", "default": 4789},
        dev={"type": "str"},
        bridge={"type": "str"},
        mtu={"type": "int"},
        addresses={"type": "list", "elements": "str"},
        up={"type": "bool", "default": True},
        fit_ports={"type": "bool", "default": False},
    ),
    "nat_exemption": _spec(
        NETNS, STATE,
        destination={"type": "str", "required": True},
        source={"type": "str"},
    ),
    "netns_firewall": _spec(
        NETNS, STATE,
        source={"type": "str"},
        destination={"type": "str"},
        protocol={"type": "str", "choices": ["tcp", "udp", "icmp"]},
        port={"type": "str"},
        action={"type": "str", "choices": ["accept", "drop"], "default": "accept"},
    ),
    "macvlan": _spec(
        NETNS, STATE, FORCE,
        name={"type": "str", "required": True},
        parent={"type": "str"},
        mode={"type": "str", "choices": ["bridge", "vepa", "private", "passthru"], "default": "bridge"},
        addresses={"type": "list", "elements": "str"},
        mtu={"type": "int"},
        mac={"type": "str"},
        up={"type": "bool", "default": True},
        shim={"type": "str"},
    ),
    "ipvlan": _spec(
        NETNS, STATE, FORCE,
        name={"type": "str", "required": True},
        parent={"type": "str"},
        mode={"type": "str", "choices": ["l2", "l3", "l3s"], "default": "l2"},
        flags={"type": "str", "choices": ["bridge", "private", "vepa"], "default": "bridge"},
        addresses={"type": "list", "elements": "str"},
        mtu={"type": "int"},
        up={"type": "bool", "default": True},
    ),
}

# netns_topology's own options (its items take the SPECS above).
TOPOLOGY = _spec(
    STATE, FORCE,
    topology={"type": "dict", "default": {}},
    name={"type": "str", "default": "default"},
    prune={"type": "bool", "default": False},
    persist={"type": "bool", "default": False},
    annotations={"type": "dict"},
)

# netns_service: a command run by systemd inside a namespace.
SERVICE = _spec(
    STATE,
    name={"type": "str", "required": True},
    netns={"type": "str"},
    command={"type": "raw"},
    description={"type": "str"},
    user={"type": "str"},
    group={"type": "str"},
    working_directory={"type": "str"},
    environment={"type": "dict", "default": {}},
    restart={"type": "str", "choices": ["no", "on-success", "on-failure", "on-abnormal", "on-abort", "always"],
             "default": "on-failure"},
)

# netns_info and netns_probe only read.
INFO = {"netns": {"type": "str"}}
PROBE = {
    "netns": {"type": "str"},
    "target": {"type": "str", "required": True},
    "port": {"type": "int"},
    "protocol": {"type": "str", "choices": ["icmp", "tcp", "udp"], "default": "icmp"},
    "expect": {"type": "str", "choices": ["success", "failure"], "default": "success"},
    "timeout": {"type": "float", "default": 1.0},
    "count": {"type": "int", "default": 1},
}
OTHERS = {"netns_topology": TOPOLOGY, "netns_service": SERVICE, "netns_info": INFO, "netns_probe": PROBE}

REQUIRED_IF = {
    "veth": [("state", "present", ("peer",))],
    "port_forward": [("state", "present", ("destination",))],
    "vxlan": [("state", "present", ("vni",))],
    "netns_service": [("state", "present", ("netns", "command"))],
    "netns_probe": [("protocol", "tcp", ("port",)), ("protocol", "udp", ("port",))],
    "macvlan": [("state", "present", ("parent",))],
    "ipvlan": [("state", "present", ("parent",))],
}

# Modules whose action plugin (plugin_utils/connection_guard.py) passes the connection guard options.
_PATH = ("connection_address", "controller_address")
GUARDED = {
    "veth": _PATH,
    "bridge": _PATH,
    "bridge_port": _PATH,
    "netns_address": _PATH,
    "netns_route": _PATH,
    "vxlan": _PATH,
    "port_forward": _PATH + ("connection_port",),
    "netns_topology": _PATH + ("connection_port",),
    "macvlan": _PATH,
    "ipvlan": _PATH,
}

# Every module that converges through the engine waits for the host lock (module_utils/hostfiles.py).
LOCK = {"lock_timeout": {"type": "int", "default": 300}}
LOCKED = set(SPECS) | {"netns_topology"}


def module_args(name):
    """The keyword arguments of module ``name``'s AnsibleModule: its argument_spec (its options,
    the lock and guard options where it takes them) and required_if, with check mode."""
    spec = dict(SPECS[name] if name in SPECS else OTHERS[name])
    if name in LOCKED:
        spec.update(LOCK)
    for option in GUARDED.get(name, ()):
        spec[option] = CONNECTION[option]
    return {"argument_spec": spec, "required_if": REQUIRED_IF.get(name, []), "supports_check_mode": True}
