# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files the collection keeps on a host, under /var/lib/netfabric (private to the collection).

- ``lock``: serialises runs on the host. Root-only (any user who can open a file can flock
  it), waited for a bounded time, and a clear error names the PID that holds it.
- ``journal.json``: the links a run is about to create, written before it creates them.
  A run killed between creating a link and giving it the collection's alias leaves them
  known: the next run that reads their namespace marks them and drops them from the journal.
- atomic writes (temporary file, fsync of file and directory, rename) for these and for
  the topologies' state files, so a kill at any moment leaves the old or the new file.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import time
from contextlib import contextmanager

from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError

STATE_DIR = "/var/lib/netfabric"
LOCK_TIMEOUT = 300  # seconds a run waits for another one before it gives up
_POLL = 0.1
# Tests of crash safety set it to 'step:K' (before the K-th action) or 'write:K' (the K-th file
# write of the run, written but not yet renamed into place) to SIGKILL the run there, or with
# ':TERM' / ':INT' appended, to send it that signal instead.
KILL_POINT = "NETFABRIC_KILL_AT"
_WRITES = [0]


def killpoint(kind, number):
    """Signal this process when the crash-safety tests asked for it at this point."""
    wanted = os.environ.get(KILL_POINT, "").split(":")
    if wanted[:2] == [kind, str(number)]:
        os.kill(os.getpid(), getattr(signal, f"SIG{wanted[2]}" if len(wanted) > 2 else "SIGKILL"))


def ensure_dir(directory):
    """The state directory, made root-only when this run creates it."""
    os.makedirs(directory, mode=0o700, exist_ok=True)


def write_atomically(path, text, mode=0o600):
    """Replace ``path`` with ``text`` so that a crash leaves either the old or the new file."""
    directory = os.path.dirname(path) or "."
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        _WRITES[0] += 1
        killpoint("write", _WRITES[0])
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class LockTimeout(NetfabricError):
    """Another run held the host lock for longer than the caller waits."""


@contextmanager
def host_lock(directory=STATE_DIR, timeout=LOCK_TIMEOUT):
    """Serialises runs on one host (two playbooks, or AWX and a shell): read, plan and apply
    see no other run's half-made changes. Waits at most ``timeout`` seconds."""
    ensure_dir(directory)
    path = os.path.join(directory, "lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a lock file of an earlier version was 0644: readable, so lockable, by anyone
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            if time.monotonic() >= deadline:
                holders = lock_holders(fd)
                who = f"process {', '.join(map(str, holders))}" if holders else "another process"
                raise LockTimeout(f"the host lock {path} is held by {who}: waited {timeout:g} s for it (another "
                                  "netfabric.netns run on this host; raise lock_timeout to wait longer)",
                                  lock=path, holders=holders)
            time.sleep(_POLL)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_holders(fd):
    """PIDs that hold a flock on the file open as ``fd`` (from /proc/locks)."""
    st = os.fstat(fd)
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    holders = []
    try:
        with open("/proc/locks", encoding="ascii") as handle:
            for line in handle:
                fields = line.split()
                if "->" in fields:  # a waiter, not a holder
                    continue
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted and fields[4].isdigit():
                    pid = int(fields[4])
                    if pid != os.getpid() and pid not in holders:
                        holders.append(pid)
    except OSError:
        pass
    return holders


class Journal:
    """The links runs were about to create: {(netns, ifname)}; see the module docstring."""

    def __init__(self, directory=STATE_DIR):
        self.directory = directory
        self.path = os.path.join(directory, "journal.json")

    def load(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            return set(map(tuple, data["links"]))
        except FileNotFoundError:
            return set()
        except (ValueError, KeyError, TypeError):
            return set()  # a torn journal: the links it named are treated like anyone else's

    def save(self, links):
        if not links:
            remove(self.path)
            return
        ensure_dir(self.directory)
        entries = sorted(([netns, name] for netns, name in links), key=lambda e: (e[0] or "", e[1]))
        write_atomically(self.path, json.dumps({"version": 1, "links": entries}) + "\n")


class Settings:
    """Settings the collection changed for the resources that need them: ``settings.json``,
    {netns ("" for the host): {key: {"restore": value, "set": value, "users": [...]}}}.

    Keys are sysctls the collection turned on (``net.ipv4.ip_forward``) and MTUs it lowered
    (``mtu <ifname>``). Only what the collection changed is recorded: when the last user of a
    key goes, the key gets its old value back (if it still has the one the collection set);
    a key that already had the wanted value is never recorded, so never changed back.
    """

    def __init__(self, directory=STATE_DIR):
        self.directory = directory
        self.path = os.path.join(directory, "settings.json")
        self.entries = {}
        self.dirty = False
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            self.entries = {netns: {key: {"restore": str(value["restore"]), "set": str(value["set"]),
                                          "users": list(value["users"])}
                                    for key, value in keys.items()}
                            for netns, keys in data["namespaces"].items()}
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError, AttributeError):
            self.entries = {}  # torn: forget it (what it lists then stays as it is)

    def changed(self, netns, key, restore, value, user):
        """The collection sets ``key`` to ``value`` for ``user``; it was ``restore``."""
        entry = self.entries.setdefault(netns or "", {}).get(key)
        if entry is None:
            self.entries[netns or ""][key] = {"restore": str(restore), "set": str(value), "users": [user]}
            self.dirty = True
        else:
            self.join(netns, key, user)

    def join(self, netns, key, user):
        """``user`` needs ``key`` too, where the collection changed it."""
        entry = self.entries.get(netns or "", {}).get(key)
        if entry is not None and user not in entry["users"]:
            entry["users"].append(user)
            self.dirty = True

    def leave(self, user, netns=False):
        """``user`` needs nothing any more (in ``netns``; False: anywhere): {(netns, key): (value to
        restore, value the collection set)} of the keys it was the last user of."""
        restore = {}
        for space, keys in self.entries.items():
            if netns is not False and space != (netns or ""):
                continue
            for key, entry in list(keys.items()):
                if user in entry["users"]:
                    entry["users"].remove(user)
                    self.dirty = True
                    if not entry["users"]:
                        restore[(space or None, key)] = (entry["restore"], entry["set"])
                        del keys[key]
        return restore

    def forget(self, netns):
        """The namespace is gone, and its settings with it."""
        if self.entries.pop(netns or "", None) is not None:
            self.dirty = True

    def save(self):
        if not self.dirty:
            return
        entries = {netns: keys for netns, keys in self.entries.items() if keys}
        if entries:
            ensure_dir(self.directory)
            write_atomically(self.path, json.dumps({"version": 1, "namespaces": entries}, sort_keys=True) + "\n")
        else:
            remove(self.path)
        self.dirty = False
