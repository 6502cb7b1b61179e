"""A topology of 30 namespaces applied by a module process that is killed (SIGKILL) at many
moments: before chosen actions (namespace creation, link creation, addresses, routes, the
nftables transaction), inside the writes of the state file, the journal and the forwarding
record, and at random moments measured from outside. After each kill a re-run converges,
a second re-run changes nothing, and state=absent leaves the sandbox host as it was.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import ANSIBLE_PLAYBOOK
from helpers import task

N = 30
SEED = int(os.environ.get("NETFABRIC_CHAOS_SEED", "20261202"))
RANDOM_KILLS = int(os.environ.get("NETFABRIC_CHAOS_RANDOM", "3"))


def chaos_topology():
    namespaces = [f"n{i:02d}" for i in range(N)]
    return {
        "forwarding": True,
        "namespaces": [{"name": name} for name in namespaces],
        "bridges": [{"name": "v-net-0", "addresses": ["10.80.0.1/24", "fd80::1/64"]}],
        "veths": [{"name": "eth0", "netns": name, "addresses": [f"10.80.0.{i + 10}/24"], "peer": f"v-{name}",
                   "peer_bridge": "v-net-0"} for i, name in enumerate(namespaces)],
        "routes": [{"netns": name, "dst": "default", "gateway": "10.80.0.1"} for name in namespaces],
        "masquerade": [{"source": "10.80.0.0/24"}],
        "port_forwards": [{"port": 8080, "destination": "10.80.0.10", "destination_port": 80}],
    }


TOPOLOGY = chaos_topology()
APPLY = task("netns_topology", {"topology": TOPOLOGY, "name": "chaos"}, "apply", ignore_errors=True)


def snapshot(host):
    """The sandbox host as iproute2, nft and the file system see it."""
    return {
        "links": host.run("ip -br link").stdout,
        "addresses": host.run("ip -br addr").stdout,
        "routes": host.run("ip route; ip -6 route").stdout,
        "netns": host.run("ip netns list").stdout,
        "ruleset": host.run("nft list ruleset").stdout,
        "forwarding": host.run("sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding").stdout,
        "files": sorted(set(host.run("ls /var/lib/netfabric 2>/dev/null || true").stdout.split()) - {"lock"}),
    }


def converge_and_tear_down(host, clean, label):
    play = host.play([dict(APPLY, name="re-run"), dict(APPLY, name="re-run again"),
                      task("netns_topology", {"topology": TOPOLOGY, "name": "chaos", "state": "absent"}, "absent")])
    rerun, again, absent = play.results
    assert not rerun["failed"], (label, rerun.get("msg"), play.output[-3000:])
    assert not again["failed"] and not again["changed"], (label, again.get("actions"))
    assert not absent["failed"], (label, absent.get("msg"))
    assert snapshot(host) == clean, label


@pytest.fixture
def chaos_host(host):
    host.run("sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0")
    return host, snapshot(host)


def kill_points(host):
    """Steps of the plan to kill before, chosen by what they do (from a check-mode run)."""
    play = host.play([dict(APPLY, check_mode=True)])
    actions = play.results[0]["actions"]

    def first(text):
        return next(i for i, action in enumerate(actions, 1) if text in action)

    last_nft = max(i for i, action in enumerate(actions, 1) if "nftables table" in action)
    steps = {
        "first namespace": 1,
        "a namespace midway": first(f"namespace 'n{N // 2:02d}': create"),
        "the bridge": first("bridge 'v-net-0' (host): create"),
        "the first veth": first("veth 'eth0' (netns n00): create"),
        "a veth midway": first(f"veth 'eth0' (netns n{N // 2:02d}): create"),
        "an address": first("add address 10.80.0.20/24"),
        "a route": first(f"route default (netns n{N - 1:02d}): add"),
        "the nftables transaction": last_nft,
        "the forwarding sysctl": first("set net.ipv4.ip_forward=1"),
    }
    return {name: f"step:{step}" for name, step in steps.items()}


def test_killed_at_chosen_moments_converges_and_tears_down(chaos_host):
    host, clean = chaos_host
    points = kill_points(host)
    # the writes of a run: 1 the state file (what may be made), 2 the journal, 3 the forwarding record
    points.update({"the state-file write": "write:1", "the journal write": "write:2",
                   "the forwarding-record write": "write:3"})
    assert len(points) >= 10
    for label, point in points.items():
        play = host.play([dict(APPLY, environment={"NETFABRIC_KILL_AT": point})])
        assert play.results[0]["failed"], (label, play.results[0])
        converge_and_tear_down(host, clean, label)


def _module_pids(host):
    """PIDs of this sandbox's netns_topology module processes (AnsiballZ files live under host.dir)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().decode(errors="replace")
        except OSError:
            continue
        if "AnsiballZ_netns_topology" in cmdline and host.dir in cmdline:
            found.append(int(entry))
    return found


def test_killed_at_random_moments_converges_and_tears_down(chaos_host):
    host, clean = chaos_host
    rng = random.Random(SEED)
    kills = 0
    for attempt in range(RANDOM_KILLS):
        delay = rng.uniform(0.0, 0.5)
        work = os.path.join(host.dir, f"random-{attempt}")
        os.makedirs(work, exist_ok=True)
        playbook = os.path.join(work, "playbook.json")
        with open(playbook, "w", encoding="utf-8") as handle:
            json.dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                        "tasks": [APPLY]}], handle)
        env = dict(os.environ, **host.ansible_env())
        proc = subprocess.Popen(host.command([ANSIBLE_PLAYBOOK, "-i", "localhost,", playbook]), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        killed = None
        deadline = time.monotonic() + 60
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            pids = _module_pids(host)
            if pids:
                time.sleep(delay)
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed = pid
                    except ProcessLookupError:
                        pass
            time.sleep(0.005)
        proc.wait(timeout=120)
        kills += killed is not None
        converge_and_tear_down(host, clean, f"random kill {attempt} after {delay:.3f} s (seed {SEED})")
    assert kills, "no module process was killed: the delays outlast the module"
