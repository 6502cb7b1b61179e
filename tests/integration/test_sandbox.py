"""The harness itself: sandbox hosts isolate, play() records results, tcp_ok() tells the truth.

Every isolation fact is checked by reading the state inside the sandbox and on the
machine (reading only: nothing here changes the machine's own namespace).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANDBOX_PY = os.path.join(REPO, "tools", "sandbox.py")


def machine(cmd):
    """Read-only command on the machine itself."""
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def machine_netns():
    return sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


PROCS = r"""
import json, os
procs = []
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        with open("/proc/%s/stat" % pid) as stat, open("/proc/%s/cmdline" % pid, "rb") as cmdline:
            ppid = int(stat.read().rsplit(") ", 1)[1].split()[1])
            procs.append([int(pid), ppid, cmdline.read().decode().split("\0")[:-1]])
print(json.dumps(procs))
"""


def pids_inside(host):
    """PIDs of the processes in the sandbox as seen inside, but for its PID 1, its sleep and the reader."""
    procs = json.loads(host.run([sys.executable, "-c", PROCS]).stdout)
    return sorted(pid for pid, ppid, cmd in procs if pid != 1 and not (ppid == 1 and cmd == ["sleep", "infinity"]))


def test_only_loopback_and_own_sysfs_and_hostname(host):
    links = host.ip("link show")
    assert [link["ifname"] for link in links] == ["lo"]
    assert "UP" in links[0]["flags"]
    assert host.run("ls /sys/class/net").stdout.split() == ["lo"]
    assert host.run("cat /proc/sys/kernel/hostname").stdout.strip() == host.name
    assert host.run(["/bin/sh", "-c", "echo $$"]).stdout.strip() != str(os.getpid())
    assert "eth0" not in host.run("cat /proc/net/dev").stdout


def test_links_and_named_namespaces_stay_inside(host):
    links_before, netns_before = machine(["ip", "-br", "link"]), machine_netns()
    host.run("ip netns add x && ip link add va type veth peer name vb && ip link set vb netns x")
    assert host.netns_names() == ["x"]
    assert sorted(link["ifname"] for link in host.ip("link show")) == ["lo", "va"]
    assert [link["ifname"] for link in host.ip("-n x link show")] == ["lo", "vb"]
    assert host.run("ls /run/netns").stdout.split() == ["x"]
    assert machine_netns() == netns_before and "x" not in machine_netns()
    assert machine(["ip", "-br", "link"]) == links_before
    assert "va" not in os.listdir("/sys/class/net")


def test_files_in_etc_and_var_lib_stay_inside(host):
    etc_file = "/etc/netfabric-sandbox-test-%s" % host.name
    state = "/var/lib/netfabric/sandbox-test-%s" % host.name
    host.run("echo inside > %s && mkdir -p /var/lib/netfabric && echo inside > %s" % (etc_file, state))
    assert host.run(["cat", etc_file, state]).stdout.split() == ["inside", "inside"]
    assert not os.path.exists(etc_file)
    assert not os.path.exists(state)
    assert host.run(["cat", "/etc/os-release"]).stdout == machine(["cat", "/etc/os-release"])


def test_sysctls_stay_inside(host):
    before = read("/proc/sys/net/ipv4/ip_forward")
    host.run("echo 1 > /proc/sys/net/ipv4/ip_forward")
    assert host.run("cat /proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"
    assert read("/proc/sys/net/ipv4/ip_forward") == before


def test_stop_ends_everything_and_removes_state(make_host):
    host = make_host()
    host.run("ip netns add x && ip netns exec x sleep 1000 >/dev/null 2>&1 &")
    sleeper = pids_inside(host)
    assert len(sleeper) == 1  # the sleep inside namespace x, seen from inside
    pid, state_dir = host.pid, host.dir
    assert os.path.isfile(os.path.join(state_dir, "pid"))
    assert read(os.path.join(state_dir, "pid")) == str(pid)
    children = machine(["cat", "/proc/%d/task/%d/children" % (pid, pid)]).split()
    assert len(children) == 2  # its waiting `sleep infinity` and the orphaned sleep of namespace x
    host.stop()
    for gone in [pid] + children:
        assert not os.path.exists("/proc/%s" % gone)
    assert not os.path.exists(state_dir)
    host.stop()  # twice is fine


def test_run_timeout_kills_the_command(host):
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        host.run("sleep 30", timeout=1)
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 5
    while pids_inside(host) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pids_inside(host) == []


def test_run_check_and_input(host):
    assert host.run(["cat"], input="abc").stdout == "abc"
    assert host.run("exit 3", check=False).returncode == 3
    with pytest.raises(subprocess.CalledProcessError):
        host.run(["false"])


def test_play_records_each_task_result(host, collection):
    play = host.play([
        {"name": "say hi", "ansible.builtin.command": "echo hi"},
        {"name": "links", "ansible.builtin.command": "ip -br link", "changed_when": False},
        {"name": "fails", "ansible.builtin.command": "false", "ignore_errors": True},
        {"name": "skipped", "ansible.builtin.command": "true", "when": False},
        {"name": "would write", "ansible.builtin.copy": {"dest": "/etc/netfabric-harness", "content": "x\n"},
         "check_mode": True, "diff": True},
    ])
    assert play.rc == 0, play.output
    assert [r["task"] for r in play.results] == ["say hi", "links", "fails", "skipped", "would write"]
    hi, links, fails, skipped, copy = play.results
    assert hi["changed"] is True and hi["failed"] is False and hi["stdout"] == "hi"
    assert hi["result"]["stdout"] == "hi" and hi["result"]["rc"] == 0
    assert links["changed"] is False and links["stdout"].split()[0] == "lo" and len(links["stdout_lines"]) == 1
    assert fails["failed"] is True and fails["ignored"] is True and fails["rc"] == 1 and "msg" in fails
    assert skipped["skipped"] is True and skipped["changed"] is False
    assert copy["changed"] is True and copy["diff"]
    assert not host.run("test -e /etc/netfabric-harness", check=False).returncode == 0
    assert play.task("say hi") is hi


def test_play_check_mode_and_failure(host, collection):
    play = host.play([{"name": "write", "ansible.builtin.copy": {"dest": "/etc/netfabric-x", "content": "x\n"}}],
                     check=True, diff=True)
    assert play.rc == 0, play.output
    assert play.results[0]["changed"] is True and "diff" in play.results[0]
    failed = host.play([{"name": "boom", "ansible.builtin.fail": {"msg": "expected failure"}}])
    assert failed.rc != 0
    assert failed.results[0]["failed"] is True and failed.results[0]["msg"] == "expected failure"


def test_play_uses_the_installed_collection(host, collection):
    play = host.play([{"name": "where", "ansible.builtin.command": "ansible-galaxy collection list netfabric.netns"}])
    assert play.rc == 0, play.output
    assert os.path.dirname(os.path.dirname(collection)) in play.results[0]["stdout"]


def test_tcp_ok_between_namespaces(host):
    host.run(
        "ip netns add red && ip netns add blue"
        " && ip -n red link add veth-red type veth peer name veth-blue netns blue"
        " && ip -n red addr add 10.99.0.1/24 dev veth-red && ip -n blue addr add 10.99.0.2/24 dev veth-blue"
        " && ip -n red addr add fd99::1/64 dev veth-red && ip -n blue addr add fd99::2/64 dev veth-blue"
        " && ip -n red link set veth-red up && ip -n blue link set veth-blue up"
        " && ip -n red link set lo up && ip -n blue link set lo up")
    assert host.tcp_ok("blue", "10.99.0.2", 8080, client_ns="red")
    assert host.tcp_ok("red", "10.99.0.1", 8081, client_ns="blue")
    assert host.tcp_ok("blue", "fd99::2", 8080, client_ns="red")
    started = time.monotonic()
    assert not host.tcp_ok("blue", "10.99.0.2", 8082, client_ns="red", listen=False)  # nobody listens
    assert not host.tcp_ok("blue", "10.99.0.2", 8083, client_ns=None)  # the sandbox has no leg there
    assert not host.tcp_ok("blue", "10.99.0.9", 8084, client_ns="red")  # no such address: no server
    assert not host.tcp_ok("nosuchns", "10.99.0.2", 8085, client_ns="red")
    assert time.monotonic() - started < 30
    assert host.netns_names() == ["blue", "red"]


def test_cli_start_exec_list_stop(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("sandbox hosts need root")
    env = dict(os.environ, NETFABRIC_SANDBOX_DIR=str(tmp_path / "sbx"))

    def cli(*args, check=True):
        return subprocess.run([sys.executable, SANDBOX_PY] + list(args), env=env, check=check,
                              capture_output=True, text=True, timeout=60)

    name = "cli%d" % os.getpid()
    out = cli("start", name).stdout.split()
    assert out[0] == name and out[1].isdigit()
    try:
        assert cli("exec", name, "--", "cat", "/proc/sys/kernel/hostname").stdout.strip() == name
        assert cli("exec", name, "--", "sh", "-c", "exit 7", check=False).returncode == 7
        assert cli("list").stdout.split() == [name, out[1], "running"]
        assert cli("start", name, check=False).returncode == 1  # already running
        assert cli("stop", name).returncode == 0
        assert cli("list").stdout == ""
        # half-recorded (no pid file) and stray (no state directory at all) sandboxes
        half = cli("start", name + "h").stdout.split()
        os.unlink(str(tmp_path / "sbx" / (name + "h") / "pid"))
        stray = cli("start", name + "s").stdout.split()
        shutil.rmtree(str(tmp_path / "sbx" / (name + "s")))
        stopped = cli("stop", "--all").stdout.split("\n")
        assert "stopped " + name + "h" in stopped
        assert any(line.startswith("stopped unshare:") for line in stopped)
        for pid in (half[1], stray[1]):
            assert not os.path.exists("/proc/%s" % pid) or read("/proc/%s/stat" % pid).split(") ")[1][0] in "ZX"
        assert os.listdir(str(tmp_path / "sbx")) == []
    finally:
        cli("stop", "--all", check=False)


def test_playbook_file_with_become_and_extra_vars(host, collection, tmp_path):
    path = tmp_path / "site.yml"
    path.write_text(
        "- name: A playbook file\n"
        "  hosts: \"{{ netns_target | default('all') }}\"\n"
        "  gather_facts: false\n"
        "  become: true\n"
        "  tasks:\n"
        "    - name: Hostname\n"
        "      ansible.builtin.command: cat /proc/sys/kernel/hostname\n"
        "      changed_when: false\n"
        "    - name: Extra var\n"
        "      ansible.builtin.debug:\n"
        "        msg: \"{{ greeting }}\"\n", encoding="utf-8")
    play = host.playbook(str(path), extra_vars={"greeting": "hello sandbox"})
    assert play.rc == 0, play.output
    assert play.task("Hostname")["stdout"] == host.name
    assert play.task("Extra var")["msg"] == "hello sandbox"
    assert play.playbook == str(path)
