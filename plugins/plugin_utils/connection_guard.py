# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin base: tells the modules how Ansible reaches the host.

A module cannot see ``ansible_host`` nor where the controller is; without them it cannot
refuse a change that cuts the connection (module_utils/guard.py). The name in
``ansible_host`` is resolved here, on the controller, as the connection resolves it, and
the controller's own address towards each result is worked out (a UDP socket's source
address: nothing is sent), so the guard works whether or not ``become`` keeps
SSH_CONNECTION.
"""

from __future__ import annotations

import socket

from ansible.plugins.action import ActionBase

from ansible_collections.netfabric.netns.plugins.module_utils.specs import GUARDED


def resolve(host):
    """The IP addresses of ``host`` (a name or a literal address), in resolver order; [] if none."""
    host = (host or "").split("%")[0].strip("[]")
    if not host:
        return []
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    found = []
    for info in infos:
        address = info[4][0].split("%")[0]
        if address not in found:
            found.append(address)
    return found


def source_address(address):
    """The address this machine would send from to reach ``address``, or None."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((address, 9))
            return sock.getsockname()[0].split("%")[0]
    except OSError:
        return None


class ConnectionGuardAction(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        guarded = GUARDED[self._task.resolved_action.rsplit(".", 1)[-1]]  # the options the module takes
        addresses = resolve(self._play_context.remote_addr)
        if args.get("connection_address") is None:
            args["connection_address"] = addresses
        if args.get("controller_address") is None:
            args["controller_address"] = [a for a in map(source_address, addresses) if a]
        if args.get("connection_port") is None and "connection_port" in guarded:
            port = self._play_context.port
            if port is None and self._connection.transport.rsplit(".", 1)[-1] in ("ssh", "paramiko_ssh"):
                port = 22
            if port is not None:
                args["connection_port"] = int(port)
        result.update(self._execute_module(module_name=self._task.resolved_action, module_args=args,
                                           task_vars=task_vars))
        return result
