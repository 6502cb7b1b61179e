"""Sandbox hosts: throwaway process trees that look like separate Linux hosts.

A sandbox host is ``unshare --net --mount --uts --ipc --pid --fork --kill-child
--mount-proc --propagation private`` whose PID 1 is a shell that runs a
short setup script, then waits forever (reaping orphans). Inside it:

- its own network namespace (only ``lo``, up), so links, addresses, routes,
  sysctls and nftables rules made inside never touch the machine's namespace;
- a private tmpfs on ``/run/netns``: ``ip netns add`` and the collection create
  their named namespaces inside the sandbox only;
- a fresh sysfs on ``/sys`` (``/sys/class/net`` shows the sandbox's links);
- writable overlays on ``/etc`` and ``/var/lib`` (upper layers in the state
  directory), so files written there stay inside;
- its own hostname (UTS), IPC and PID namespaces: SIGKILL to its PID 1 ends
  every process inside, including those left in its named namespaces.

A booted sandbox host (``SandboxHost(name, boot=True)``) runs the machine's systemd as
its PID 1 instead, like ``systemd-nspawn --boot``: see SETUP_BOOT. ``reboot()`` throws its
network namespace, /run and processes away and boots it again on the same disk.

State lives in ``$NETFABRIC_SANDBOX_DIR`` (default ``/tmp/netfabric-sandboxes``),
one directory per host: ``pid`` (host PID of the sandbox's PID 1), ``unshare.pid``,
``ready``, ``log`` and the overlay layers.

Python::

    with SandboxHost("h1") as host:
        host.run(["ip", "-br", "link"]).stdout
        host.run("ip netns add red && ip netns list")

CLI (standard library only, run it with ``python3 tools/sandbox.py``)::

    start [--boot] NAME...        start sandbox hosts, print NAME PID (--boot: systemd as
                                  PID 1, see SETUP_BOOT)
    exec [--ansible] NAME -- CMD  run CMD inside (one quoted argument: /bin/sh -c;
                                  --ansible: the repository's .venv and
                                  .collections, see SandboxHost.ansible_env())
    stop NAME... | stop --all     remove sandbox hosts (--all: every one in the
                                  state directory and every stray one of ours)
    stop --match GLOB...          remove the recorded and stray ones whose name
                                  matches a GLOB (repeatable; e.g. 'mol-*')
    list                          NAME PID STATUS of the recorded ones
    wire LAN HOST [ADDRESS...]    cable HOST's eth0 to the bridge of the sandbox
                                  LAN (created if missing) and address it;
                                  --netns: HOST is a named namespace inside LAN
                                  (created if missing), e.g. "outside"; see wire()

Wiring never creates a link in the machine's namespace: the veth is made in
LAN's network namespace and its peer is born directly in HOST's (namespace file
descriptors checked against the machine's own before use).
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = "netfabric-sandbox"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0
LAN_BRIDGE = "br-lan"
IFNAME_MAX = 15  # bytes of a Linux interface name

# Runs as the sandbox's PID 1 under /bin/sh: $0 is the marker, $1 the state dir, $2 the name.
# Overlay upper layers go to the state dir; if its filesystem cannot hold them (e.g. an
# overlayfs /tmp), a tmpfs private to the sandbox's mount namespace is used instead.
SETUP = r"""
set -eu
dir=$1
name=$2
mount -t tmpfs -o mode=0755 netfabric-netns /run/netns
mount -t sysfs sysfs /sys
overlay() {
    mount -t overlay overlay \
        -o "lowerdir=$1,upperdir=$dir/layers/$2.upper,workdir=$dir/layers/$2.work" "$1"
}
mkdir -p "$dir/layers"
if ! overlay /etc etc 2>"$dir/overlay.err"; then
    mount -t tmpfs -o mode=0700 netfabric-layers "$dir/layers"
    mkdir -p "$dir/layers/etc.upper" "$dir/layers/etc.work"
    overlay /etc etc
fi
mkdir -p "$dir/layers/varlib.upper" "$dir/layers/varlib.work"
overlay /var/lib varlib
printf '%s\n' "$name" > /proc/sys/kernel/hostname
ip link set lo up
: > "$dir/ready"
# PID 1 stays this shell: it reaps orphans (a plain `sleep infinity` would collect zombies)
while :; do sleep infinity & wait; done
"""

# A booted host: the same namespaces plus a cgroup namespace, and systemd as PID 1. Runs as
# PID 1 under /bin/sh like SETUP ($1 the state dir, $2 the name; $NETFABRIC_SANDBOX_REPO the
# repository, bound read-only so the harness's .venv and .collections are there).
# - Its disk: an overlay whose lower layer is the machine's root file system and whose upper
#   layer stays in the state dir, so everything the host writes (/etc, /var, /usr ...) lands
#   there and survives reboot(); /run and /tmp are fresh tmpfs at every boot.
# - What systemd could reach of the machine is closed off the way systemd-nspawn does it: a
#   private /dev (null, zero, full, random, urandom, tty, own devpts; /dev/console is /dev/null),
#   sysfs read-only (no udev), /proc/sys read-only except /proc/sys/net (per network namespace),
#   the capabilities to load modules, set the clock, do raw I/O or change audit dropped from its
#   bounding set, and its cgroups in a subtree of their own (the Python side puts this shell
#   there before unshare, so the cgroup namespace's root is that subtree).
# - First boot only: the machine's own enabled units are disabled on this host's disk (it boots
#   the distribution's defaults plus what a test enables), the console getty is masked.
# Then it writes ready and waits for go (the caller can cable eth0 meanwhile: a NIC that exists
# before the OS boots), and execs systemd.
SETUP_BOOT = r"""
set -eu
dir=$1
name=$2
root=$dir/root
mkdir -p "$dir/layers/root.upper" "$dir/layers/root.work" "$root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/layers/root.upper,workdir=$dir/layers/root.work" "$root"
mount -t proc proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
mount --bind "$root/proc/sys/net" "$root/proc/sys/net"
mount -o remount,bind,rw "$root/proc/sys/net"
if [ -e "$root/proc/sysrq-trigger" ]; then
    mount --bind "$root/proc/sysrq-trigger" "$root/proc/sysrq-trigger"
    mount -o remount,bind,ro "$root/proc/sysrq-trigger"
fi
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"
mount -t tmpfs -o mode=0755,nosuid netfabric-dev "$root/dev"
for node in null zero full random urandom tty; do
    : > "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
: > "$root/dev/console"
mount --bind /dev/null "$root/dev/console"
mkdir "$root/dev/pts" "$root/dev/shm" "$root/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
mount -t mqueue mqueue "$root/dev/mqueue"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o mode=0755,nosuid,nodev netfabric-run "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev netfabric-tmp "$root/tmp"
mkdir -p "$root$NETFABRIC_SANDBOX_REPO" "$root$dir"
mount --rbind "$NETFABRIC_SANDBOX_REPO" "$root$NETFABRIC_SANDBOX_REPO"
mount -o remount,bind,ro "$root$NETFABRIC_SANDBOX_REPO"
mount --bind "$dir" "$root$dir"
cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
cd /
if [ ! -e "$dir/prepared" ]; then
    for link in /etc/systemd/system/*.wants/*; do
        [ -L "$link" ] && rm -f "$link"
    done
    ln -sf /dev/null /etc/systemd/system/console-getty.service
    printf '%s\n' "$name" > /etc/hostname
    : > "$dir/prepared"
fi
ip link set lo up
: > "$dir/ready"
while [ ! -e "$dir/go" ]; do sleep 0.02; done
exec setpriv --bounding-set -sys_module,-sys_time,-sys_rawio,-syslog,-wake_alarm,-sys_pacct,-mac_admin,-mac_override,-block_suspend,-audit_control,-audit_read \
    env -i container=netfabric-sandbox PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /lib/systemd/systemd
"""
BOOT_TIMEOUT = 60.0
CGROUP_PARENT = "netfabric-sandboxes"  # the booted hosts' cgroups, under the machine's cgroup2 root


class SandboxError(RuntimeError):
    """A sandbox host could not be started, found or stopped."""


class CommandError(subprocess.CalledProcessError):
    """A command inside a sandbox failed; its message ends with the command's stderr."""

    def __str__(self):
        text = super().__str__()
        err = (self.stderr or "").strip()
        return text + ("\n" + err[-2000:] if err else "")


def state_root():
    """The directory that holds one state directory per sandbox host."""
    return os.environ.get("NETFABRIC_SANDBOX_DIR") or "/tmp/netfabric-sandboxes"


def _read(path, default=None):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return default


def _write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    os.replace(tmp, path)


def _stat(pid):
    """(state, ppid, starttime) of a process, or None when it does not exist."""
    raw = _read("/proc/%d/stat" % pid)
    if raw is None:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), fields[19]


def _alive(pid, starttime=None):
    """True when pid exists, is not a zombie and (if given) started at starttime."""
    info = _stat(pid) if pid else None
    if info is None or info[0] in ("Z", "X"):
        return False
    return starttime is None or info[2] == starttime


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return [arg.decode("utf-8", "replace") for arg in handle.read().split(b"\0")[:-1]]
    except OSError:
        return []


def _children(pid):
    raw = _read("/proc/%d/task/%d/children" % (pid, pid))
    if raw is not None:
        return [int(child) for child in raw.split()]
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _stat(int(entry))
            if info and info[1] == pid:
                found.append(int(entry))
    return found


def _kill(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _cgroup2_root():
    """Mount point of the machine's cgroup2 hierarchy (unified, or hybrid's "unified"), or None."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            for line in handle:
                left, unused, right = line.partition(" - ")
                if right.split()[:1] == ["cgroup2"]:
                    return left.split()[4]
    except OSError:
        pass
    return None


def _remove_cgroup(path, timeout=STOP_TIMEOUT):
    """Remove a booted host's cgroup tree, bottom-up, once its processes are gone; then the
    common parent if no other host uses it."""
    if not path or os.path.basename(os.path.dirname(path)) != CGROUP_PARENT:
        return
    deadline = time.monotonic() + timeout
    while os.path.isdir(path):
        try:
            for dirpath, unused_dirs, unused_files in os.walk(path, topdown=False):
                os.rmdir(dirpath)
        except OSError as exc:  # EBUSY: a killed process has not left yet
            if time.monotonic() > deadline:
                raise SandboxError("cannot remove the cgroup %s: %s" % (path, exc)) from None
            time.sleep(0.02)
    try:
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass  # another booted host still has its cgroup there


def _ensure_host_run_netns():
    """The mount point for the sandboxes' tmpfs: an empty /run/netns on the machine."""
    if not os.path.isdir("/run/netns"):
        os.makedirs("/run/netns", mode=0o755, exist_ok=True)


class SandboxHost:
    """One sandbox host; ``start()`` it, ``run()`` commands inside, ``stop()`` it.

    Also a context manager (start on enter, stop on exit). A SandboxHost made
    for a name that another process started attaches to it (``pid``, ``run``,
    ``stop`` work; ``start`` refuses).
    """

    def __init__(self, name, root=None, boot=False):
        if not NAME_RE.match(name or ""):
            raise SandboxError("sandbox name %r: use 1-63 letters, digits, '.', '_' or '-'" % (name,))
        self.name = name
        self.root = os.path.abspath(root or state_root())
        self.dir = os.path.join(self.root, name)
        self._proc = None
        self._pid = None
        self._starttime = None
        self._boot = boot

    def __repr__(self):
        return "SandboxHost(%r, pid=%r)" % (self.name, self._pid)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- state -----------------------------------------------------------------
    def _recorded(self):
        pid = _read(os.path.join(self.dir, "pid"))
        start = _read(os.path.join(self.dir, "pid.start"))
        return (int(pid) if pid and pid.isdigit() else None), start

    @property
    def pid(self):
        """Host PID of the sandbox's PID 1 (the process to nsenter and to SIGKILL)."""
        if self._pid is None:
            self._pid, self._starttime = self._recorded()
        if self._pid is None:
            raise SandboxError("sandbox %r is not running (no %s)" % (self.name, os.path.join(self.dir, "pid")))
        return self._pid

    @property
    def boot(self):
        """True for a host whose PID 1 is systemd (asked for, or recorded by whoever started it)."""
        return self._boot or os.path.exists(os.path.join(self.dir, "boot"))

    def is_running(self):
        """True when the sandbox's PID 1 is alive."""
        if self._pid is None:
            self._pid, self._starttime = self._recorded()
        return bool(self._pid) and _alive(self._pid, self._starttime)

    # -- lifecycle ---------------------------------------------------------------
    def start(self, timeout=START_TIMEOUT, before_boot=None, keep=False):
        """Start the sandbox and wait until its setup has finished; returns self.

        A booted host (boot=True) is ready once systemd has finished booting (its state is
        running or degraded); ``before_boot(self)`` runs after its namespaces exist and
        before systemd starts, e.g. to cable its eth0. keep: start again on the disk layers
        of the last run (see reboot()).
        """
        if self.is_running():
            raise SandboxError("sandbox %r is already running (pid %d)" % (self.name, self._pid))
        self._pid = self._starttime = None
        boot = self.boot
        for tool in ("unshare", "nsenter", "ip", "mount") + (("setpriv",) if boot else ()):
            if shutil.which(tool) is None:
                raise SandboxError("sandbox %r: %s not found (install util-linux and iproute2)" % (self.name, tool))
        _ensure_host_run_netns()
        if keep and os.path.isdir(os.path.join(self.dir, "layers")):
            for stale in ("pid", "pid.start", "unshare.pid", "ready", "go"):
                if os.path.exists(os.path.join(self.dir, stale)):
                    os.unlink(os.path.join(self.dir, stale))
        else:
            if os.path.isdir(self.dir):
                shutil.rmtree(self.dir)  # stale state of a dead sandbox
            os.makedirs(self.dir, mode=0o700)
            for sub in ("etc.upper", "etc.work", "varlib.upper", "varlib.work"):
                os.makedirs(os.path.join(self.dir, "layers", sub))
        env, preexec = None, None
        if boot:
            if not os.path.exists("/lib/systemd/systemd"):
                raise SandboxError("sandbox %r: /lib/systemd/systemd not found (install systemd)" % self.name)
            _write(os.path.join(self.dir, "boot"), "systemd")
            procs = os.path.join(self._make_cgroup(), "cgroup.procs")

            def preexec():  # in the cgroup before unshare: the cgroup namespace's root
                with open(procs, "w", encoding="ascii") as handle:
                    handle.write(str(os.getpid()))

            env = dict(os.environ, NETFABRIC_SANDBOX_REPO=REPO)
            cmd = ["unshare", "--net", "--mount", "--uts", "--ipc", "--pid", "--cgroup", "--fork", "--kill-child",
                   "--propagation", "private", "--", "/bin/sh", "-c", SETUP_BOOT, MARKER, self.dir, self.name]
        else:
            cmd = ["unshare", "--net", "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child",
                   "--mount-proc", "--propagation", "private", "--", "/bin/sh", "-c", SETUP, MARKER, self.dir,
                   self.name]
        with open(os.path.join(self.dir, "log"), "ab") as log:
            # own session: a Ctrl-C meant for the caller does not reach the sandbox
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                          preexec_fn=preexec, start_new_session=True, close_fds=True, cwd="/")
        _write(os.path.join(self.dir, "unshare.pid"), str(self._proc.pid))
        ready = os.path.join(self.dir, "ready")
        deadline = time.monotonic() + timeout
        try:
            while not os.path.exists(ready):
                if self._proc.poll() is not None:
                    raise SandboxError("sandbox %r: setup failed (exit %s): %s" % (
                        self.name, self._proc.returncode, _read(os.path.join(self.dir, "log"), "")))
                if time.monotonic() > deadline:
                    raise SandboxError("sandbox %r: setup did not finish within %ss" % (self.name, timeout))
                time.sleep(0.002)
            children = _children(self._proc.pid)
            if len(children) != 1:
                raise SandboxError("sandbox %r: expected one child of unshare %d, found %r" % (
                    self.name, self._proc.pid, children))
            self._pid = children[0]
            self._starttime = _stat(self._pid)[2]
            _write(os.path.join(self.dir, "pid.start"), self._starttime)
            _write(os.path.join(self.dir, "pid"), str(self._pid))
            if boot:
                if before_boot is not None:
                    before_boot(self)
                _write(os.path.join(self.dir, "go"), "")
                self._wait_booted(max(timeout, BOOT_TIMEOUT))
        except BaseException:
            self._abort()
            raise
        return self

    def _make_cgroup(self):
        """A cgroup of its own for a booted host, under CGROUP_PARENT; recorded in the state dir."""
        base = _cgroup2_root()
        if base is None:
            raise SandboxError("sandbox %r: booting systemd needs a cgroup2 hierarchy; none is mounted" % self.name)
        path = os.path.join(base, CGROUP_PARENT, "%s-%08x" % (self.name, zlib.crc32(self.dir.encode())))
        _remove_cgroup(path)  # left by a host killed from outside
        for unused_attempt in range(3):
            try:
                os.makedirs(path)
                break
            except FileNotFoundError:  # the parent was removed by another host's stop meanwhile
                continue
        _write(os.path.join(self.dir, "cgroup"), path)
        return path

    def _wait_booted(self, timeout):
        """Wait until systemd inside has finished booting (running, or degraded)."""
        deadline = time.monotonic() + timeout
        state = ""
        while True:
            if not self.is_running():
                raise SandboxError("sandbox %r: systemd exited while booting: %s" % (
                    self.name, _read(os.path.join(self.dir, "log"), "")))
            state = self.run(["systemctl", "is-system-running"], check=False, timeout=30).stdout.strip()
            if state in ("running", "degraded"):
                return state
            if time.monotonic() > deadline:
                jobs = self.run(["systemctl", "list-jobs", "--no-pager"], check=False, timeout=30).stdout
                raise SandboxError("sandbox %r: systemd did not finish booting within %ss (%s):\n%s" % (
                    self.name, timeout, state or "no answer", jobs))
            time.sleep(0.05)

    def reboot(self, before_boot=None, timeout=START_TIMEOUT):
        """Power-cycle the host: every process, its network namespace (with the named ones),
        /run and /tmp are thrown away; its disk layers (/etc, /var/lib, ...) are kept and it
        starts again (a booted host boots again; before_boot as in start())."""
        pid = self.pid
        if _alive(pid, self._starttime):
            _kill(pid)
        if not _wait_gone(pid, STOP_TIMEOUT):
            raise SandboxError("sandbox %r: pid %d survived SIGKILL" % (self.name, pid))
        if self._proc is not None:
            self._proc.wait(STOP_TIMEOUT)
            self._proc = None
        _remove_cgroup(_read(os.path.join(self.dir, "cgroup")))
        self._pid = self._starttime = None
        return self.start(timeout, before_boot=before_boot, keep=True)

    def _abort(self):
        if self._proc is not None and self._proc.poll() is None:
            _kill(self._proc.pid)  # --kill-child takes the sandbox with it
            self._proc.wait()
        self._proc = None
        self._pid = self._starttime = None
        try:
            _remove_cgroup(_read(os.path.join(self.dir, "cgroup")))
        except SandboxError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGKILL the sandbox's PID 1 (everything inside dies), wait, remove its state.

        Safe to call more than once and for a sandbox that is already gone.
        """
        if self._pid is None:
            self._pid, self._starttime = self._recorded()
        unshare_pid = _read(os.path.join(self.dir, "unshare.pid"))
        unshare_pid = int(unshare_pid) if unshare_pid and unshare_pid.isdigit() else None
        if self._pid and _alive(self._pid, self._starttime):
            _kill(self._pid)
        elif unshare_pid and _alive(unshare_pid) and MARKER in _cmdline(unshare_pid):
            orphans = _children(unshare_pid)  # PID 1 unknown (no pid file): kill it by parentage
            for child in orphans:
                _kill(child)
            _kill(unshare_pid)
            for child in orphans:
                _wait_gone(child, timeout)
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill(self._proc.pid)
                self._proc.wait(timeout)
        elif unshare_pid and _alive(unshare_pid) and MARKER in _cmdline(unshare_pid):
            if not _wait_gone(unshare_pid, timeout):
                _kill(unshare_pid)
                _wait_gone(unshare_pid, timeout)
        if self._pid and not _wait_gone(self._pid, timeout) and _alive(self._pid, self._starttime):
            raise SandboxError("sandbox %r: pid %d survived SIGKILL" % (self.name, self._pid))
        self._proc = None
        self._pid = self._starttime = None
        _remove_cgroup(_read(os.path.join(self.dir, "cgroup")), timeout)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- inside ------------------------------------------------------------------
    def nsenter(self, cwd=None):
        """The command prefix that enters every namespace of the sandbox.

        Entering a mount namespace resets the working directory to "/": --wd keeps
        cwd (default: this process's working directory) for relative paths. nsenter opens
        that directory before it enters: in a booted host, whose root is its own overlay
        (pivot_root), the directory would be unreachable from its root (getcwd() fails), so
        there a shell changes into it once inside.
        """
        cwd = os.path.abspath(cwd or os.getcwd())
        enter = ["nsenter", "-t", str(self.pid), "-n", "-m", "-u", "-i", "-p"]
        if self.boot:
            return enter + ["--", "/bin/sh", "-c", 'cd -- "$0" && exec "$@"', cwd]
        return enter + ["--wd=" + cwd, "--"]

    def command(self, cmd, cwd=None):
        """The full host command line that runs cmd (list: exec'd, str: /bin/sh -c) inside."""
        if isinstance(cmd, str):
            cmd = ["/bin/sh", "-c", cmd]
        return self.nsenter(cwd) + [str(arg) for arg in cmd]

    def run(self, cmd, check=True, input=None, timeout=120, env=None, cwd=None, capture=True):  # pylint: disable=redefined-builtin
        """Run cmd inside the sandbox; returns subprocess.CompletedProcess (text).

        cmd: a list is exec'd, a str runs under /bin/sh -c. env: variables added to
        this process's environment. cwd: working directory inside (default: ours). On timeout every process the command started
        (its process group) is killed and subprocess.TimeoutExpired is raised.
        check=True raises CommandError (a subprocess.CalledProcessError whose message
        shows the command's stderr) on a non-zero exit.
        """
        full = self.command(cmd, cwd)
        run_env = dict(os.environ)
        run_env.update({key: str(value) for key, value in (env or {}).items()})
        pipe = subprocess.PIPE if capture else None
        proc = subprocess.Popen(full, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                stdout=pipe, stderr=pipe, text=True, env=run_env, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except BaseException:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.kill()
            proc.wait()
            raise
        result = subprocess.CompletedProcess(full, proc.returncode, stdout, stderr)
        if check and result.returncode != 0:
            raise CommandError(result.returncode, full, stdout, stderr)
        return result

    def ansible_env(self, repo=REPO):
        """Environment for running the repository's Ansible inside this sandbox.

        The repository's .venv first on PATH, only <repo>/.collections as the
        collection path, temporary directories and ANSIBLE_HOME private to this
        sandbox, no user or system ansible.cfg, no colour, the .venv's python as
        the target interpreter.
        """
        base = os.path.join(self.dir, "ansible")
        for sub in ("local", "remote", "home"):
            os.makedirs(os.path.join(base, sub), exist_ok=True)
        cfg = os.path.join(base, "ansible.cfg")
        if not os.path.exists(cfg):
            _write(cfg, "# empty: keep user and system ansible.cfg out of sandbox runs")
        venv_bin = os.path.join(repo, ".venv", "bin")
        return {
            "PATH": venv_bin + os.pathsep + os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "ANSIBLE_CONFIG": cfg,
            "ANSIBLE_HOME": os.path.join(base, "home"),
            "ANSIBLE_LOCAL_TEMP": os.path.join(base, "local"),
            "ANSIBLE_REMOTE_TEMP": os.path.join(base, "remote"),
            "ANSIBLE_COLLECTIONS_PATH": os.path.join(repo, ".collections"),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_PYTHON_INTERPRETER": os.path.join(venv_bin, "python"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_DEPRECATION_WARNINGS": "false",
            "PYTHONDONTWRITEBYTECODE": "1",
        }


def recorded(root=None):
    """The sandbox hosts recorded in the state directory, as SandboxHost objects."""
    root = os.path.abspath(root or state_root())
    if not os.path.isdir(root):
        return []
    return [SandboxHost(name, root) for name in sorted(os.listdir(root))
            if NAME_RE.match(name) and os.path.isdir(os.path.join(root, name))]


def strays(root=None):
    """PIDs of running ``unshare`` processes of our sandboxes whose state dir is under root."""
    root = os.path.abspath(root or state_root())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        args = _cmdline(int(entry))
        if (len(args) >= 3 and os.path.basename(args[0]) == "unshare" and args[-3] == MARKER
                and os.path.dirname(args[-2]) == root and _alive(int(entry))):
            found.append(int(entry))
    return found


def stop_all(root=None, match=None):
    """Stop every recorded sandbox and every stray one; returns the names/PIDs stopped.

    match: a glob (fnmatch) or a list of them; only sandboxes whose name matches one are
    stopped (an exact name is a glob too: it also catches that sandbox's stray process).
    """
    root = os.path.abspath(root or state_root())
    globs = None if match is None else [match] if isinstance(match, str) else list(match)

    def wanted(name):
        return globs is None or any(fnmatch.fnmatchcase(name, glob) for glob in globs)

    stopped = []
    for host in recorded(root):
        if not wanted(host.name):
            continue
        host.stop()
        stopped.append(host.name)
    for pid in strays(root):
        if not wanted((_cmdline(pid) or [""])[-1]):
            continue  # the name is the last argument of our unshare command line
        state_dir = (_cmdline(pid) or ["", ""])[-2]
        children = _children(pid)
        for child in children:
            _kill(child)
        _kill(pid)
        for gone in [pid] + children:  # SIGKILL is not instant: wait until they are really gone
            _wait_gone(gone, STOP_TIMEOUT)
        _remove_cgroup(_read(os.path.join(state_dir, "cgroup")))
        stopped.append("unshare:%d" % pid)
    return stopped


def _ns_identity(fd_or_path):
    info = os.fstat(fd_or_path) if isinstance(fd_or_path, int) else os.stat(fd_or_path)
    return info.st_dev, info.st_ino


def port_name(name):
    """An interface name (<= 15 bytes) for the LAN's end of the cable to name."""
    raw = name.encode()
    if len(raw) <= IFNAME_MAX:
        return name
    return "%s-%04x" % (raw[:IFNAME_MAX - 5].decode("ascii", "replace"), zlib.crc32(raw) & 0xFFFF)


def _netns_fds(*hosts):
    """Open the network namespace of each running sandbox; refuse the machine's own.

    The files are opened first and the sandboxes checked alive (same PID 1, same start
    time) afterwards, so a descriptor can only be a sandbox's namespace; each one must
    differ from the namespace of this process and of the machine's PID 1.
    """
    machine = {_ns_identity("/proc/self/ns/net")}
    try:
        machine.add(_ns_identity("/proc/1/ns/net"))
    except OSError:
        pass
    fds = []
    try:
        for host in hosts:
            if not host.is_running():
                raise SandboxError("sandbox %r is not running" % host.name)
            fds.append(os.open("/proc/%d/ns/net" % host.pid, os.O_RDONLY | os.O_CLOEXEC))
        seen = set()
        for host, fd in zip(hosts, fds):
            identity = _ns_identity(fd)
            if not host.is_running():  # same PID 1 with the same start time as recorded
                raise SandboxError("sandbox %r went away while being wired" % host.name)
            if identity in machine:
                raise SandboxError("sandbox %r: its network namespace is the machine's own; refusing" % host.name)
            if identity in seen:
                raise SandboxError("sandbox %r shares a network namespace with another one; refusing" % host.name)
            seen.add(identity)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return fds


def wire(lan, host, addresses=(), bridge=LAN_BRIDGE, ifname="eth0", port=None, gateway=None, netns=None):
    """Cable a host to the LAN's switch: a veth whose end ``port`` is on ``bridge`` in LAN.

    lan: the SandboxHost that plays the LAN switch; the bridge lives in its own network
    namespace and is created (and set up) if missing.
    host: the SandboxHost to connect; its end is called ``ifname`` (eth0). With
    ``netns`` (host None), the other end goes instead to the named namespace ``netns``
    inside LAN (created if missing, loopback up), e.g. an "outside" world.
    addresses: CIDRs put on ``ifname`` (``ip addr replace``); gateway: a default route via it.
    port: the LAN end's name (default: host's name, or netns, shortened to 15 bytes).

    The veth is created inside LAN's network namespace with its peer born directly in
    host's (``nsenter --net=FD ip link add ... netns FD``, FDs of the two namespaces checked
    against the machine's own): no link is ever made in the machine's namespace. An existing
    cable with the same port name is removed first, so wiring again re-wires.
    Returns the port name.
    """
    if (host is None) == (netns is None):
        raise SandboxError("wire: give a host sandbox or netns, not both")
    port = port or port_name(netns or host.name)
    for what, value in (("port", port), ("ifname", ifname), ("bridge", bridge)):
        if not value or len(value.encode()) > IFNAME_MAX or "/" in value or value.strip() != value:
            raise SandboxError("wire: %s %r is not a valid interface name (1-15 bytes)" % (what, value))
    lan.run(["/bin/sh", "-c", 'ip link show dev "$1" >/dev/null 2>&1 || ip link add name "$1" type bridge; '
             'ip link set dev "$1" up', "sh", bridge])
    if lan.run(["ip", "link", "show", "dev", port], check=False).returncode == 0:
        lan.run(["ip", "link", "del", "dev", port])
    if netns is not None:
        lan.run(["/bin/sh", "-c", 'test -e "/run/netns/$1" || ip netns add "$1"; ip -n "$1" link set lo up',
                 "sh", netns])
        if lan.run(["ip", "-n", netns, "link", "show", "dev", ifname], check=False).returncode == 0:
            lan.run(["ip", "-n", netns, "link", "del", "dev", ifname])
        lan.run(["ip", "link", "add", "name", port, "type", "veth", "peer", "name", ifname, "netns", netns])
        inside = ["ip", "-n", netns]
        target = lan
    else:
        deadline = time.monotonic() + 2.0  # a deleted veth's peer disappears asynchronously
        while host.run(["ip", "link", "show", "dev", ifname], check=False).returncode == 0:
            if time.monotonic() > deadline:
                raise SandboxError("wire: %s already has an interface %r" % (host.name, ifname))
            time.sleep(0.02)
        lan_fd, host_fd = _netns_fds(lan, host)
        try:
            cmd = ["nsenter", "--net=/proc/self/fd/%d" % lan_fd, "--", "ip", "link", "add", "name", port,
                   "type", "veth", "peer", "name", ifname, "netns", "/proc/self/fd/%d" % host_fd]
            proc = subprocess.run(cmd, pass_fds=(lan_fd, host_fd), capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, timeout=60, check=False)
            if proc.returncode != 0:
                raise CommandError(proc.returncode, cmd, proc.stdout, proc.stderr)
        finally:
            os.close(lan_fd)
            os.close(host_fd)
        inside = ["ip"]
        target = host
    for address in addresses:
        target.run(inside + ["addr", "replace", address, "dev", ifname])
    target.run(inside + ["link", "set", "dev", ifname, "up"])
    if gateway:
        target.run(inside + ["route", "replace", "default", "via", gateway, "dev", ifname])
    lan.run(["ip", "link", "set", "dev", port, "master", bridge, "up"])
    return port


def _main(argv=None):
    parser = argparse.ArgumentParser(prog="sandbox.py", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="action", required=True)
    p_start = sub.add_parser("start", help="start sandbox hosts")
    p_start.add_argument("--boot", action="store_true", help="systemd as PID 1 (see SETUP_BOOT)")
    p_start.add_argument("names", nargs="+", metavar="NAME")
    p_exec = sub.add_parser("exec", help="run a command inside a sandbox host")
    p_exec.add_argument("--ansible", action="store_true", help="environment of ansible_env()")
    p_exec.add_argument("name", metavar="NAME")
    p_exec.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD")
    p_stop = sub.add_parser("stop", help="stop sandbox hosts")
    p_stop.add_argument("--all", action="store_true", help="every recorded and every stray sandbox")
    p_stop.add_argument("--match", metavar="GLOB", action="append",
                        help="the recorded and stray sandboxes whose name matches GLOB (repeatable)")
    p_stop.add_argument("names", nargs="*", metavar="NAME")
    sub.add_parser("list", help="list recorded sandbox hosts")
    p_wire = sub.add_parser("wire", help="cable a sandbox host (or a namespace inside LAN) to LAN's bridge")
    p_wire.add_argument("lan", metavar="LAN", help="the sandbox host that plays the LAN switch")
    p_wire.add_argument("host", metavar="HOST", help="the sandbox host to cable (with --netns: a namespace in LAN)")
    p_wire.add_argument("addresses", nargs="*", metavar="ADDRESS", help="CIDR for HOST's end (repeatable)")
    p_wire.add_argument("--netns", action="store_true", help="HOST is a named namespace inside LAN (created if missing)")
    p_wire.add_argument("--bridge", default=LAN_BRIDGE, help="the bridge in LAN (default %(default)s)")
    p_wire.add_argument("--ifname", default="eth0", help="HOST's end (default %(default)s)")
    p_wire.add_argument("--port", help="LAN's end (default: HOST, shortened to 15 bytes)")
    p_wire.add_argument("--gateway", help="a default route via this address on HOST's end")
    args = parser.parse_args(argv)

    try:
        if args.action == "start":
            for name in args.names:
                host = SandboxHost(name, boot=args.boot).start()
                print("%s %d" % (name, host.pid))
        elif args.action == "exec":
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            if not cmd:
                parser.error("exec: no command given (exec NAME -- CMD...)")
            if len(cmd) == 1 and any(c.isspace() for c in cmd[0]):
                cmd = cmd[0]  # one quoted command line: run it with /bin/sh -c
            host = SandboxHost(args.name)
            if not host.is_running():
                raise SandboxError("sandbox %r is not running" % args.name)
            env = host.ansible_env() if args.ansible else {}
            full_env = dict(os.environ, **env)
            os.execvpe("nsenter", host.command(cmd), full_env)
        elif args.action == "stop":
            if [bool(args.all), bool(args.names), args.match is not None].count(True) != 1:
                parser.error("stop: give NAME..., --all or --match GLOB")
            if args.all or args.match is not None:
                for name in stop_all(match=args.match):
                    print("stopped %s" % name)
            else:
                for name in args.names:
                    SandboxHost(name).stop()
        elif args.action == "wire":
            lan = SandboxHost(args.lan)
            host = None if args.netns else SandboxHost(args.host)
            for needed in (lan, host):
                if needed is not None and not needed.is_running():
                    raise SandboxError("sandbox %r is not running" % needed.name)
            port = wire(lan, host, args.addresses, bridge=args.bridge, ifname=args.ifname, port=args.port,
                        gateway=args.gateway, netns=args.host if args.netns else None)
            print("%s %s %s" % (args.host, args.ifname, port))
        else:
            for host in recorded():
                running = host.is_running()
                print("%s %s %s" % (host.name, host.pid if running else "-", "running" if running else "dead"))
    except (SandboxError, CommandError) as exc:
        print("sandbox.py: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
