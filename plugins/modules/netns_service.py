#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: netns_service
short_description: Run a command as a systemd service inside a network namespace
version_added: 0.2.0
description:
  - Writes the unit C(/etc/systemd/system/netfabric-svc-<name>.service), enables it (C(multi-user.target)) and
    starts it; a changed unit restarts the service. O(state=absent) stops it, disables it and removes the unit.
  - The service runs inside the namespace O(netns) (C(NetworkNamespacePath=/run/netns/<netns>)) and sees the
    namespace's own C(/etc/netns/<netns>/resolv.conf) and C(/etc/netns/<netns>/hosts) (the O(netfabric.netns.netns#module:dns)
    and O(netfabric.netns.netns#module:hosts) options of M(netfabric.netns.netns)) as C(/etc/resolv.conf) and
    C(/etc/hosts), as C(ip netns exec) would show them; without them, the host's own.
  - The unit is ordered after C(netfabric-restore.service), so at boot it starts once the topologies persisted by
    M(netfabric.netns.netns_topology) (O(netfabric.netns.netns_topology#module:persist=true)) have made its namespace.
options:
  name:
    description:
      - Name of the service; the unit is C(netfabric-svc-<name>.service). Letters, digits, C(_), C(.) and C(-).
    type: str
    required: true
  netns:
    description:
      - The namespace the service runs in (under C(/run/netns)). Required with O(state=present).
      - It must exist when the task runs (in check mode a missing one is taken as created by an earlier task, with a
        warning). The module warns when no persisted topology declares it, since then nothing makes it at boot.
    type: str
  command:
    description:
      - The command, as a list of arguments or as one command line split like a shell would (no shell runs it; for
        pipes or redirections use V([/bin/sh, -c, "..."])). Required with O(state=present).
      - The program is an absolute path, or a name found in systemd's C(PATH).
      - Every argument reaches the program exactly as given (systemd's C($) and C(%) expansions are escaped).
    type: raw
  description:
    description: The unit's description; default C(<name> in network namespace <netns>).
    type: str
  user:
    description: Run as this user (default root).
    type: str
  group:
    description: Run with this group.
    type: str
  working_directory:
    description: The working directory (an absolute path).
    type: str
  environment:
    description: Environment variables of the service.
    type: dict
    default: {}
  restart:
    description: When systemd restarts the service (its C(Restart=)).
    type: str
    choices: ["no", on-success, on-failure, on-abnormal, on-abort, always]
    default: on-failure
  state:
    description:
      - V(present) writes, enables and starts the service (restarts it when the unit changed, starts it when it is not
        running). V(absent) stops, disables and removes it.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - systemd as the init system of the managed host (C(/run/systemd/system) exists); systemd 242 or later.
notes:
  - Only C(resolv.conf) and C(hosts) of C(/etc/netns/<netns>/) are shown to the service (C(ip netns exec) shows every
    file there).
  - A service does not follow its namespace - when the namespace is deleted and made again, restart the service.
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Check mode lists the same steps (RV(actions)) as a real run and changes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
    details: The unit file before and after.
extends_documentation_fragment:
  - netfabric.netns.common.attributes
seealso:
  - module: netfabric.netns.netns
  - module: netfabric.netns.netns_topology
author:
  - Netfabric developers (@netfabric)
"""

EXAMPLES = r"""
- name: Blue's web server, started at boot once the persisted topology has made blue
  netfabric.netns.netns_service:
    name: blue-web
    netns: blue
    command: [/usr/bin/python3, -m, http.server, --bind, 192.168.15.2, "80"]
    working_directory: /srv/blue

- name: A command line, with an environment
  netfabric.netns.netns_service:
    name: red-worker
    netns: red
    command: /usr/local/bin/worker --queue "jobs high"
    environment:
      WORKER_THREADS: "4"
    user: worker

- name: Remove it
  netfabric.netns.netns_service:
    name: red-worker
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or in check mode would do, in order.
  returned: always
  type: list
  elements: str
  sample: ["service 'netfabric-svc-blue-web.service': write /etc/systemd/system/netfabric-svc-blue-web.service",
           "service 'netfabric-svc-blue-web.service': start"]
unit:
  description: The systemd unit's name.
  returned: always
  type: str
  sample: netfabric-svc-blue-web.service
unit_file:
  description: Where the unit is written.
  returned: always
  type: str
  sample: /etc/systemd/system/netfabric-svc-blue-web.service
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError
from ansible_collections.netfabric.netns.plugins.module_utils.service import Service, converge
from ansible_collections.netfabric.netns.plugins.module_utils.specs import module_args


def main():
    module = AnsibleModule(**module_args("netns_service"))
    try:
        result = converge(Service.from_params(module.params), module.check_mode)
    except NetfabricError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    for warning in result.pop("warnings"):
        module.warn(warning)
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
