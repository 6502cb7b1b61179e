"""`make bench-fleet`: the site play (topology + routed fabric) on 4 and on 24 sandbox hosts.

Each host is a sandbox host (tools/sandbox.py) whose eth0 is cabled to a lan switch (10.10.0.0/16,
host i at 10.10.<i // 200>.<10 + i % 200>), as in the molecule scenarios, and reached with the
molecule connection plugin (nsenter into the sandbox). Each host's topology: 10 namespaces ns0..ns9
on one bridge br0 (10.<100 + i>.0.1/24), a veth per namespace with an address and a default route
via the bridge, a masquerade of the subnet. The play runs the roles netfabric.netns.topology and
netfabric.netns.fabric (routed, over the group netfabric_hosts, interface eth0) with forks = hosts.

For every fleet size and every collection measured (the working tree's, installed by
`make install`; with --baseline REF also the collection of git commit REF, built and installed
under .build/bench-fleet), each run starts fresh sandbox hosts, times one ansible-playbook run
(controller included, from process start to exit), checks the result (a namespace of every host
reaches a namespace of the next host through the fabric) and stops the hosts.
Prints the medians, the range, and last ``fleet: n24/n4=X`` for the working tree (the median of
24 hosts over the median of 4 hosts).

Usage (as root, after ``make install``)::

    .venv/bin/python tools/bench_fleet.py [--sizes 4,24] [--runs 3] [--baseline 99ce083]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sandbox = __import__("sandbox")  # tools/sandbox.py, standard library only

VENV_BIN = os.path.join(REPO, ".venv", "bin")
WORK = os.path.join(REPO, ".build", "bench-fleet")
SANDBOXES = os.path.join(WORK, "sandboxes")  # our own root: a test run's `stop --all` leaves it alone
CONNECTION_PLUGINS = os.path.join(REPO, "molecule", "shared", "connection_plugins")
NAMESPACES = 10
PREFIX = "flt-"
PLAY = """---
- name: Namespace topologies and the routed fabric
  hosts: netfabric_hosts
  gather_facts: false
  roles:
    - role: netfabric.netns.topology
    - role: netfabric.netns.fabric
      vars:
        netns_fabric_mode: routed
        netns_fabric_interface: eth0
        netns_fabric_group: netfabric_hosts
"""


def underlay(i):
    return "10.10.%d.%d" % (i // 200, 10 + i % 200)


def topology(i):
    """Host i's topology: NAMESPACES namespaces on br0, 10.<100+i>.0.0/24."""
    net = "10.%d.0" % (100 + i)
    names = ["ns%d" % k for k in range(NAMESPACES)]
    return {
        "forwarding": True,
        "namespaces": [{"name": name} for name in names],
        "bridges": [{"name": "br0", "addresses": ["%s.1/24" % net]}],
        "veths": [{"name": "eth0", "netns": name, "addresses": ["%s.%d/24" % (net, 10 + k)],
                   "peer": "v%s" % name, "peer_bridge": "br0"} for k, name in enumerate(names)],
        "routes": [{"netns": name, "dst": "default", "gateway": "%s.1" % net} for name in names],
        "masquerade": [{"source": "%s.0/24" % net}],
    }


def inventory(n):
    hosts = {}
    for i in range(n):
        hosts["host%d" % i] = {
            "ansible_connection": "netfabric_sandbox",
            "ansible_host": PREFIX + "h%d" % i,
            "netns_topology": topology(i),
        }
    return {"all": {"vars": {"ansible_python_interpreter": os.path.join(VENV_BIN, "python"),
                             "netfabric_sandbox_dir": SANDBOXES},
                    "children": {"netfabric_hosts": {"hosts": hosts}}}}


def start_fleet(n):
    sandbox.stop_all(SANDBOXES)
    lan = sandbox.SandboxHost(PREFIX + "lan", SANDBOXES)
    lan.start()
    hosts = []
    for i in range(n):
        host = sandbox.SandboxHost(PREFIX + "h%d" % i, SANDBOXES)
        host.start()
        sandbox.wire(lan, host, ["%s/16" % underlay(i)], port="p%d" % i)
        hosts.append(host)
    return lan, hosts


def collection_path(ref):
    """ANSIBLE_COLLECTIONS_PATH of the working tree (ref None) or of commit ref, built once."""
    if ref is None:
        return os.path.join(REPO, ".collections")
    target = os.path.join(WORK, "collections-" + ref)
    if os.path.isdir(os.path.join(target, "ansible_collections")):
        return target
    src = os.path.join(WORK, "src-" + ref)
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    archive = subprocess.run(["git", "-C", REPO, "archive", "--format=tar", ref], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(src, filter="data")  # our own repository's commit
    build = os.path.join(WORK, "build-" + ref)
    shutil.rmtree(build, ignore_errors=True)
    subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "build", "--force",
                    "--output-path", build, src], check=True, capture_output=True)
    tarball = [os.path.join(build, f) for f in os.listdir(build) if f.endswith(".tar.gz")][0]
    subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", "--offline",
                    "--force", "-p", target, tarball], check=True, capture_output=True)
    return target


def run_play(n, collections, log):
    os.makedirs(WORK, exist_ok=True)
    inv = os.path.join(WORK, "inventory.json")
    with open(inv, "w", encoding="utf-8") as handle:
        json.dump(inventory(n), handle)
    play = os.path.join(WORK, "site.yml")
    with open(play, "w", encoding="utf-8") as handle:
        handle.write(PLAY)
    home = os.path.join(WORK, "ansible-home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_CONNECTION_PLUGINS=CONNECTION_PLUGINS, ANSIBLE_PIPELINING="true",
               ANSIBLE_HOME=home, ANSIBLE_CONFIG=os.path.join(WORK, "none.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOST_KEY_CHECKING="false", NETFABRIC_SANDBOX_DIR=SANDBOXES,
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    start = time.monotonic()
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", inv, "--forks", str(n), play],
                          env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    elapsed = time.monotonic() - start
    with open(log, "w", encoding="utf-8") as handle:
        handle.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit("bench-fleet: the play failed on %d hosts (log: %s)" % (n, log))
    return elapsed


PROBE = ("import socket, sys\n"
         "try:\n"
         "    socket.create_connection((sys.argv[1], 9), timeout=3)\n"
         "except ConnectionRefusedError:\n"
         "    pass  # the target namespace's kernel answered: reached\n")


def check(hosts):
    """Every host's ns0 reaches ns1 of the next host through the fabric (a TCP reset from it)."""
    n = len(hosts)
    for i, host in enumerate(hosts):
        j = (i + 1) % n
        if i == j:
            continue
        target = "10.%d.0.11" % (100 + j)
        host.run(["ip", "netns", "exec", "ns0", sys.executable, "-c", PROBE, target], timeout=30)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="4,24")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", default=None, help="also measure the collection of this git commit")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    variants = [("working tree", None)] + ([("baseline " + args.baseline, args.baseline)] if args.baseline else [])
    paths = {ref: collection_path(ref) for unused_label, ref in variants}
    times = {(label, n): [] for label, unused_ref in variants for n in sizes}
    try:
        for run in range(args.runs):
            for n in sizes:
                for label, ref in variants:  # side by side: each run measures every variant in turn
                    unused_lan, hosts = start_fleet(n)
                    try:
                        log = os.path.join(WORK, "play-%s-n%d-r%d.log" % (ref or "tree", n, run))
                        elapsed = run_play(n, paths[ref], log)
                        check(hosts)
                    finally:
                        sandbox.stop_all(SANDBOXES)
                    times[(label, n)].append(elapsed)
                    print("%-22s n=%-3d run %d: %.1f s" % (label, n, run + 1, elapsed), flush=True)
    finally:
        sandbox.stop_all(SANDBOXES)
    print()
    big, small = max(sizes), min(sizes)
    for label, unused_ref in variants:
        for n in sizes:
            samples = times[(label, n)]
            median = statistics.median(samples)
            print("%-22s n=%-3d median %.1f s (%.1f-%.1f)" % (label, n, median, min(samples), max(samples)))
        ratio = statistics.median(times[(label, big)]) / statistics.median(times[(label, small)])
        spread = (min(times[(label, big)]) / max(times[(label, small)]),
                  max(times[(label, big)]) / min(times[(label, small)]))
        print("%-22s n%d/n%d=%.2f (range %.2f-%.2f)" % (label, big, small, ratio, *spread))
    tree = statistics.median(times[("working tree", big)]) / statistics.median(times[("working tree", small)])
    print("fleet: n%d/n%d=%.2f" % (big, small, tree))


if __name__ == "__main__":
    main()
