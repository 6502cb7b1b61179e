# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files the collection writes outside the kernel, and systemd (private to the collection).

Used by netns_topology's persistence (persist.py), netns_service (service.py) and the
namespaces' resolv.conf and hosts (netns_files.py): a plan of file changes that check mode
reports and a real run applies, each file written atomically; systemd's quoting for unit
files; systemctl, when systemd runs the host.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError
from ansible_collections.netfabric.netns.plugins.module_utils.hostfiles import write_atomically

UNIT_DIR = "/etc/systemd/system"
SYSTEMD_RUNNING = "/run/systemd/system"  # exists when systemd is the init system (sd_booted())
_BARE = re.compile(r"^[A-Za-z0-9_/.,:+=@%$-]+$")


def booted():
    """True when systemd runs this host (it can be asked to reload, start, stop)."""
    return os.path.isdir(SYSTEMD_RUNNING)


def escape(text):
    """A value for a unit file setting: no line breaks, specifiers (%) escaped."""
    if "\n" in text or "\r" in text or "\0" in text:
        raise ValueError(f"{text!r} contains a line break or NUL")
    return text.replace("%", "%%")


def exec_args(argv):
    """An Exec*= command line: each argument bare when it can be, else double-quoted;
    % and $ escaped, so systemd passes every argument exactly as given."""
    words = []
    for arg in argv:
        arg = escape(str(arg)).replace("$", "$$")
        if not _BARE.match(arg):
            arg = '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
        words.append(arg)
    return " ".join(words)


def read_text(path):
    """The file's text, or None when it does not exist (a dangling symlink counts as missing)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def write_atomic(path, content, mode=0o644, dir_mode=0o755):
    """Write a file whole or not at all (hostfiles.write_atomically), making its directory."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=dir_mode)
        os.chmod(directory, dir_mode)
    write_atomically(path, content, mode)


def remove_path(path):
    """Remove a file, a link or a whole directory tree."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


class Change:
    """One planned step: its text (an action), what it does, and the file's text before and after."""

    __slots__ = ("text", "run", "path", "before", "after")

    def __init__(self, text, run, path=None, before=None, after=None):
        self.text, self.run, self.path, self.before, self.after = text, run, path, before, after


class Changes:
    """Files (and systemctl calls) to bring to their desired state, in order."""

    def __init__(self, subject):
        self.subject = subject  # the actions read "<subject>: <verb>"
        self.items = []

    @property
    def changed(self):
        return bool(self.items)

    @property
    def actions(self):
        return [f"{self.subject}: {item.text}" for item in self.items]

    def diff(self):
        """{"before": {path: text}, "after": {path: text}} of the files that change."""
        files = [item for item in self.items if item.path is not None]
        return {"before": {item.path: item.before for item in files},
                "after": {item.path: item.after for item in files}}

    def add(self, text, run, path=None, before=None, after=None):
        self.items.append(Change(text, run, path, before, after))

    def touches(self, prefix):
        """True when a planned file change is at or below prefix."""
        return any(item.path is not None and (item.path == prefix or item.path.startswith(prefix.rstrip("/") + "/"))
                   for item in self.items)

    def file(self, path, content, mode=0o644, dir_mode=0o755):
        """The file holds content with this mode; content None: the file is removed."""
        current = read_text(path)
        if content is None:
            if os.path.lexists(path):
                self.add(f"remove {path}", lambda: remove_path(path), path, current, None)
            return
        if current != content:
            self.add(f"write {path}", lambda: write_atomic(path, content, mode, dir_mode), path, current, content)
        elif (os.stat(path).st_mode & 0o7777) != mode:
            self.add(f"set mode {mode:04o} on {path}", lambda: os.chmod(path, mode))

    def directory(self, path, mode):
        """An existing directory gets this mode (write_atomic creates missing ones with it)."""
        if os.path.isdir(path) and (os.stat(path).st_mode & 0o7777) != mode:
            self.add(f"set mode {mode:04o} on {path}", lambda: os.chmod(path, mode))

    def symlink(self, path, target):
        """path is a symbolic link to target (how systemctl enable records a wanted unit)."""
        current = os.readlink(path) if os.path.islink(path) else None
        if current == target:
            return
        before = f"-> {current}" if current else read_text(path)

        def link():
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            if os.path.lexists(path):
                os.unlink(path)
            os.symlink(target, path)
        self.add(f"link {path} to {target}", link, path, before, f"-> {target}")

    def absent(self, path, what=None):
        """Nothing at path (a file, a link or a whole directory tree)."""
        if os.path.lexists(path):
            before = read_text(path) if os.path.isfile(path) else None
            self.add(f"remove {what or path}", lambda: remove_path(path), path, before, None)

    def remove_dir_if_emptied(self, path):
        """Remove a directory when everything in it is planned to go."""
        if not os.path.isdir(path) or os.path.islink(path):
            return
        going = {item.path for item in self.items if item.after is None and item.path is not None}
        if all(os.path.join(path, entry) in going for entry in os.listdir(path)):
            self.add(f"remove {path}", lambda: os.rmdir(path) if os.path.isdir(path) else None, path, None, None)

    def apply(self):
        for item in self.items:
            item.run()


def systemctl(*args, check=True):
    """Run systemctl (LANG=C); raises NetfabricError with its message on failure when check."""
    env = dict(os.environ, LANG="C", LC_ALL="C", SYSTEMD_PAGER="", SYSTEMD_COLORS="0")
    proc = subprocess.run(["systemctl", *args], capture_output=True, text=True, env=env, check=False)
    if check and proc.returncode != 0:
        raise NetfabricError(f"systemctl {' '.join(args)} failed: {(proc.stderr or proc.stdout).strip()}")
    return proc


def active_state(unit):
    """active, inactive, failed, activating, ... of a unit (systemd must run the host)."""
    return systemctl("show", "--property=ActiveState", "--value", unit, check=False).stdout.strip()


def wanted_by(target, unit):
    """Where systemctl enable puts the link that makes target want unit."""
    return os.path.join(UNIT_DIR, f"{target}.wants", unit)
