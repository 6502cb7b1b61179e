# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewalld's zones, through its D-Bus interface (private to the collection).

Where firewalld runs (its nftables table ``inet firewalld`` is there), the collection binds its
interfaces to the zone ``trusted``, at runtime and in the permanent configuration, so that
``firewall-cmd --reload`` and a restart of firewalld keep them there (docs/nat.md says why
trusted). It talks to firewalld with ``busctl`` (systemd's D-Bus client), as firewall-cmd
does through python3-dbus, without starting a Python interpreter per call.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess

from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError

TABLE = "inet firewalld"  # firewalld's own nftables table: it runs (with the nftables backend)
ZONE = "trusted"
KEY = "firewalld "  # the settings record's key of an interface bound by the collection: 'firewalld br0'
_BUS = "org.fedoraproject.FirewallD1"
_PATH = "/org/fedoraproject/FirewallD1"
_RUNTIME = (_PATH, f"{_BUS}.zone")
_CONFIG = (f"{_PATH}/config", f"{_BUS}.config")


class FirewalldError(NetfabricError):
    """firewalld's D-Bus interface refused a call or cannot be reached."""


def zones(interfaces):
    """{interface: (runtime zone, permanent zone)}, '' where it is in none."""
    return {name: (_call(*_RUNTIME, "getZoneOfInterface", "s", name), _call(*_CONFIG, "getZoneOfInterface", "s", name))
            for name in interfaces}


def apply(interface, zone, add):
    """Bind ``interface`` to ``zone`` (add) or release it from ``zone``, at runtime and permanently;
    what is already so is left."""
    runtime, permanent = zones([interface])[interface]
    config = _call(*_CONFIG, "getZoneByName", "s", zone, kind="o")
    if add:
        if runtime != zone:
            _call(*_RUNTIME, "changeZoneOfInterface" if runtime else "addInterface", "ss", zone, interface)
        if permanent != zone:
            _call(config, f"{_BUS}.config.zone", "addInterface", "s", interface)
    else:
        if runtime == zone:
            _call(*_RUNTIME, "removeInterface", "ss", zone, interface)
        if permanent == zone:
            _call(config, f"{_BUS}.config.zone", "removeInterface", "s", interface)


def _call(path, interface, method, signature, *args, kind="s"):
    """One method call on the system bus; its single string (or object path) answer."""
    if shutil.which("busctl") is None:
        raise FirewalldError("firewalld runs but busctl (package systemd) is missing: the collection talks to "
                             "firewalld through it; install it, or set firewalld: off")
    argv = ["busctl", "--system", "call", _BUS, path, interface, method, signature] + [str(a) for a in args]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise FirewalldError(f"firewalld (D-Bus {method} {' '.join(shlex.quote(str(a)) for a in args)}): "
                             f"{proc.stderr.strip() or proc.returncode}")
    words = shlex.split(proc.stdout.strip())
    return words[1] if len(words) > 1 and words[0] == kind else ""
