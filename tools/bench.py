"""`make bench`: netns_topology against the stock tools and Ansible loops, N = 10, 100, 1000.

For each N it generates one topology: namespaces ns0..nsN-1, one bridge per 50 namespaces
(at least 2; br<b> with 10.201.<b>.1/24), in each namespace a veth ``eth0`` (10.201.<b>.x/24,
up) whose peer ``veth<i>`` is on its bridge, lo up and a default route via the bridge's
address; a masquerade per bridge subnet and N/10 port forwards (host port 20000+i to
namespace i, port 80). It measures, each in a fresh sandbox host (tools/sandbox.py) started
only after the previous one and its namespaces are gone (the kernel frees namespaces
asynchronously: its net_namespace slab is watched), the median of --runs runs of:

(a) ``apply``     netns_topology fresh apply: the AnsiballZ payload Ansible sends (captured once
                  with ANSIBLE_KEEP_REMOTE_FILES=1, its arguments replaced by the big topology's)
                  run by the target's Python (.venv), timed from process start to exit; with
                  its peak memory (ru_maxrss);
(b) ``rerun``     the same again, nothing to change (changed=false is asserted);
(f) ``teardown``  the same with state=absent;
(c) ``script``    a shell script with one ip / sysctl / nft process per step;
(d) ``batch``     ``ip -batch`` for the host namespace, ``ip -n NS -batch`` per namespace,
                  one ``nft -f``;
(g) ``batch_teardown`` the same host torn down by one ``ip -batch`` (netns del, link del)
                  and one ``nft delete table``;
(e) ``role``      ansible-playbook with the netfabric.netns.topology role, and ``loop``: the same
                  as loops of per-resource module tasks (N <= 100; the loop once at N=100);
(h) ``task``      a play of 20 ``netfabric.netns.netns`` tasks (a loop) on a host where the
                  namespaces exist, and ``peer_task``: the same loop of ``community.general.ip_netns``
                  (from PyPI's ``ansible`` package, installed by ``make bench`` into .build/bench-venv
                  without its dependencies: both plays run on the same ansible-core).

Every build is checked afterwards (namespace, bridge port and veth counts, addresses, routes
and links of sample namespaces, DNAT and masquerade rules, ip_forward), so a broken build
cannot look fast. Writes bench/results.md and prints last one line:
``ratios: apply/ip-script=A apply/ip-batch=B rerun/ip-batch=C loop/role=D n1000/n100=E
teardown/apply=F task/ip_netns=G``.

Usage (as root, after ``make install``)::

    .venv/bin/python tools/bench.py [--sizes 10,100,1000] [--runs 3] [--output bench/results.md]
    .venv/bin/python tools/bench.py --profile 1000    # cProfile of (a), (b) and (f) at N=1000

Internal: ``bench.py timeit -- CMD...`` runs inside a sandbox: runs CMD once and prints its wall
time, peak RSS and the module result's summary as JSON.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime
import io
import ipaddress
import json
import os
import platform
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VENV_BIN = os.path.join(REPO, ".venv", "bin")
VENV_PYTHON = os.path.join(VENV_BIN, "python")
ANSIBLE_PLAYBOOK = os.path.join(VENV_BIN, "ansible-playbook")
COLLECTION = os.path.join(REPO, ".collections", "ansible_collections", "netfabric", "netns")
WORK = os.path.join(REPO, ".build", "bench")
SANDBOXES = os.path.join(WORK, "sandboxes")  # our own root: `sandbox.py stop --all` of a test run leaves it alone
HELPER_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
DEFAULT_OUTPUT = os.path.join(REPO, "bench", "results.md")
# community.general for (h): PyPI's ansible package, installed by `make bench` (requirements-bench.txt)
PEER_VENV = os.path.join(REPO, ".build", "bench-venv")
TASKS = 20
TOPOLOGY_NAME = "bench"
PER_BRIDGE = 50
FORWARD_BASE = 20000
MAX_N = 256 * PER_BRIDGE  # one 10.201.<b>.0/24 per bridge
SETTLE_TIMEOUT = 180.0
SETTLE_STABLE = 3.0
TABLE = "inet netfabric"
# `python -m cProfile` would make the wrapper drop the stdlib from sys.path (it strips its script's directory)
PROFILE_CODE = ("import cProfile, runpy, sys; out, path = sys.argv[1:]; sys.argv = [path]; "
                "cProfile.run('runpy.run_path(path, run_name=\"__main__\")', out)")
CHAINS = (("input", "filter", 0), ("prerouting", "nat", -100), ("output", "nat", -100),
          ("forward", "filter", 0), ("postrouting", "nat", 100))

ROWS = (
    ("apply", "(a) netns_topology fresh apply, module process [s]"),
    ("apply_cpu", "(a) CPU time of that process, user+sys [s]"),
    ("rss", "(a) peak memory of that process (ru_maxrss) [MiB]"),
    ("rerun", "(b) netns_topology re-run, nothing to change [s]"),
    ("teardown", "(f) netns_topology teardown, state=absent [s]"),
    ("script", "(c) shell script, one ip/nft process per step [s]"),
    ("batch", "(d) ip -batch + ip -n NS -batch + nft -f [s]"),
    ("batch_teardown", "(g) ip -batch teardown (netns del, link del) + nft delete table [s]"),
    ("role", "(e) ansible-playbook, topology role [s]"),
    ("loop", "(e) ansible-playbook, per-resource module loops [s]"),
    ("rerun_cpu", "(b) CPU time, user+sys [s]"),
    ("teardown_cpu", "(f) CPU time, user+sys [s]"),
    ("script_cpu", "(c) CPU time of the script and its processes [s]"),
    ("batch_cpu", "(d) CPU time of the batch and its processes [s]"),
    ("batch_teardown_cpu", "(g) CPU time of the teardown and its processes [s]"),
)
CPU_ROWS = ("apply_cpu", "rerun_cpu", "teardown_cpu", "script_cpu", "batch_cpu", "batch_teardown_cpu")
GROUPS = {"apply": "module", "apply_cpu": "module", "rss": "module", "rerun": "module", "teardown": "module",
          "rerun_cpu": "module", "teardown_cpu": "module", "batch_teardown": "batch", "batch_cpu": "batch",
          "batch_teardown_cpu": "batch", "script_cpu": "script", "task": "tasks", "peer_task": "tasks"}
TASK_ROWS = (
    ("task", f"(h) ansible-playbook, {TASKS} netfabric.netns.netns tasks, namespaces present [s]"),
    ("peer_task", f"(h) ansible-playbook, {TASKS} community.general.ip_netns tasks, namespaces present [s]"),
)
RATIOS = (  # name, numerator (row, N), denominator (row, N), target; N None: measured once per run
    ("apply/ip-script", ("apply", 100), ("script", 100), "<= 0.5"),
    ("apply/ip-batch", ("apply", 1000), ("batch", 1000), "<= 0.7"),
    ("rerun/ip-batch", ("rerun", 1000), ("batch", 1000), "<= 0.45"),
    ("loop/role", ("loop", 100), ("role", 100), ">= 20"),
    ("n1000/n100", ("apply", 1000), ("apply", 100), "<= 12"),
    ("teardown/apply", ("teardown", 1000), ("apply", 1000), "<= 1.5"),
    ("task/ip_netns", ("task", None), ("peer_task", None), "<= 1.5"),
)

# Run inside the sandbox after a build: counts in the host namespace, then per sample namespace
# its eth0 address, default gateway and the links that are up. Arguments: the sample namespaces.
VERIFY = r"""
echo "netns $(ls /run/netns | wc -l)"
echo "bridges $(ip -o link show type bridge | wc -l)"
echo "ports $(ip -o link show type bridge_slave | wc -l)"
echo "veths $(ip -o link show type veth | wc -l)"
rules=$(nft list table inet netfabric 2>/dev/null || true)
echo "dnat $(printf '%s\n' "$rules" | grep -c 'dnat ip to' || true)"
echo "masquerade $(printf '%s\n' "$rules" | grep -c ' masquerade comment' || true)"
echo "forwarding $(cat /proc/sys/net/ipv4/ip_forward)"
for ns in "$@"; do
    echo "addr:$ns $(ip -n "$ns" -4 -o addr show dev eth0 | awk '{print $4}')"
    echo "route:$ns $(ip -n "$ns" route show default | awk '{print $3}')"
    echo "up:$ns $(ip -n "$ns" -o link show up | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | sort | paste -sd, -)"
done
"""

EXPLAINED = """## What is measured

The topology for N: namespaces ns0..nsN-1; one bridge per 50 namespaces, at least 2 (`br<b>`,
10.201.<b>.1/24); in each namespace `eth0` (an address on its bridge's subnet, up) whose veth peer
`veth<i>` is on the bridge; lo up; a default route via the bridge's address; a masquerade per
bridge subnet; N/10 port forwards (host port 20000+i to namespace i, port 80).

- (a), (b), (f): the AnsiballZ wrapper of `netns_topology` exactly as ansible-playbook sends it
  (captured with `ANSIBLE_KEEP_REMOTE_FILES=1` from a one-namespace run, its `params` replaced by
  this topology's), run as `.venv/bin/python AnsiballZ_netns_topology.py` inside the sandbox; wall
  time from process start to exit (interpreter start and imports included, controller excluded),
  peak RSS and CPU time from `getrusage(RUSAGE_CHILDREN)`. (a), (b) and (f) run one after the other
  in one sandbox; the re-run must report changed=false and no actions.
- (c): `/bin/sh` running one `ip`, `sysctl` or `nft` process per step (`ip netns add`, `ip link add
  ... netns`, `ip link set ... master`, `ip link set ... up`, `ip -n NS addr add`, `ip -n NS link
  set ... up` for eth0 and lo, `ip -n NS route add`, `nft add table/chain/rule`), with the same
  nftables rules as the module writes. Beyond N=100 it runs once (not needed by any ratio).
- (d): `ip -batch` for the host namespace (namespaces, bridges, veths born in their namespace,
  enslaved and up), `ip -n NS -batch` per namespace (lo, address, eth0 up, route), one `sysctl`
  and one `nft -f` with the whole table.
- (e): `ansible-playbook` inside the sandbox (connection local, no facts, default settings),
  controller included: the `netfabric.netns.topology` role vs loops of `netns`, `bridge`, `veth`,
  `netns_route`, `nat_masquerade` and `port_forward` tasks. Only for N <= 100; the loop at N=100
  runs once.
- Every build is checked afterwards (namespace, bridge, port and veth counts; address, default
  route and up links of three namespaces; DNAT and masquerade rules; ip_forward), and so is the
  teardown. A failed or wrong build is reported as failed, never timed.
- Before each sandbox starts, the previous one's PID 1 has exited and the kernel has freed its
  namespaces (its `net_namespace` slab count is back, or no longer falling).

## Reproduce

```sh
make bench                                                  # N = 10, 100, 1000; 3 runs
.venv/bin/python tools/bench.py --sizes 10,100 --runs 1     # quick (after make install)
.venv/bin/python tools/bench.py --profile 1000              # cProfile of (a), (b), (f): bench/profile-n1000.txt
.venv/bin/python tools/bench.py --module-env NETFABRIC_NFT_BACKEND=cli   # the nft command instead of libnftables
```
"""


class BenchError(RuntimeError):
    """A build failed, produced the wrong state, or the harness could not run."""


# ------------------------------------------------------------------ inside the sandbox


def timeit_main(argv):
    """Run argv (after ``--``) once; print JSON: wall time, peak RSS of the child, result summary."""
    cmd = argv[1:] if argv[:1] == ["--"] else argv
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # our only child: its peak RSS, in KiB
    out = {"wall": wall, "rc": proc.returncode, "maxrss_kb": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime,
           "stderr": proc.stderr.decode("utf-8", "replace")[-3000:]}
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        result = None
    if isinstance(result, dict):
        out["result"] = {"changed": result.get("changed"), "failed": result.get("failed"), "msg": result.get("msg"),
                         "actions": len(result.get("actions") or [])}
    else:
        out["stdout"] = proc.stdout.decode("utf-8", "replace")[-3000:]
    print(json.dumps(out))
    return 0


# ------------------------------------------------------------------ the topology and its scripts


def make_topology(n):
    """The netns_topology argument for N namespaces (see the module docstring)."""
    if not 1 <= n <= MAX_N:
        raise BenchError(f"size {n}: use 1..{MAX_N} namespaces")
    bridges = max(2, -(-n // PER_BRIDGE))
    per = -(-n // bridges)

    def address(i):
        return f"10.201.{i // per}.{10 + i % per}"

    return {
        "namespaces": [{"name": f"ns{i}"} for i in range(n)],
        "bridges": [{"name": f"br{b}", "addresses": [f"10.201.{b}.1/24"]} for b in range(bridges)],
        "veths": [{"name": "eth0", "netns": f"ns{i}", "addresses": [address(i) + "/24"], "peer": f"veth{i}",
                   "peer_bridge": f"br{i // per}"} for i in range(n)],
        "routes": [{"netns": f"ns{i}", "dst": "default", "gateway": f"10.201.{i // per}.1"} for i in range(n)],
        "masquerade": [{"source": f"10.201.{b}.0/24"} for b in range(bridges)],
        "port_forwards": [{"port": FORWARD_BASE + i, "destination": address(i), "destination_port": 80}
                          for i in range(n // 10)],
    }


def nft_rules(topo):
    """(chain, rule) pairs: the rules netns_topology writes for this topology, in its order."""
    chains = {name: [] for name, unused_type, unused_prio in CHAINS}
    chains["forward"] += ['ct status dnat accept comment "helper dnat"',
                          'ct state established,related accept comment "helper established"']
    for fwd in topo["port_forwards"]:
        owner = f'comment "port_forward tcp * {fwd["port"]}"'
        dest, dport = fwd["destination"], fwd["destination_port"]
        subnet = ipaddress.ip_interface(dest + "/24").network
        chains["prerouting"].append(f"fib daddr type local meta nfproto ipv4 tcp dport {fwd['port']} "
                                    f"dnat ip to {dest}:{dport} {owner}")
        chains["output"].append(f"fib daddr type local ip daddr != 127.0.0.0/8 tcp dport {fwd['port']} "
                                f"dnat ip to {dest}:{dport} {owner}")
        chains["postrouting"].append(f"ct status dnat ip saddr {subnet} ip daddr {dest} tcp dport {dport} masquerade {owner}")
    for masq in topo["masquerade"]:
        src = masq["source"]
        owner = f'comment "masquerade {src} out *"'
        chains["forward"].append(f"ip saddr {src} accept {owner}")
        chains["postrouting"].append(f"ip saddr {src} ip daddr != {src} masquerade {owner}")
    return [(chain, rule) for chain, rules in chains.items() for rule in rules]


def chain_spec(name, kind, prio):
    return f"type {kind} hook {name} priority {prio}; policy accept;"


def ip_script(topo):
    """(c): a shell script with one ip / sysctl / nft process per step, as done by hand."""
    routes = {route["netns"]: route["gateway"] for route in topo["routes"]}
    lines = ["set -e"]
    lines += [f"ip netns add {ns['name']}" for ns in topo["namespaces"]]
    for br in topo["bridges"]:
        lines.append(f"ip link add {br['name']} type bridge")
        lines += [f"ip addr add {cidr} dev {br['name']}" for cidr in br["addresses"]]
        lines.append(f"ip link set {br['name']} up")
    for veth in topo["veths"]:
        ns, name, peer = veth["netns"], veth["name"], veth["peer"]
        lines += [f"ip link add {peer} type veth peer name {name} netns {ns}",
                  f"ip link set {peer} master {veth['peer_bridge']}",
                  f"ip link set {peer} up"]
        lines += [f"ip -n {ns} addr add {cidr} dev {name}" for cidr in veth["addresses"]]
        lines += [f"ip -n {ns} link set {name} up", f"ip -n {ns} link set lo up",
                  f"ip -n {ns} route add default via {routes[ns]}"]
    lines.append("sysctl -qw net.ipv4.ip_forward=1")
    lines.append(f"nft add table {TABLE}")
    lines += [f"nft add chain {TABLE} {name} {shlex.quote('{ ' + chain_spec(name, kind, prio) + ' }')}"
              for name, kind, prio in CHAINS]
    lines += [f"nft add rule {TABLE} {chain} {shlex.quote(rule)}" for chain, rule in nft_rules(topo)]
    return "\n".join(lines) + "\n"


def batch_files(topo, directory):
    """(d): writes the batch files and returns the script: ip -batch (host), ip -n NS -batch, nft -f."""
    host = [f"netns add {ns['name']}" for ns in topo["namespaces"]]
    for br in topo["bridges"]:
        host.append(f"link add {br['name']} type bridge")
        host += [f"addr add {cidr} dev {br['name']}" for cidr in br["addresses"]]
        host.append(f"link set {br['name']} up")
    for veth in topo["veths"]:
        host += [f"link add {veth['peer']} type veth peer name {veth['name']} netns {veth['netns']}",
                 f"link set {veth['peer']} master {veth['peer_bridge']} up"]
    write(os.path.join(directory, "host.batch"), "\n".join(host) + "\n")
    routes = {route["netns"]: route["gateway"] for route in topo["routes"]}
    lines = ["set -e", f"ip -batch {directory}/host.batch"]
    os.makedirs(os.path.join(directory, "ns"), exist_ok=True)
    for veth in topo["veths"]:
        ns = veth["netns"]
        inside = ["link set lo up"] + [f"addr add {cidr} dev {veth['name']}" for cidr in veth["addresses"]]
        inside += [f"link set {veth['name']} up", f"route add default via {routes[ns]}"]
        path = os.path.join(directory, "ns", ns + ".batch")
        write(path, "\n".join(inside) + "\n")
        lines.append(f"ip -n {ns} -batch {path}")
    rules = nft_rules(topo)
    nft = [f"table {TABLE} {{"]
    for name, kind, prio in CHAINS:
        nft += [f"\tchain {name} {{", f"\t\t{chain_spec(name, kind, prio)}"]
        nft += [f"\t\t{rule}" for chain, rule in rules if chain == name]
        nft.append("\t}")
    nft.append("}")
    write(os.path.join(directory, "rules.nft"), "\n".join(nft) + "\n")
    lines += ["sysctl -qw net.ipv4.ip_forward=1", f"nft -f {directory}/rules.nft"]
    return "\n".join(lines) + "\n"


def batch_teardown(topo, directory):
    """(g): writes the batch file and returns the script that tears the host down again: one
    ip -batch (bridges, then namespaces: their veths go with them) and nft delete table."""
    lines = [f"link del {br['name']}" for br in topo["bridges"]] + [f"netns del {ns['name']}" for ns in topo["namespaces"]]
    write(os.path.join(directory, "teardown.batch"), "\n".join(lines) + "\n")
    return f"set -e\nip -batch {directory}/teardown.batch\nnft delete table {TABLE}\n"


def role_play(topo):
    """(e) the whole topology through the topology role."""
    return [{"name": "bench: topology role", "hosts": "localhost", "gather_facts": False,
             "roles": [{"role": "netfabric.netns.topology",
                        # the loops have nothing like persist: leave it out of the comparison
                        "vars": {"netns_topology": topo, "netns_topology_name": TOPOLOGY_NAME,
                                 "netns_topology_persist": False}}]}]


def loop_play(topo):
    """(e) the same topology as loops of per-resource module tasks."""
    def task(module, options, items):
        args = {key: "{{ item.%s }}" % key for key in options}
        return {"name": module, "netfabric.netns." + module: args, "loop": items,
                "loop_control": {"label": "{{ item.%s }}" % options[0]}}
    tasks = [task("netns", ["name"], topo["namespaces"]),
             task("bridge", ["name", "addresses"], topo["bridges"]),
             task("veth", ["name", "netns", "addresses", "peer", "peer_bridge"], topo["veths"]),
             task("netns_route", ["netns", "dst", "gateway"], topo["routes"]),
             task("nat_masquerade", ["source"], topo["masquerade"]),
             task("port_forward", ["port", "destination", "destination_port"], topo["port_forwards"])]
    return [{"name": "bench: per-resource loops", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def write(path, text, mode=None):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    if mode is not None:
        os.chmod(path, mode)


# ------------------------------------------------------------------ sandboxes


def netns_objects():
    """Network namespaces alive in the kernel (net_namespace slab objects), or None."""
    try:
        with open("/proc/slabinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("net_namespace "):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def settle(baseline):
    """After a sandbox's PID 1 has exited: wait until the kernel has freed its namespaces
    (back to the count before it started, or no longer falling, for other users' namespaces)."""
    current = netns_objects()
    if baseline is None or current is None:
        return 0.0
    start = last_drop = time.monotonic()
    lowest = current
    while current > baseline and time.monotonic() - start < SETTLE_TIMEOUT:
        if current < lowest:
            lowest, last_drop = current, time.monotonic()
        elif time.monotonic() - last_drop > SETTLE_STABLE:
            break
        time.sleep(0.05)
        current = netns_objects()
    return time.monotonic() - start


@contextlib.contextmanager
def fresh_host(name):
    """A started sandbox host; afterwards stopped, its PID 1 gone and its namespaces freed."""
    from sandbox import SandboxHost  # pylint: disable=import-outside-toplevel

    baseline = netns_objects()
    host = SandboxHost(name, SANDBOXES)
    host.start()
    try:
        yield host
    finally:
        host.stop()  # SIGKILL to its PID 1, waits until that PID has exited
        settle(baseline)


def timed(host, cmd, env=None, cwd=None, timeout=1800):
    """Run cmd inside host under ``bench.py timeit``; returns its JSON (wall, rc, maxrss_kb, result)."""
    proc = host.run([HELPER_PYTHON, os.path.abspath(__file__), "timeit", "--"] + list(cmd), env=env, cwd=cwd,
                    check=False, timeout=timeout)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BenchError(f"timing {cmd[0]} failed (exit {proc.returncode}): {proc.stderr[-2000:]}") from None


def check_ok(data, what):
    result = data.get("result") or {}
    if data["rc"] != 0 or result.get("failed"):
        detail = result.get("msg") or data.get("stderr") or data.get("stdout") or ""
        raise BenchError(f"{what} failed (exit {data['rc']}): {detail[-2000:]}")
    return data


def verify(host, topo, present=True, what="build", wait=0.0):
    """Check the kernel state after a build (present) or a teardown; raise BenchError if wrong.
    ``wait``: seconds to keep checking (a teardown leaves the removal of namespaces' links to
    the kernel, which finishes it asynchronously, after the tool has exited)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return _verify(host, topo, present, what)
        except BenchError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _verify(host, topo, present, what):
    names = [ns["name"] for ns in topo["namespaces"]]
    samples = sorted({names[0], names[len(names) // 2], names[-1]}, key=names.index) if present else []
    proc = host.run(["/bin/sh", "-c", VERIFY, "verify"] + samples, check=False)
    seen = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    n, forwards = len(names), len(topo["port_forwards"])
    want = {"netns": n, "bridges": len(topo["bridges"]), "ports": n, "veths": n,
            "dnat": 2 * forwards, "masquerade": len(topo["masquerade"]) + forwards, "forwarding": 1}
    if not present:
        want = {key: 0 for key in want if key != "forwarding"}
    want = {key: str(value) for key, value in want.items()}
    veths = {veth["netns"]: veth for veth in topo["veths"]}
    gateways = {route["netns"]: route["gateway"] for route in topo["routes"]}
    for ns in samples:
        want[f"addr:{ns}"] = " ".join(veths[ns]["addresses"])
        want[f"route:{ns}"] = gateways[ns]
        want[f"up:{ns}"] = "eth0,lo"
    wrong = {key: (seen.get(key, "").strip(), value) for key, value in want.items() if seen.get(key, "").strip() != value}
    if wrong:
        found = ", ".join(f"{key}={got!r} (want {value!r})" for key, (got, value) in sorted(wrong.items()))
        raise BenchError(f"{what} in {host.name} produced the wrong state: {found}")


# ------------------------------------------------------------------ the module payload


class Payload:
    """netns_topology's AnsiballZ wrapper as Ansible sent it, with its arguments replaceable."""

    def __init__(self, text):
        self.lines = text.splitlines(keepends=True)
        found = [i for i, line in enumerate(self.lines) if line.startswith("params=")]
        if len(found) != 1:
            raise BenchError("the AnsiballZ wrapper has no single 'params=' line: has ansible-core changed its format?")
        self.index = found[0]
        self.params = json.loads(ast.literal_eval(self.lines[self.index][len("params="):].rstrip().rstrip(",")))

    def write(self, path, tmpdir, **module_args):
        """The wrapper with these module arguments, as a normal (not kept, not verbose) run sends it."""
        args = dict(self.params["ANSIBLE_MODULE_ARGS"], **module_args)
        args.update(_ansible_keep_remote_files=False, _ansible_verbosity=0, _ansible_check_mode=False,
                    _ansible_diff=False, _ansible_tmpdir=tmpdir + "/", _ansible_remote_tmp=os.path.dirname(tmpdir))
        lines = list(self.lines)
        lines[self.index] = "params=%r,\n" % json.dumps({"ANSIBLE_MODULE_ARGS": args})
        write(path, "".join(lines), 0o700)
        return path


def playbook_files(host, play, tag):
    """Inventory (localhost, connection local, the .venv's python) and playbook files in host's dir."""
    work = os.path.join(host.dir, "play-" + tag)
    os.makedirs(work, exist_ok=True)
    inventory = os.path.join(work, "inventory.json")
    write(inventory, json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": VENV_PYTHON}}}}))
    playbook = os.path.join(work, "playbook.json")  # JSON is YAML
    write(playbook, json.dumps(play))
    return work, [ANSIBLE_PLAYBOOK, "-i", inventory, playbook]


def capture_payload():
    """Run netns_topology once through ansible-playbook (tiny topology, ANSIBLE_KEEP_REMOTE_FILES=1)
    and return the AnsiballZ wrapper it left on the target."""
    play = [{"name": "bench: capture the payload", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"netfabric.netns.netns_topology": {"name": "capture", "topology": {"namespaces": [{"name": "capture0"}]}}}]}]
    with fresh_host("bench-capture") as host:
        env = host.ansible_env(REPO)
        env["ANSIBLE_KEEP_REMOTE_FILES"] = "1"
        work, cmd = playbook_files(host, play, "capture")
        proc = host.run(cmd, env=env, cwd=work, check=False, timeout=300)
        if proc.returncode != 0:
            raise BenchError(f"ansible-playbook could not run netns_topology (exit {proc.returncode}): "
                             f"{(proc.stdout + proc.stderr)[-2000:]}")
        found = []
        for root, unused_dirs, files in os.walk(env["ANSIBLE_REMOTE_TEMP"]):
            found += [os.path.join(root, f) for f in files if f == "AnsiballZ_netns_topology.py"]
        if len(found) != 1:
            raise BenchError(f"expected one AnsiballZ_netns_topology.py under {env['ANSIBLE_REMOTE_TEMP']}, found {found}")
        with open(found[0], encoding="utf-8") as handle:
            text = handle.read()
    os.makedirs(WORK, exist_ok=True)
    write(os.path.join(WORK, "AnsiballZ_netns_topology.py"), text, 0o700)  # kept for inspection
    return Payload(text)


def run_module(host, payload, topo, state, label, env, prefix=()):
    """One netns_topology process on the host (prefix: e.g. cProfile); returns timeit's JSON."""
    tmpdir = os.path.join(host.dir, "remote", "ansible-tmp-" + label)
    os.makedirs(tmpdir)
    path = payload.write(os.path.join(tmpdir, "AnsiballZ_netns_topology.py"), tmpdir,
                         name=TOPOLOGY_NAME, topology=topo, state=state)
    return check_ok(timed(host, [VENV_PYTHON] + list(prefix) + [path], env=env, cwd=tmpdir), f"netns_topology {label}")


# ------------------------------------------------------------------ the measurements
# Each fills ``out`` as it goes, so what was measured before a failure is kept.


def measure_module(out, payload, topo, tag, env):
    """(a), (b), (f) in one fresh sandbox: apply, re-run, teardown."""
    with fresh_host(tag + "-module") as host:
        apply = run_module(host, payload, topo, "present", "apply", env)
        if apply["result"]["changed"] is not True:
            raise BenchError(f"the fresh apply reported changed={apply['result']['changed']}")
        verify(host, topo, what="netns_topology apply")
        out.update(apply=apply["wall"], apply_cpu=apply["cpu"], rss=apply["maxrss_kb"] / 1024.0,
                   actions=apply["result"]["actions"])
        rerun = run_module(host, payload, topo, "present", "rerun", env)
        if rerun["result"]["changed"] is not False or rerun["result"]["actions"]:
            raise BenchError(f"the re-run reported changed={rerun['result']['changed']} "
                             f"with {rerun['result']['actions']} actions")
        out.update(rerun=rerun["wall"], rerun_cpu=rerun["cpu"])
        teardown = run_module(host, payload, topo, "absent", "teardown", env)
        verify(host, topo, present=False, what="netns_topology teardown", wait=SETTLE_TIMEOUT)
        out.update(teardown=teardown["wall"], teardown_cpu=teardown["cpu"])


def measure_script(out, topo, tag, batch):
    """(c) one process per step, or (d) batch mode, in a fresh sandbox."""
    key = "batch" if batch else "script"
    with fresh_host(f"{tag}-{key}") as host:
        directory = os.path.join(host.dir, "build")
        os.makedirs(directory)
        text = batch_files(topo, directory) if batch else ip_script(topo)
        path = os.path.join(directory, "build.sh")
        write(path, text)
        data = check_ok(timed(host, ["/bin/sh", path], cwd=directory), "the batch build" if batch else "the ip script")
        verify(host, topo, what="the batch build" if batch else "the ip script")
        if batch:
            down = os.path.join(directory, "teardown.sh")
            write(down, batch_teardown(topo, directory))
            torn = check_ok(timed(host, ["/bin/sh", down], cwd=directory), "the batch teardown")
            verify(host, topo, present=False, what="the batch teardown", wait=SETTLE_TIMEOUT)
            out["batch_teardown"], out["batch_teardown_cpu"] = torn["wall"], torn["cpu"]
    out[key], out[key + "_cpu"] = data["wall"], data["cpu"]
    out[key + "_steps"] = sum(1 for line in text.splitlines() if line and line != "set -e")


def measure_ansible(out, topo, tag, loop, module_env):
    """(e) ansible-playbook (controller included) with the role, or with per-resource loops."""
    kind = "loop" if loop else "role"
    with fresh_host(f"{tag}-{kind}") as host:
        work, cmd = playbook_files(host, loop_play(topo) if loop else role_play(topo), kind)
        env = dict(host.ansible_env(REPO), **module_env)  # connection local: the modules inherit it
        data = timed(host, cmd, env=env, cwd=work)
        if data["rc"] != 0:
            raise BenchError(f"ansible-playbook ({kind}) failed (exit {data['rc']}): {data.get('stdout', '')[-2000:]}")
        verify(host, topo, what=f"ansible-playbook ({kind})")
    out[kind] = data["wall"]


def task_plays(names):
    """(h) the same loop of namespace tasks, through this collection and through community.general."""
    def play(module, args):
        return [{"name": f"bench: {TASKS} {module} tasks", "hosts": "localhost", "gather_facts": False,
                 "tasks": [{"name": module, module: args, "loop": names}]}]
    return {"task": play("netfabric.netns.netns", {"name": "{{ item }}"}),
            "peer_task": play("community.general.ip_netns", {"name": "{{ item }}", "state": "present"})}


def peer_collections():
    """The ansible_collections directory of the bench-only environment with PyPI's ansible package."""
    lib = os.path.join(PEER_VENV, "lib")
    for entry in sorted(os.listdir(lib)) if os.path.isdir(lib) else []:
        path = os.path.join(lib, entry, "site-packages")
        if os.path.isdir(os.path.join(path, "ansible_collections", "community", "general")):
            return path
    raise BenchError(f"community.general is not installed in {PEER_VENV}: run make bench (it installs "
                     "requirements-bench.txt there)")


def measure_tasks(out, run, module_env):
    """(h) one fresh sandbox with the namespaces made beforehand, both plays (in turn first), both
    through the same ansible-playbook, with both collections on the collections path."""
    names = [f"t{i}" for i in range(TASKS)]
    with fresh_host(f"bench-tasks-r{run + 1}") as host:
        # as the netns module leaves them (loopback up), so that neither play has anything to do
        host.run(["/bin/sh", "-c", " && ".join(f"ip netns add {name} && ip -n {name} link set lo up" for name in names)])
        env = dict(host.ansible_env(REPO), **module_env)
        env["ANSIBLE_COLLECTIONS_PATH"] += os.pathsep + peer_collections()
        plays = task_plays(names)
        for key in (("task", "peer_task") if run % 2 == 0 else ("peer_task", "task")):
            work, cmd = playbook_files(host, plays[key], key)
            data = timed(host, cmd, env=env, cwd=work)
            if data["rc"] != 0:
                raise BenchError(f"ansible-playbook ({key}) failed (exit {data['rc']}): {data.get('stdout', '')[-2000:]}")
            if "changed=0" not in data.get("stdout", "changed=0"):
                raise BenchError(f"ansible-playbook ({key}) changed something on a host where the namespaces exist")
            out[key] = data["wall"]
        if sorted(host.run(["ls", "/run/netns"]).stdout.split()) != sorted(names):
            raise BenchError("the task plays changed the namespaces")


def plan(n, run):
    """The measurements of one run at size n: (group, function, keyword arguments)."""
    steps = [("module", measure_module, {}), ("batch", measure_script, {"batch": True})]
    if n <= 100 or run == 0:  # one run of the ip script beyond N=100: ~8,400 processes at N=1000, no ratio needs it
        steps.append(("script", measure_script, {"batch": False}))
    if n <= 100:
        steps.append(("role", measure_ansible, {"loop": False}))
        if n < 100 or run == 0:  # ~0.5 s of CPU per item: 314 items at N=100
            steps.append(("loop", measure_ansible, {"loop": True}))
    return steps


# ------------------------------------------------------------------ report


def median(samples):
    return statistics.median(samples) if samples else None


def ratio(results, num, den):
    top, bottom = median(results.get(num, [])), median(results.get(den, []))
    if top is None or not bottom:
        return None
    return top / bottom


def ratio_range(results, num, den):
    """(lowest, highest) ratio the samples allow: min over max, max over min."""
    top, bottom = results.get(num, []), results.get(den, [])
    if not top or not bottom or not min(bottom):
        return None, None
    return min(top) / max(bottom), max(top) / min(bottom)


def row_text(row):
    """"apply at N=1000", or "task" for a measurement made once per run."""
    return row[0] + (f" at N={row[1]}" if row[1] else "")


def spread_text(samples):
    if not samples:
        return "-"
    return f"{min(samples):.3f} / {median(samples):.3f} / {max(samples):.3f}"


def fmt(value, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f}"


def ratios_line(results):
    return "ratios: " + " ".join(f"{name}={fmt(ratio(results, num, den))}" for name, num, den, unused in RATIOS)


def cpu_ratios_line(results):
    """The same ratios on CPU time where both sides have one (less distorted by other work on the machine)."""
    cells = []
    for name, num, den, unused in RATIOS:
        num_cpu, den_cpu = (num[0] + "_cpu", num[1]), (den[0] + "_cpu", den[1])
        if num_cpu[0] in CPU_ROWS and den_cpu[0] in CPU_ROWS:
            cells.append(f"{name}={fmt(ratio(results, num_cpu, den_cpu))}")
    return "cpu ratios: " + " ".join(cells)


def tool_output(cmd):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    except OSError:
        return "?"
    return (proc.stdout or proc.stderr).strip() or "?"


def machine():
    model = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = tool_output([VENV_PYTHON, "-c", "import platform, pyroute2, ansible.release; "
                            "print(platform.python_version(), pyroute2.__version__, ansible.release.__version__)"]).split()
    versions += ["?"] * (3 - len(versions))
    commit = tool_output(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", REPO, "diff", "--quiet", "HEAD"], check=False, capture_output=True).returncode
    return {"cpu": f"{model}, {os.cpu_count()} CPUs", "kernel": platform.release(), "python": versions[0],
            "pyroute2": versions[1], "ansible": versions[2], "iproute2": tool_output(["ip", "-V"]),
            "nftables": tool_output(["nft", "-v"]), "commit": commit + (" + uncommitted changes" if dirty else "")}


def cell_text(results, failures, key, n):
    """A table cell: the median, "failed" when its measurement failed, "-" when not measured."""
    value = median(results.get((key, n), []))
    if value is not None:
        samples = len(results[(key, n)])
        return fmt(value, 1 if key == "rss" else 3) + ("" if samples > 1 else " (1 run)")
    return "failed" if (GROUPS.get(key, key), n) in failures else "-"


def report(results, info, sizes, runs, extra, failures):
    env = ", ".join(f"`{k}={v}`" for k, v in sorted(info["module_env"].items())) or "default (nothing set)"
    lines = ["# Benchmarks", "",
             f"Generated by `make bench` (`tools/bench.py`) on {info['date']}, in {info['elapsed']:.0f} s. Times in "
             f"seconds, median of {runs} run(s) per cell unless marked, each build in a fresh sandbox host; lower is "
             "better.", "",
             "## Machine", "",
             f"- CPU: {info['cpu']}", f"- kernel: {info['kernel']}",
             f"- Python {info['python']} (the .venv: also the target's interpreter), pyroute2 {info['pyroute2']}, "
             f"ansible-core {info['ansible']}",
             f"- {info['iproute2']}; {info['nftables']}",
             f"- load average at start {info['load_start']}, at end {info['load_end']} (other work on the machine "
             "shows up as noise)",
             f"- collection at commit {info['commit']}; environment of the module processes: {env}", "",
             "## Results", "",
             "| measurement | " + " | ".join(f"N={n}" for n in sizes) + " |",
             "|---|" + "---:|" * len(sizes)]
    for key, label in ROWS:
        lines.append(f"| {label} | " + " | ".join(cell_text(results, failures, key, n) for n in sizes) + " |")
    for key, label in (("actions", "actions in the plan of (a)"), ("script_steps", "processes started by (c) (besides sh)"),
                       ("batch_steps", "processes started by (d) (ip -batch, ip -n NS -batch, sysctl, nft -f)")):
        lines.append(f"| {label} | " + " | ".join(str(extra.get((key, n), "-")) for n in sizes) + " |")
    lines += ["", f"Per-task cost (h), one play of {TASKS} tasks each, controller included:", "",
              "| measurement | value |", "|---|---:|"]
    lines += [f"| {label} | {cell_text(results, failures, key, None)} |" for key, label in TASK_ROWS]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [f"- {group}" + (f" at N={n}" if n else "") + f": `{message[-1500:]}`".replace("\n", " ")
                  for (group, n), message in sorted(failures.items(), key=str)]
    lines += ["", "## Ratios (targets of issues 6 and 12)", "",
              "Each ratio is median over median; the range divides the extreme samples (lowest over highest, "
              "highest over lowest), to show what the noise of a shared machine can do to it.", "",
              "| ratio | value | range | target |", "|---|---:|---:|---|"]
    for name, num, den, target in RATIOS:
        low, high = ratio_range(results, num, den)
        lines.append(f"| {name}: {row_text(num)} / {row_text(den)} | {fmt(ratio(results, num, den))} | "
                     f"{fmt(low)}-{fmt(high)} | {target} |")
    lines += ["", "The same ratios on CPU time (user+sys of the process and its children), where both sides have "
              "it: other work on a shared machine stretches wall times, CPU times much less.", "",
              "```", cpu_ratios_line(results), "```"]
    lines += ["", "```", ratios_line(results), "```", "", EXPLAINED, "## Spread (min / median / max, seconds)", "",
              "| measurement | " + " | ".join(f"N={n}" for n in sizes) + " |", "|---|" + "---:|" * len(sizes)]
    for key, label in ROWS:
        if key == "rss" or key in CPU_ROWS:
            continue
        lines.append(f"| {label} | " + " | ".join(spread_text(results.get((key, n), [])) for n in sizes) + " |")
    lines += ["", "| measurement | min / median / max |", "|---|---:|"]
    lines += [f"| {label} | {spread_text(results.get((key, None), []))} |" for key, label in TASK_ROWS]
    lines += ["", "## Raw samples (seconds; rss in MiB)", "", "```"]
    for key, unused_label in ROWS + TASK_ROWS:
        for n in (sizes if (key, None) not in results else [None]):
            if results.get((key, n)):
                lines.append(f"{key}" + (f" N={n}" if n else "") + ": "
                             + " ".join(f"{value:.3f}" for value in results[(key, n)]))
    lines += ["```", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------ main


def run_bench(sizes, runs, output, module_env, with_tasks=True):
    """Every measurement at every size, run after run; returns the number of failed measurements."""
    started = time.monotonic()
    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()), "module_env": module_env}
    info.update(machine())
    print(f"bench: sizes {', '.join(map(str, sizes))}, {runs} run(s); capturing the netns_topology payload", flush=True)
    payload = capture_payload()
    results, extra, failures = {}, {}, {}
    for n in sizes:
        topo = make_topology(n)
        for run in range(runs):
            tag = f"bench-n{n}-r{run + 1}"
            line = {}
            for group, func, kwargs in plan(n, run):
                if (group, n) in failures:
                    continue  # it failed in an earlier run: the same build fails the same way
                out = {}
                args = (payload, topo, tag, module_env) if group == "module" else (topo, tag)
                if group in ("role", "loop"):
                    kwargs = dict(kwargs, module_env=module_env)
                try:
                    func(out, *args, **kwargs)
                except BenchError as exc:
                    failures[(group, n)] = " ".join(str(exc).split())
                    print(f"N={n} run {run + 1}/{runs}: {group} FAILED: {exc}", flush=True)
                line.update(out)
            for key, value in line.items():
                if key.endswith("_steps") or key == "actions":
                    extra[(key, n)] = value
                else:
                    results.setdefault((key, n), []).append(value)
            shown = " ".join(f"{key}={value:.3f}" for key, value in line.items() if isinstance(value, float))
            print(f"N={n} run {run + 1}/{runs}: {shown}", flush=True)
    for run in range(runs if with_tasks else 0):
        out = {}
        try:
            measure_tasks(out, run, module_env)
        except BenchError as exc:
            failures[("tasks", None)] = " ".join(str(exc).split())
            print(f"tasks run {run + 1}/{runs}: FAILED: {exc}", flush=True)
            break
        for key, value in out.items():
            results.setdefault((key, None), []).append(value)
        print(f"tasks run {run + 1}/{runs}: " + " ".join(f"{k}={v:.3f}" for k, v in out.items()), flush=True)
    info["elapsed"] = time.monotonic() - started
    info["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = report(results, info, sizes, runs, extra, failures)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    write(output, text)
    print(f"bench: {len(sizes)} size(s) in {info['elapsed']:.0f} s; wrote {os.path.relpath(output, os.getcwd())}")
    for key, label in ROWS:
        cells = [cell_text(results, failures, key, n) for n in sizes]
        print(f"  {label:58} " + "  ".join(f"N={n}: {cell}" for n, cell in zip(sizes, cells)))
    for key, label in TASK_ROWS:
        print(f"  {label:58} {cell_text(results, failures, key, None)}")
    for (group, n), message in sorted(failures.items(), key=str):
        print(f"  FAILED {group} at N={n}: {message}")
    print(cpu_ratios_line(results))
    print(ratios_line(results), flush=True)
    return len(failures)


def run_profile(n, top, module_env):
    """cProfile of (a), (b) and (f) at N: the module process, the wrapper run under cProfile."""
    import pstats  # pylint: disable=import-outside-toplevel

    payload = capture_payload()
    topo = make_topology(n)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"# cProfile of netns_topology at N={n} ({stamp}; module environment: {module_env or 'default'})", ""]
    with fresh_host(f"bench-profile-n{n}") as host:
        for label, state in (("apply", "present"), ("rerun", "present"), ("teardown", "absent")):
            prof = os.path.join(host.dir, label + ".prof")
            data = run_module(host, payload, topo, state, label, module_env, prefix=("-c", PROFILE_CODE, prof))
            for order in ("cumulative", "tottime"):
                buf = io.StringIO()
                stats = pstats.Stats(prof, stream=buf)
                stats.strip_dirs().sort_stats(order).print_stats(top)
                out += [f"## {label}: wall {data['wall']:.2f} s under the profiler, by {order}", "", "```",
                        buf.getvalue().strip(), "```", ""]
    path = os.path.join(REPO, "bench", f"profile-n{n}.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write(path, "\n".join(out))
    print("\n".join(out))
    print(f"bench: wrote {os.path.relpath(path, os.getcwd())}")


def parse_env(text):
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"--module-env: NAME=VALUE, got {text!r}")
    return name, value


def parse_sizes(text):
    try:
        sizes = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes: a comma-separated list of integers, got {text!r}") from None
    if not sizes or any(not 1 <= n <= MAX_N for n in sizes):
        raise argparse.ArgumentTypeError(f"sizes: each between 1 and {MAX_N}")
    return sorted(set(sizes))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["timeit"]:
        return timeit_main(argv[1:])
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[10, 100, 1000], help="N values (default 10,100,1000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; the median is reported (default 3)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="the Markdown report (default bench/results.md)")
    parser.add_argument("--profile", type=int, metavar="N", help="only profile (a), (b) and (f) at N; writes bench/profile-nN.txt")
    parser.add_argument("--top", type=int, default=30, help="entries per profile listing (default 30)")
    parser.add_argument("--no-tasks", action="store_true", help="skip (h), the per-task comparison with community.general")
    parser.add_argument("--module-env", type=parse_env, action="append", default=[], metavar="NAME=VALUE",
                        help="environment for the netns_topology processes and the modules of (e), "
                             "e.g. NETFABRIC_NFT_BACKEND=cli (repeatable; recorded in the report)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if os.geteuid() != 0:
        parser.error("run as root: sandbox hosts are made with unshare, nsenter and mount")
    for needed, hint in ((VENV_PYTHON, "make venv"), (os.path.join(COLLECTION, "MANIFEST.json"), "make install")):
        if not os.path.exists(needed):
            parser.error(f"{needed} is missing: run {hint}")
    sys.path.insert(0, HERE)
    from sandbox import stop_all  # pylint: disable=import-outside-toplevel

    stop_all(SANDBOXES)  # leftovers of an interrupted run of ours

    def on_term(unused_signum, unused_frame):
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, on_term)
    try:
        module_env = dict(args.module_env)
        if args.profile:
            run_profile(args.profile, args.top, module_env)
        elif run_bench(args.sizes, args.runs, args.output, module_env, with_tasks=not args.no_tasks):
            return 1  # the report and the ratios line are out; a failed build fails `make bench`
    except BenchError as exc:
        print(f"bench.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
