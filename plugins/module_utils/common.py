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

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError


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


def connection_addresses(module):
    """The addresses Ansible reaches this host on: ansible_host (passed by the action
    plugin) when it is an IP address, and the server side of SSH_CONNECTION."""
    candidates = [module.params.get("connection_address")]
    ssh = os.environ.get("SSH_CONNECTION", "").split()
    if len(ssh) == 4:
        candidates.append(ssh[2])
    found = []
    for candidate in candidates:
        try:
            found.append(str(ipaddress.ip_address((candidate or "").split("%")[0])))
        except ValueError:
            continue
    return found


def connection_port(module):
    """The port Ansible reaches this host on: passed by the action plugin, else SSH_CONNECTION."""
    if module.params.get("connection_port"):
        return module.params["connection_port"]
    ssh = os.environ.get("SSH_CONNECTION", "").split()
    return int(ssh[3]) if len(ssh) == 4 and ssh[3].isdigit() else None


def run_module(module, resource_class, result_key):
    """Build the resource, converge it, and exit with actions, diff and the state after."""
    require_pyroute2(module)
    # imported here so that a missing pyroute2 is reported by require_pyroute2 above
    from ansible_collections.netfabric.netns.plugins.module_utils.engine import converge

    try:
        resource = resource_class.from_params(module.params)
        result = converge([resource], module.check_mode, connection_addresses(module),
                          connection_port=connection_port(module))
    except NetfabricError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    for warning in result.pop("warnings"):
        module.warn(warning)
    before, after = result.pop("diffs")[0]
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    result[result_key] = after
    module.exit_json(**result)
