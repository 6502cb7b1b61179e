# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netns_service: a command run by systemd inside a named namespace (private to the collection).

The unit runs in the namespace (NetworkNamespacePath=/run/netns/NAME), sees the namespace's
own resolv.conf and hosts (netns_files.py) as /etc/resolv.conf and /etc/hosts, as ``ip netns
exec`` would show them, and is ordered after netfabric-restore.service, so at boot it starts
once the persisted topologies (persist.py) have made its namespace.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from typing import Optional

from ansible_collections.netfabric.netns.plugins.module_utils import units
from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError, ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.netns_files import paths as netns_paths
from ansible_collections.netfabric.netns.plugins.module_utils.persist import RESTORE_UNIT, load_stored

PREFIX = "netfabric-svc-"
NETNS_DIR = "/run/netns"
RUNNING = ("active", "activating", "reloading")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
_NETNS = re.compile(r"^[A-Za-z0-9_.+-]{1,200}$")  # no ':' or spaces: BindReadOnlyPaths splits on them
_ACCOUNT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check(path, value, pattern, what):
    if not isinstance(value, str) or not pattern.match(value):
        raise ValidationError(path, f"{value!r} is not a valid {what}")
    return value


@dataclass(frozen=True)
class Service:
    name: str
    netns: Optional[str] = None
    command: tuple = ()
    description: Optional[str] = None
    user: Optional[str] = None
    group: Optional[str] = None
    working_directory: Optional[str] = None
    environment: tuple = ()  # ((key, value), ...)
    restart: str = "on-failure"
    state: str = "present"

    @classmethod
    def from_params(cls, p):
        state = p.get("state") or "present"
        name = _check("name", p.get("name"), _NAME, "service name (letters, digits, '_', '.', '-')")
        netns = p.get("netns")
        if netns is not None:
            _check("netns", netns, _NETNS, "namespace name for a service (letters, digits, '_', '.', '+', '-')")
        command = p.get("command")
        if isinstance(command, str):
            try:
                command = shlex.split(command)
            except ValueError as exc:
                raise ValidationError("command", f"{command!r}: {exc}") from None
        if command is not None and (not isinstance(command, (list, tuple)) or
                                    not all(isinstance(arg, (str, int, float)) for arg in command)):
            raise ValidationError("command", f"must be a command line or a list of arguments, got {command!r}")
        command = tuple(str(arg) for arg in command or ())
        if state == "present":
            if netns is None:
                raise ValidationError("netns", "is required when state is present")
            if not command or not command[0]:
                raise ValidationError("command", "is required when state is present")
            if command[0][0] in "-@+!:":
                raise ValidationError("command", f"'{command[0]}': the program may not start with '{command[0][0]}'")
        for i, arg in enumerate(command):
            if "\n" in arg or "\0" in arg:
                raise ValidationError(f"command[{i}]", "contains a line break")
        environment = []
        for key, value in sorted((p.get("environment") or {}).items()):
            _check("environment", key, _ENV_KEY, "variable name")
            if "\n" in str(value):
                raise ValidationError(f"environment.{key}", "contains a line break")
            environment.append((key, str(value)))
        directory = p.get("working_directory")
        if directory is not None and (not os.path.isabs(directory) or "\n" in directory):
            raise ValidationError("working_directory", f"'{directory}' is not an absolute path")
        description = p.get("description")
        if description is not None and "\n" in description:
            raise ValidationError("description", "contains a line break")
        return cls(
            name=name, netns=netns, command=command, description=description,
            user=_check("user", p["user"], _ACCOUNT, "user name") if p.get("user") else None,
            group=_check("group", p["group"], _ACCOUNT, "group name") if p.get("group") else None,
            working_directory=directory, environment=tuple(environment),
            restart=p.get("restart") or "on-failure", state=state,
        )

    @property
    def unit(self):
        return f"{PREFIX}{self.name}.service"

    def text(self):
        resolv, hosts = netns_paths(self.netns)
        lines = [
            f"# Written by netfabric.netns (netns_service '{self.name}'); removed with state: absent.",
            "[Unit]",
            f"Description={units.escape(self.description or f'{self.name} in network namespace {self.netns}')}",
            f"After={RESTORE_UNIT}",
            "",
            "[Service]",
            "Type=exec",
            f"NetworkNamespacePath={os.path.join(NETNS_DIR, self.netns)}",
            # '-': the file may not exist (no dns or hosts for the namespace); then the host's is seen
            f"BindReadOnlyPaths=-{resolv}:/etc/resolv.conf",
            f"BindReadOnlyPaths=-{hosts}:/etc/hosts",
            f"ExecStart={units.exec_args(self.command)}",
            f"Restart={self.restart}",
        ]
        if self.user:
            lines.append(f"User={self.user}")
        if self.group:
            lines.append(f"Group={self.group}")
        if self.working_directory:
            lines.append(f"WorkingDirectory={units.escape(self.working_directory)}")
        for key, value in self.environment:
            escaped = units.escape(value).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'Environment="{key}={escaped}"')
        lines += ["", "[Install]", "WantedBy=multi-user.target"]
        return "\n".join(lines) + "\n"


def _persisted(netns):
    """True when a stored (persisted) topology declares the namespace."""
    for doc in load_stored()[0]:
        for item in doc["topology"].get("namespaces") or []:
            if isinstance(item, dict) and item.get("name") == netns and item.get("state", "present") != "absent":
                return True
    return False


def _systemctl_or_explain(verb, unit):
    def run():
        proc = units.systemctl(verb, unit, check=False)
        if proc.returncode != 0:
            status = units.systemctl("status", "--no-pager", "--lines=10", unit, check=False).stdout.strip()
            raise NetfabricError(f"service '{unit}': systemctl {verb} failed: {(proc.stderr or '').strip()}\n{status}")
    return run


def converge(service, check_mode=False):
    """Install, enable and start (or stop, disable and remove) the service's unit."""
    if not units.booted():
        raise NetfabricError(f"netns_service needs systemd as the init system of the host "
                             f"({units.SYSTEMD_RUNNING} does not exist)")
    unit = service.unit
    path = os.path.join(units.UNIT_DIR, unit)
    wants = units.wanted_by("multi-user.target", unit)
    changes = units.Changes(f"service '{unit}'")
    state = units.active_state(unit)
    before = units.read_text(path) or ""
    warnings = []
    if service.state == "present":
        if not os.path.exists(os.path.join(NETNS_DIR, service.netns)):
            if not check_mode:
                raise ValidationError("netns", f"namespace '{service.netns}' does not exist")
            warnings.append(f"netns: namespace '{service.netns}' does not exist; check mode assumes an earlier task "
                            "creates it")
        if not _persisted(service.netns):
            warnings.append(f"netns: namespace '{service.netns}' is not declared by a persisted topology "
                            "(netns_topology persist: true): after a reboot the service fails until something "
                            "creates the namespace")
        changes.file(path, service.text())
        changes.symlink(wants, path)
        files_changed = changes.changed
        if files_changed:
            changes.add("systemctl daemon-reload", lambda: units.systemctl("daemon-reload"))
        if state not in RUNNING:
            changes.add("start", _systemctl_or_explain("start", unit))
        elif files_changed:
            changes.add("restart", _systemctl_or_explain("restart", unit))
    else:
        if state in RUNNING:
            changes.add("stop", _systemctl_or_explain("stop", unit))
        changes.absent(wants)
        changes.absent(path)
        if changes.touches(units.UNIT_DIR):
            changes.add("systemctl daemon-reload", lambda: units.systemctl("daemon-reload"))
        if state == "failed":
            changes.add("forget its failed state", lambda: units.systemctl("reset-failed", unit, check=False))
    if not check_mode:
        changes.apply()
    return {
        "changed": changes.changed,
        "actions": changes.actions,
        "warnings": warnings,
        "diff": {"before": before, "after": service.text() if service.state == "present" else ""},
        "unit": unit,
        "unit_file": path,
    }
