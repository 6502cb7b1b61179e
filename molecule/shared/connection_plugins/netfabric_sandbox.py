# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Test infrastructure of the molecule scenarios: not part of the built collection (galaxy.yml build_ignore).

from __future__ import annotations

DOCUMENTATION = r"""
name: netfabric_sandbox
short_description: Run tasks inside a netfabric sandbox host (nsenter into its namespaces)
description:
  - Reaches a sandbox host started by C(tools/sandbox.py) of the netfabric.netns repository, a process tree
    with its own network, mount, UTS, IPC and PID namespaces that stands for a separate Linux host.
  - Every command, C(raw) included, runs as C(nsenter -t PID -n -m -u -i -p -- /bin/sh -c CMD) where PID is
    the sandbox's PID 1. CMD is passed to nsenter as one argument, so no part of a command list ever runs on
    the controller.
  - Files are copied with C(cat) running inside the sandbox (its mount namespace), so paths resolve exactly as
    modules inside see them.
  - Before every command the sandbox is checked again (same PID 1 with the start time recorded by
    C(tools/sandbox.py), network and mount namespaces different from the controller's own); the plugin
    refuses to run anything when a check fails, so a stale PID can never lead into the controller's namespace.
  - Based on the C(local) connection; supports pipelining and C(become).
author:
  - netfabric.netns contributors
options:
  sandbox:
    description:
      - Name of the sandbox host, as given to C(tools/sandbox.py start NAME).
      - Defaults to C(ansible_host), else the inventory host name.
    type: str
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: netfabric_sandbox
  sandbox_pid:
    description:
      - PID (in the controller's PID namespace) of the sandbox's PID 1. When set, O(sandbox) and
        O(sandbox_dir) are not used to find it.
    type: int
    vars:
      - name: netfabric_sandbox_pid
  sandbox_dir:
    description:
      - The state directory of C(tools/sandbox.py) that records the sandbox (C(<sandbox_dir>/<sandbox>/pid)
        and C(pid.start)).
    type: str
    default: /tmp/netfabric-sandboxes
    env:
      - name: NETFABRIC_SANDBOX_DIR
    vars:
      - name: netfabric_sandbox_dir
  nsenter_path:
    description:
      - The nsenter program on the controller.
    type: str
    default: nsenter
    vars:
      - name: netfabric_nsenter_path
  become_success_timeout:
    description:
      - Number of seconds to wait for become to succeed when enabled.
      - The default will be used if the configured value is less than 1.
    type: int
    default: 10
    vars:
      - name: ansible_local_become_success_timeout
  become_strip_preamble:
    description:
      - Strip internal become output preceding command execution. Disable for additional diagnostics.
    type: bool
    default: true
    vars:
      - name: ansible_local_become_strip_preamble
extends_documentation_fragment:
  - connection_pipelining
notes:
  - Run the controller as root; nsenter needs it.
  - The sandbox's mount namespace sees the controller's file system except what the sandbox mounts over it
    (C(/run/netns), C(/sys), C(/proc), overlays of C(/etc) and C(/var/lib)), so an interpreter such as a
    virtualenv's python on the controller works inside.
"""

EXAMPLES = r"""
# inventory
all:
  hosts:
    host1:
      ansible_connection: netfabric_sandbox
      ansible_host: mol-default-host1           # the sandbox's name
      netfabric_sandbox_dir: /work/main/.build/sandboxes
      ansible_python_interpreter: /work/main/.venv/bin/python
"""

import os
import shlex
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.connection.local import Connection as LocalConnection
from ansible.utils.display import Display

display = Display()

NAMESPACES = ("-n", "-m", "-u", "-i", "-p")


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _start_time(pid):
    """Field 22 of /proc/PID/stat (start time in clock ticks), None when PID does not exist or is a zombie."""
    raw = _read("/proc/%d/stat" % pid)
    if raw is None:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def _ns_identity(path):
    info = os.stat(path)
    return info.st_dev, info.st_ino


class Connection(LocalConnection):
    """Commands and files inside a sandbox host, through nsenter."""

    transport = "netfabric_sandbox"
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sandbox_pid = None

    # -- the sandbox -------------------------------------------------------------------------------
    def _find_pid(self):
        """PID 1 of the sandbox, checked: alive, as recorded, and not the controller's namespaces."""
        pid = self.get_option("sandbox_pid")
        name = self.get_option("sandbox") or self._play_context.remote_addr
        if pid:
            pid = int(pid)
            where = "pid %d" % pid
            if _start_time(pid) is None:
                raise AnsibleConnectionFailure("netfabric_sandbox: %s (netfabric_sandbox_pid) is not running" % where)
        else:
            state = os.path.join(self.get_option("sandbox_dir"), name or "")
            where = "sandbox %r (%s)" % (name, state)
            recorded = _read(os.path.join(state, "pid"))
            if not name or not recorded or not recorded.isdigit():
                raise AnsibleConnectionFailure("netfabric_sandbox: %s is not running (no pid file)" % where)
            pid = int(recorded)
            started = _read(os.path.join(state, "pid.start"))
            alive = _start_time(pid)
            if alive is None or (started is not None and alive != started):
                raise AnsibleConnectionFailure("netfabric_sandbox: %s is not running (pid %d is gone)" % (where, pid))
        for kind in ("net", "mnt"):
            try:
                theirs = _ns_identity("/proc/%d/ns/%s" % (pid, kind))
                ours = {_ns_identity("/proc/self/ns/%s" % kind)}
            except OSError as exc:
                raise AnsibleConnectionFailure("netfabric_sandbox: cannot read the namespaces of %s: %s" % (where, exc)) from exc
            try:
                ours.add(_ns_identity("/proc/1/ns/%s" % kind))
            except OSError:
                pass  # the machine's PID 1 may be out of reach (containers); our own namespace is checked
            if theirs in ours:
                raise AnsibleConnectionFailure(
                    "netfabric_sandbox: %s shares the controller's %s namespace; refusing to run anything there" % (where, kind))
        return pid

    def _nsenter(self):
        """The command prefix that enters every namespace of the sandbox (checked anew each time)."""
        self._sandbox_pid = self._find_pid()
        return [self.get_option("nsenter_path"), "-t", str(self._sandbox_pid)] + list(NAMESPACES) + ["--"]

    def _connect(self):
        super()._connect()
        if self._sandbox_pid is None:
            self._sandbox_pid = self._find_pid()
            display.vvv("SANDBOX PID %d" % self._sandbox_pid, host=self._play_context.remote_addr)
        return self

    # -- commands ----------------------------------------------------------------------------------
    def exec_command(self, cmd, in_data=None, sudoable=True):
        """Run cmd with /bin/sh -c inside the sandbox.

        The local connection runs its command string with the controller's /bin/sh: that shell only
        execs nsenter, whose arguments are quoted, and the whole of cmd is one of them.
        """
        wrapped = "exec " + shlex.join(self._nsenter() + ["/bin/sh", "-c", to_text(cmd, errors="surrogate_or_strict")])
        return super().exec_command(wrapped, in_data=in_data, sudoable=sudoable)

    # -- files -------------------------------------------------------------------------------------
    def _run_inside(self, script, path, stdin, stdout, what):
        argv = self._nsenter() + ["/bin/sh", "-c", script, "sh", path]
        proc = subprocess.run(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            raise AnsibleError("netfabric_sandbox: failed to %s %r (rc %d): %s" % (
                what, path, proc.returncode, to_native(proc.stderr).strip()))

    def put_file(self, in_path, out_path):
        """Copy a controller file to out_path inside the sandbox (cat running in its mount namespace)."""
        super(LocalConnection, self).put_file(in_path, out_path)  # pylint: disable=bad-super-call
        display.vvv("PUT %s TO %s" % (in_path, out_path), host=self._play_context.remote_addr)
        if not os.path.exists(to_bytes(in_path, errors="surrogate_or_strict")):
            raise AnsibleFileNotFound("file or module does not exist: %s" % to_native(in_path))
        with open(to_bytes(in_path, errors="surrogate_or_strict"), "rb") as source:
            self._run_inside('cat > "$1"', out_path, source, subprocess.DEVNULL, "write")

    def fetch_file(self, in_path, out_path):
        """Copy in_path inside the sandbox to out_path on the controller."""
        super(LocalConnection, self).fetch_file(in_path, out_path)  # pylint: disable=bad-super-call
        display.vvv("FETCH %s TO %s" % (in_path, out_path), host=self._play_context.remote_addr)
        with open(to_bytes(out_path, errors="surrogate_or_strict"), "wb") as target:
            self._run_inside('exec cat -- "$1"', in_path, subprocess.DEVNULL, target, "read")

    def close(self):
        self._sandbox_pid = None
        super().close()
