"""Fixtures of the integration tests: sandbox hosts, and Ansible runs inside them.

``host``       a started sandbox host (tools/sandbox.py), stopped at teardown whatever
               happens; a unique name per test, safe under pytest-xdist.
``make_host``  a factory for more hosts in one test (``make_host()``, ``make_host("a")``:
               the name is made unique, "a" becomes its suffix; ``boot=True``: systemd as PID 1,
               ``before_boot=fn`` runs before systemd starts, see tools/sandbox.py).
``collection`` the installed collection (session check: fails with "run make install").

On a host:
``host.play(tasks, check=False, diff=False, vars=None)`` runs a playbook (localhost,
connection local, no facts, the .venv's python with pyroute2) with ansible-playbook
inside the sandbox and the collection from .collections; returns a PlayResult
(rc, stdout, stderr, results: one dict per task result in order, recorded by
callback_plugins/netfabric_results.py: the module's return keys plus task, changed,
failed, skipped, msg, diff, warnings, result).
``host.playbook(path, check=False, diff=False, extra_vars=None)`` the same for a playbook
file (inventory: localhost, connection local).
``host.ip("-n red addr show")`` parsed ``ip -j`` output, ``host.netns_names()``,
``host.tcp_ok(server_ns, server_addr, port, client_ns=None)`` a real TCP echo.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
VENV_PYTHON = os.path.join(VENV_BIN, "python")
ANSIBLE_PLAYBOOK = os.path.join(VENV_BIN, "ansible-playbook")
COLLECTION = os.path.join(REPO, ".collections", "ansible_collections", "netfabric", "netns")
CALLBACKS = os.path.join(HERE, "callback_plugins")

sys.path.insert(0, os.path.join(REPO, "tools"))
from sandbox import SandboxHost  # noqa: E402  pylint: disable=wrong-import-position

# One python3 process inside the sandbox runs the probe: a one-shot echo server in the
# server's namespace (unless listen is 0) and a client in the client's namespace that
# retries connecting until the deadline. A server that cannot start (no such namespace,
# address not on any interface) ends the probe at once. Exit 0: the echo came back.
_TCP_PROBE = r"""
import os, socket, subprocess, sys, time

SERVER = '''
import socket, sys, time
addr, port, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
srv = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
while True:  # a fresh IPv6 address stays tentative (not bindable) while DAD runs
    try:
        srv.bind((addr, port))
        break
    except OSError:
        tentative = False
        if ":" in addr:  # retry only while the address exists (tentative); /proc/net is per netns
            with open("/proc/net/if_inet6") as table:
                tentative = socket.inet_pton(socket.AF_INET6, addr).hex() in table.read().split()
        if not tentative or time.monotonic() >= deadline:
            sys.exit(2)
        time.sleep(0.05)
srv.listen(8)
srv.settimeout(max(0.1, deadline - time.monotonic()))
conn, _ = srv.accept()
conn.settimeout(2)
data = b""
while True:
    chunk = conn.recv(4096)
    if not chunk:
        break
    data += chunk
conn.sendall(data)
conn.close()
'''

CLIENT = '''
import socket, sys, time
addr, port, deadline = sys.argv[1], int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
token = sys.argv[4].encode()
while True:
    try:
        with socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(max(0.2, min(0.5, deadline - time.monotonic())))
            sock.connect((addr, port))
            sock.sendall(token)
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        sys.exit(0 if data == token else 3)
    except OSError:
        if time.monotonic() >= deadline:
            sys.exit(1)
        time.sleep(0.1)
'''


def in_ns(netns, script, *args):
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return subprocess.Popen(prefix + [sys.executable, "-c", script] + [str(a) for a in args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


server_ns, addr, port, client_ns, timeout, listen = sys.argv[1:7]
timeout = float(timeout)
server = in_ns(server_ns, SERVER, addr, port, timeout + 1) if listen == "1" else None
client = in_ns(client_ns, CLIENT, addr, port, timeout, os.urandom(8).hex())
rc = None
hard_deadline = time.monotonic() + timeout + 5
while rc is None and time.monotonic() < hard_deadline:
    rc = client.poll()
    if rc is None and server is not None and server.poll() not in (None, 0):
        rc = 4  # the server could not listen
    time.sleep(0.02)
for proc in (client, server):
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()
sys.exit(1 if rc is None else rc)
"""


class PlayResult:
    """What one ansible-playbook run inside a sandbox host produced."""

    def __init__(self, rc, stdout, stderr, results, playbook):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.results = results
        self.playbook = playbook  # the play data (play()) or the playbook's path (playbook())

    def __repr__(self):
        return "PlayResult(rc=%r, tasks=%r)" % (self.rc, [r.get("task") for r in self.results])

    def task(self, name):
        """The first recorded result of the task called name (KeyError if none)."""
        for result in self.results:
            if result.get("task") == name:
                return result
        raise KeyError("no task %r in %r" % (name, [r.get("task") for r in self.results]))

    @property
    def output(self):
        """stdout and stderr together, for assertion messages."""
        return self.stdout + ("\n--- stderr ---\n" + self.stderr if self.stderr else "")


def require_collection():
    """Fail (not skip) when the venv or the installed collection is missing."""
    if not os.access(ANSIBLE_PLAYBOOK, os.X_OK):
        pytest.fail("%s is missing: run make venv" % ANSIBLE_PLAYBOOK, pytrace=False)
    if not os.path.isfile(os.path.join(COLLECTION, "MANIFEST.json")):
        pytest.fail("netfabric.netns is not installed in %s: run make install" % COLLECTION, pytrace=False)
    return COLLECTION


class HarnessHost(SandboxHost):
    """A SandboxHost with the helpers the integration tests use."""

    def play(self, tasks, check=False, diff=False, vars=None, timeout=600, args=()):  # pylint: disable=redefined-builtin
        """Run tasks as one play on this host with the installed collection; returns a PlayResult."""
        play_vars = {"ansible_python_interpreter": VENV_PYTHON}
        play_vars.update(vars or {})
        playbook = [{"name": "netfabric test play", "hosts": "localhost", "connection": "local",
                     "gather_facts": False, "vars": play_vars, "tasks": list(tasks)}]
        work = tempfile.mkdtemp(prefix="play-", dir=self.dir)
        path = os.path.join(work, "playbook.yml")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(playbook, handle, indent=1)  # JSON is YAML
        result = self._ansible_playbook(work, path, check, diff, None, timeout, args)
        result.playbook = playbook
        return result

    def playbook(self, path, check=False, diff=False, extra_vars=None, timeout=600, args=()):
        """Run an existing playbook file on this host (inventory: localhost only, connection
        local, the .venv's python); returns a PlayResult."""
        work = tempfile.mkdtemp(prefix="playbook-", dir=self.dir)
        return self._ansible_playbook(work, os.path.abspath(path), check, diff, extra_vars, timeout, args)

    def _ansible_playbook(self, work, path, check, diff, extra_vars, timeout, args):
        require_collection()
        inventory = os.path.join(work, "inventory.yml")
        with open(inventory, "w", encoding="utf-8") as handle:
            json.dump({"all": {"hosts": {"localhost": {
                "ansible_connection": "local", "ansible_python_interpreter": VENV_PYTHON}}}}, handle)
        results_file = os.path.join(work, "results.jsonl")
        env = self.ansible_env(REPO)
        env.update({
            "ANSIBLE_CALLBACK_PLUGINS": CALLBACKS,
            "ANSIBLE_CALLBACKS_ENABLED": "netfabric_results",
            "NETFABRIC_RESULTS_FILE": results_file,
        })
        cmd = [ANSIBLE_PLAYBOOK, "-i", inventory, path]
        cmd += ["--check"] if check else []
        cmd += ["--diff"] if diff else []
        if extra_vars:
            vars_file = os.path.join(work, "extra_vars.json")
            with open(vars_file, "w", encoding="utf-8") as handle:
                json.dump(extra_vars, handle)
            cmd += ["-e", "@" + vars_file]
        cmd += list(args)
        proc = self.run(cmd, check=False, env=env, cwd=work, timeout=timeout)
        results = []
        if os.path.exists(results_file):
            with open(results_file, encoding="utf-8") as handle:
                results = [json.loads(line) for line in handle if line.strip()]
        return PlayResult(proc.returncode, proc.stdout, proc.stderr, results, path)

    def ip(self, args):
        """Parsed JSON of ``ip -j ARGS`` inside the sandbox (args: str or list)."""
        argv = shlex.split(args) if isinstance(args, str) else [str(arg) for arg in args]
        out = self.run(["ip", "-j"] + argv).stdout
        return json.loads(out) if out.strip() else []

    def netns_names(self):
        """Names of the sandbox's named namespaces (``ip netns list``), sorted."""
        return sorted(entry["name"] for entry in self.ip("netns list"))

    def tcp_ok(self, server_ns, server_addr, port, client_ns=None, timeout=None, listen=True):
        """True when a TCP connection from client_ns to server_addr:port carries an echo.

        A one-shot echo server listens on server_addr:port inside server_ns (None: the
        sandbox's own namespace) unless listen=False; the client in client_ns (None: the
        sandbox's own namespace) retries connecting for up to timeout seconds (default 3,
        5 for IPv6: a fresh IPv6 address is unusable for ~1.5-2 s while DAD runs).
        Never hangs; never raises for an unreachable peer or a missing namespace.
        """
        if timeout is None:
            timeout = 5.0 if ":" in server_addr else 3.0
        args = [server_ns or "", server_addr, port, client_ns or "", timeout, "1" if listen else "0"]
        try:
            return self.run([sys.executable, "-c", _TCP_PROBE] + [str(a) for a in args],
                            check=False, timeout=timeout + 15).returncode == 0
        except subprocess.TimeoutExpired:
            return False


_counter = itertools.count(1)
_live = {}


def _new_name():
    return "t%d-%d" % (os.getpid(), next(_counter))


def _stop(host):
    try:
        host.stop()
    finally:
        _live.pop(host.name, None)


@atexit.register
def _stop_leftovers():
    for host in list(_live.values()):
        try:
            _stop(host)
        except Exception:  # pylint: disable=broad-exception-caught
            pass


def _require_root():
    if os.geteuid() != 0:
        pytest.skip("integration tests need root: sandbox hosts are made with unshare, nsenter and mount")


def pytest_configure(config):
    """A SIGTERM (CI timeout) unwinds like Ctrl-C, so sandboxes still get stopped."""
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        def _on_term(signum, frame):
            raise KeyboardInterrupt("SIGTERM")
        signal.signal(signal.SIGTERM, _on_term)


@pytest.fixture(scope="session")
def collection():
    """Path of the installed collection; fails with "run make install" when it is missing."""
    return require_collection()


@pytest.fixture
def make_host(request):
    """Factory of started sandbox hosts, all stopped when the test ends."""
    _require_root()
    made = []

    def factory(name=None, boot=False, before_boot=None):
        # always unique (xdist workers, parallel runs): a given name becomes a suffix
        host = HarnessHost(_new_name() + ("-" + name if name else ""), boot=boot)
        made.append(host)
        _live[host.name] = host
        host.start(before_boot=before_boot)
        return host

    def cleanup():
        errors = []
        for host in reversed(made):
            try:
                _stop(host)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                errors.append("%s: %s" % (host.name, exc))
        if errors:
            raise RuntimeError("could not stop sandbox hosts: %s" % "; ".join(errors))

    request.addfinalizer(cleanup)
    return factory


@pytest.fixture
def host(make_host):
    """A started sandbox host with a unique name, stopped at teardown."""
    return make_host()
