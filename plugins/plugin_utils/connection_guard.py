# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin base: tells link modules which address Ansible connects to.

A module cannot see ``ansible_host``; without it, it cannot refuse to enslave,
move or delete the interface that carries the connection, or (port_forward) to
forward away the port of the connection.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.netfabric.netns.plugins.module_utils.specs import GUARDED


class ConnectionGuardAction(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        guarded = GUARDED[self._task.resolved_action.rsplit(".", 1)[-1]]  # the options the module takes
        if args.get("connection_address") is None and self._play_context.remote_addr:
            args["connection_address"] = str(self._play_context.remote_addr)
        if args.get("connection_port") is None and "connection_port" in guarded:
            port = self._play_context.port
            if port is None and self._connection.transport.rsplit(".", 1)[-1] in ("ssh", "paramiko_ssh"):
                port = 22
            if port is not None:
                args["connection_port"] = int(port)
        result.update(self._execute_module(module_name=self._task.resolved_action, module_args=args,
                                           task_vars=task_vars))
        return result
