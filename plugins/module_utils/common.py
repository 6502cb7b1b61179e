# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible glue shared by the modules (private to the collection).

The only layer below ``plugins/modules`` that knows about AnsibleModule.
"""

from __future__ import annotations

import gc
import ipaddress
import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError
from ansible_collections.netfabric.netns.plugins.module_utils.guard import Connection
from ansible_collections.netfabric.netns.plugins.module_utils.specs import module_args


def pyroute2_too_old(version):
    """True for versions before 0.9, whose API this collection does not speak."""
    try:
        major, minor = (int(x) for x in str(version).split(".")[:2])
    except ValueError:
        return False
    return (major, minor) < (0, 9)


def require_pyroute2(module):
    """Fail clearly when pyroute2 is missing or older than 0.9. This imports it, once per
    run: the engine's netlink layer (rtnl.py) is built on it."""
    collecting = gc.isenabled()
    gc.disable()  # its import makes some ten thousand objects: no collection on the way saves a tenth of it
    try:
        import pyroute2
    except ImportError:
        # format_exc, not format_exception(exc): the one-argument form needs Python 3.10
        module.fail_json(msg=missing_required_lib("pyroute2 >= 0.9"), exception=traceback.format_exc())
    finally:
        if collecting:
            gc.enable()
    version = getattr(pyroute2, "__version__", "unknown")
    if pyroute2_too_old(version):
        module.fail_json(msg=f"pyroute2 {version} is too old: netfabric.netns needs pyroute2 >= 0.9 "
                             "(Debian 12's python3-pyroute2 is 0.7.2; install a newer one with pip)")


def connection(module):
    """What is known of Ansible's connection (guard.Connection): the host's addresses it connects
    to and the controller's addresses, passed by the action plugin (ansible_host resolved on the
    controller) and read from SSH_CONNECTION (which ``become`` may drop), and the port."""
    local = list(module.params.get("connection_address") or [])
    controllers = list(module.params.get("controller_address") or [])
    ssh = os.environ.get("SSH_CONNECTION", "").split()
    port = module.params.get("connection_port")
    if len(ssh) == 4:
        controllers.append(ssh[0])
        local.append(ssh[2])
        if port is None and ssh[3].isdigit():
            port = int(ssh[3])
    return Connection(_addresses(local), _addresses(controllers), port)


def lock_timeout(module):
    """How long to wait for another run on the host (fail_json on a negative value)."""
    timeout = module.params["lock_timeout"]
    if timeout < 0:
        module.fail_json(msg=f"lock_timeout: must be 0 or more seconds, got {timeout}")
    return timeout


def _addresses(candidates):
    found = []
    for candidate in candidates:
        try:
            address = str(ipaddress.ip_address((candidate or "").split("%")[0]))
        except ValueError:
            continue
        if address not in found:
            found.append(address)
    return tuple(found)


def run_module(name, resource_class, result_key):
    """The whole of a resource module: its AnsibleModule (specs.module_args), the resource built
    from its parameters, converged; exits with actions, diff and the state after as ``result_key``."""
    module = AnsibleModule(**module_args(name))
    require_pyroute2(module)
    # imported here so that a missing pyroute2 is reported by require_pyroute2 above
    from ansible_collections.netfabric.netns.plugins.module_utils.engine import converge

    try:
        resource = resource_class.from_params(module.params)
        result = converge([resource], module.check_mode, connection(module), lock_timeout(module))
    except NetfabricError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    for warning in result.pop("warnings"):
        module.warn(warning)
    before, after = result.pop("diffs")[0]
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    result[result_key] = after
    module.exit_json(**result)
