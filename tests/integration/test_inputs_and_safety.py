"""Bad inputs, check mode across a playbook, diff mode, rollback, and the host's safety."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import probe, snapshots, task

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BAD_INPUTS = [
    ("veth", {"name": "veth-red-is-too-long", "peer": "b"},
     "name: interface name 'veth-red-is-too-long' is longer than 15 bytes"),
    ("veth", {"name": "a", "peer": "veth-blue-too-long"},
     "peer: interface name 'veth-blue-too-long' is longer than 15 bytes"),
    ("bridge", {"name": "v-net-0", "addresses": ["192.168.15.5/33"]},
     "addresses[0]: '192.168.15.5/33' is not a valid IPv4 or IPv6 address with prefix length"),
    ("veth", {"name": "a", "peer": "b", "addresses": ["192.168.15.1"]},
     "addresses[0]: '192.168.15.1' is not an address with a prefix length"),
    ("netns_route", {"dst": "default", "gateway": "not-an-address"},
     "gateway: 'not-an-address' is not an IPv4 or IPv6 address"),
    ("netns_route", {"dst": "10.0.0.0/40", "dev": "lo"},
     "dst: '10.0.0.0/40' is not 'default' or a network in CIDR notation"),
    ("veth", {"name": "a", "peer": "b", "netns": "lab9"}, "netns: namespace 'lab9' does not exist"),
    ("veth", {"name": "a", "peer": "b", "peer_bridge": "v-net-9"},
     "peer_bridge: bridge 'v-net-9' does not exist in the host namespace"),
    ("bridge_port", {"bridge": "v-net-9", "port": "lo"}, "bridge: bridge 'v-net-9' does not exist"),
    ("netns", {"name": "red/blue"}, "name: namespace name 'red/blue' may not contain '/'"),
    ("netns_address", {"interface": "eth9", "addresses": ["10.0.0.1/24"]},
     "interface: interface 'eth9' does not exist in the host namespace"),
    ("netns_info", {"netns": "../etc"}, "netns: namespace name '../etc' may not contain '/'"),
]


def test_bad_inputs_fail_by_name_without_traceback_and_change_nothing(host):
    tasks = [probe("before")]
    tasks += [task(module, args, f"bad {i}", ignore_errors=True) for i, (module, args, unused) in enumerate(BAD_INPUTS)]
    tasks.append(probe("after"))
    play = host.play(tasks)
    results = {r["task"]: r for r in play.results}
    for i, (module, args, message) in enumerate(BAD_INPUTS):
        result = results[f"bad {i}"]
        assert result["failed"], (module, args)
        assert message in result["msg"], (module, args, result["msg"])
        # ansible-core 2.19 adds "exception": "(traceback unavailable)" to every failure;
        # a crash would carry a real traceback there and "Module failed:" in msg.
        assert "Traceback" not in str(result.get("exception", "")), result
        assert "Module failed:" not in result["msg"], result
    snap = snapshots(play.results)
    assert snap["before"].data == snap["after"].data


def test_check_mode_of_a_whole_playbook_on_an_empty_host(host):
    """Later tasks refer to what earlier ones would create: warnings, no errors, nothing created."""
    playbook = os.path.join(REPO, "playbooks", "bridge.yml")
    checked = host.playbook(playbook, check=True)
    assert checked.rc == 0, checked.stdout
    assert "check mode assumes an earlier task creates it" in checked.stdout + checked.stderr
    assert host.netns_names() == [] and host.ip("link show type bridge") == []
    real = host.playbook(playbook)
    assert real.rc == 0, real.stdout
    assert host.tcp_ok("blue", "192.168.15.2", 8080, client_ns="red")
    again = host.playbook(playbook, check=True)
    assert again.rc == 0 and not any(r["changed"] for r in again.results)


def test_diff_mode_shows_before_and_after(host):
    play = host.play([task("bridge", {"name": "v-net-0", "addresses": ["192.168.15.5/24"]})], diff=True)
    diff = play.results[0]["diff"]
    assert diff["before"] == {"name": "v-net-0", "netns": None, "state": "absent"}
    assert diff["after"]["state"] == "present" and diff["after"]["addresses"] == ["192.168.15.5/24"]


def test_failpoint_midway_rolls_back_what_the_run_created(host):
    host.run("ip netns add red && ip link add name v-net-0 type bridge")
    args = {"name": "veth-red", "netns": "red", "addresses": ["192.168.15.1/24"],
            "peer": "veth-red-br", "peer_bridge": "v-net-0"}
    play = host.play([task("veth", args, environment={"NETFABRIC_FAIL_AT_STEP": "2"})])
    result = play.results[0]
    assert result["failed"]
    assert "stopped by the test failpoint" in result["msg"]
    assert result["completed"] == ["veth 'veth-red' (netns red): create with peer 'veth-red-br' (host), "
                                   "'veth-red-br' up on bridge 'v-net-0'"]
    assert result["failed_step"] == "veth 'veth-red' (netns red): add address 192.168.15.1/24"
    assert result["rolled_back"] == ["link veth-red-br"]  # made from the bridge's side: both ends go
    assert host.ip("-n red link show type veth") == [] and host.ip("link show type veth") == []


def test_interface_of_the_ansible_connection_is_never_enslaved_without_force(host):
    host.play([task("veth", {"name": "uplink", "peer": "uplink-peer"})])  # made by the collection: deletable
    host.run("ip link add name v-net-0 type bridge && ip addr add 10.9.0.1/24 dev uplink")
    port = {"bridge": "v-net-0", "port": "uplink"}
    play = host.play([task("bridge_port", port, ignore_errors=True),
                      task("bridge", {"name": "uplink", "state": "absent"}, "wrong kind", ignore_errors=True),
                      task("veth", {"name": "uplink", "state": "absent"}, "delete", ignore_errors=True)],
                     vars={"ansible_host": "10.9.0.1"})
    enslave, unused, delete = play.results
    assert enslave["failed"] and "refusing to enslave 'uplink'" in enslave["msg"]
    assert "connection address 10.9.0.1" in enslave["msg"]
    assert delete["failed"] and "refusing to delete 'uplink'" in delete["msg"]
    assert "master" not in host.ip("link show uplink")[0]
    forced = host.play([task("bridge_port", dict(port, force=True))], vars={"ansible_host": "10.9.0.1"})
    assert forced.results[0]["changed"]
    assert host.ip("link show uplink")[0]["master"] == "v-net-0"


@pytest.fixture(scope="module")
def python_without_pyroute2(tmp_path_factory):
    path = tmp_path_factory.mktemp("nopyroute2")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return str(path / "bin" / "python")


@pytest.fixture(scope="module")
def python_with_old_pyroute2(tmp_path_factory):
    """Debian 12's python3-pyroute2 is 0.7.2: the same version from PyPI, in a throwaway venv."""
    path = tmp_path_factory.mktemp("oldpyroute2")
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    installed = subprocess.run([str(path / "bin" / "pip"), "install", "-q", "pyroute2==0.7.2"],
                               capture_output=True, text=True, check=False)
    if installed.returncode != 0:
        pytest.skip(f"cannot install pyroute2 0.7.2: {installed.stderr[-300:]}")
    return str(path / "bin" / "python")


def test_missing_pyroute2_is_reported_clearly(host, python_without_pyroute2):
    play = host.play([task("netns", {"name": "red"})], vars={"ansible_python_interpreter": python_without_pyroute2})
    result = play.results[0]
    assert result["failed"]
    assert "Failed to import the required Python library (pyroute2 >= 0.9)" in result["msg"]
    assert host.netns_names() == []


def test_old_pyroute2_is_reported_clearly(host, python_with_old_pyroute2):
    play = host.play([task("netns", {"name": "red"})], vars={"ansible_python_interpreter": python_with_old_pyroute2})
    result = play.results[0]
    assert result["failed"]
    assert result["msg"].startswith("pyroute2 0.7.2 is too old: netfabric.netns needs pyroute2 >= 0.9")
    assert host.netns_names() == []
