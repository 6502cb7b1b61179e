# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named network namespaces in this process (private to the collection).

Enter one (setns), create one (the steps of iproute2's ``ip netns add``: unshare, then
a bind mount on /run/netns/NAME), remove one, find the processes still in one: libc
calls through ctypes, in the module's own process. pyroute2.netns does the same with a
helper process forked per namespace it creates or enters (docs/architecture.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from collections import OrderedDict
from contextlib import contextmanager

from ansible_collections.netfabric.netns.plugins.module_utils.rtnl import Rtnl

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 2
THREAD_NETNS = "/proc/thread-self/ns/net"
_NSFS = []  # the device of the namespace filesystem, read once

_LIBC = []  # loaded on first use
_SHARED_DIRS = set()  # NETNS_DIR made a shared mount point by this process


def _libc(function, *args):
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True))
    if getattr(_LIBC[0], function)(*args) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _nsfs_dev():
    if not _NSFS:
        _NSFS.append(os.stat(THREAD_NETNS).st_dev)
    return _NSFS[0]


def setns(fd, nstype=CLONE_NEWNET):
    """Move this thread into the namespace open as ``fd``."""
    if hasattr(os, "setns"):  # Python >= 3.12
        os.setns(fd, nstype)
    else:
        _libc("setns", fd, nstype)


def _mount(source, target, flags):
    _libc("mount", os.fsencode(source), os.fsencode(target), b"none", ctypes.c_ulong(flags), None)


def _share(directory):
    """Make the directory a shared mount point, as iproute2 does, so that namespaces
    mounted in it show in other mount namespaces too (once per run, not per namespace:
    the change walks every mount below it)."""
    if directory in _SHARED_DIRS:
        return
    try:
        _mount("", directory, MS_SHARED | MS_REC)
    except OSError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: not a mount point yet
            raise
        _mount(directory, directory, MS_BIND | MS_REC)
        _mount("", directory, MS_SHARED | MS_REC)
    _SHARED_DIRS.add(directory)


class Namespaces:
    """Enters named namespaces in this process and keeps a socket per namespace in use.

    Sockets and namespace file descriptors are kept for the most recently used
    namespaces only: with one per namespace, 1,000 namespaces would exceed the usual
    limit of 1,024 open files, and libnftables' select() aborts on a descriptor above it.
    """

    OPEN_MAX = 32  # namespaces with an open socket and descriptor at a time

    def __init__(self, directory=NETNS_DIR):
        self.directory = directory
        self.home = os.open(THREAD_NETNS, os.O_RDONLY | os.O_CLOEXEC)
        self._sockets = OrderedDict()
        self._fds = OrderedDict()
        self._pids = None

    def path(self, name):
        return os.path.join(self.directory, name)

    def exists(self, name):
        """Whether the namespace is there; a stale file (see ``stale``) is not a namespace."""
        return name is None or self._kind(name) == "netns"

    def stale(self, name):
        """Whether /run/netns/NAME is a plain file: a run killed between creating the file and the
        bind mount (``ip netns add`` has the same window) leaves one; entering it gives EINVAL."""
        return name is not None and self._kind(name) == "stale"

    def _kind(self, name):
        try:
            st = os.stat(self.path(name))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return "netns" if st.st_dev == _nsfs_dev() else "stale"

    def names(self):
        """The namespaces, without stale files (``stale_names``)."""
        return [name for name in self._entries() if self._kind(name) == "netns"]

    def stale_names(self):
        return [name for name in self._entries() if self._kind(name) == "stale"]

    def _entries(self):
        try:
            return sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return []

    @contextmanager
    def inside(self, name):
        if name is None:
            yield
            return
        setns(self.fd(name))  # an open descriptor: never creates a namespace by accident
        try:
            yield
        finally:
            setns(self.home)

    def rtnl(self, name):
        if name in self._sockets:
            self._sockets.move_to_end(name)
        else:
            with self.inside(name):
                self._sockets[name] = Rtnl()
            if len(self._sockets) > self.OPEN_MAX:
                self._sockets.popitem(last=False)[1].close()
        return self._sockets[name]

    def fd(self, name):
        if name is None:
            return self.home
        if name in self._fds:
            self._fds.move_to_end(name)
        else:
            self._fds[name] = os.open(self.path(name), os.O_RDONLY | os.O_CLOEXEC)
            if len(self._fds) > self.OPEN_MAX:
                os.close(self._fds.popitem(last=False)[1])
        return self._fds[name]

    def create(self, name):
        """Like ``ip netns add NAME``; FileExistsError when the name is taken. A stale file of that
        name is replaced. (The file cannot be bind-mounted elsewhere and renamed into place: a
        mount point cannot be renamed, EBUSY; so a kill right after creating it leaves a stale file.)"""
        os.makedirs(self.directory, mode=0o755, exist_ok=True)
        _share(self.directory)
        path = self.path(name)
        if self.stale(name):
            os.unlink(path)
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
        try:
            _libc("unshare", CLONE_NEWNET)  # this thread now sits in a new namespace ...
            try:
                _mount(THREAD_NETNS, path, MS_BIND)  # ... which the bind mount keeps alive
            finally:
                setns(self.home)
        except OSError:
            os.unlink(path)
            raise

    def remove(self, name):
        """Like ``ip netns del NAME``: the namespace goes when nothing else holds it."""
        self._forget(name)
        path = self.path(name)
        try:
            _libc("umount2", os.fsencode(path), MNT_DETACH)
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # EINVAL: not mounted (a stale file)
                raise
        os.unlink(path)

    def pids(self, name):
        """Processes whose network namespace is ``name`` (one scan of /proc per run)."""
        if self._pids is None:
            self._pids = self._scan_pids()
        return sorted(self._pids.get(name, []))

    def _scan_pids(self):
        by_inode = {}
        for name in self.names():
            try:
                st = os.stat(self.path(name))
            except OSError:
                continue
            by_inode[(st.st_dev, st.st_ino)] = name
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                st = os.stat(f"/proc/{entry}/ns/net")
            except OSError:  # gone meanwhile, or a kernel thread
                continue
            name = by_inode.get((st.st_dev, st.st_ino))
            if name is not None:
                found.setdefault(name, []).append(int(entry))
        return found

    def _forget(self, name):
        sock = self._sockets.pop(name, None)
        if sock is not None:
            sock.close()
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)

    def close(self):
        for name in list(self._sockets) + list(self._fds):
            self._forget(name)
        os.close(self.home)
