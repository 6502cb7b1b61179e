"""netns_service: a command run by systemd inside a namespace (booted sandbox hosts), and the
netns module's dns and hosts files it sees."""

from __future__ import annotations

from helpers import LIFECYCLE_CHANGES, changed_flags, lifecycle, task

UNIT = "netfabric-svc-echo.service"
UNIT_FILE = f"/etc/systemd/system/{UNIT}"
WANTS = f"/etc/systemd/system/multi-user.target.wants/{UNIT}"
# What the service sees: its network namespace's links, and its /etc/resolv.conf and /etc/hosts.
REPORT = ("ip -br addr; echo ---; cat /etc/resolv.conf; echo ---; cat /etc/hosts; "
          "echo ---; echo \"$GREETING $1\"")
SERVICE = {"name": "echo", "netns": "blue", "environment": {"GREETING": "100% $HOME"},
           "command": ["/bin/sh", "-c", f"({REPORT}) > /run/echo.out; exec sleep infinity", "sh", "it's \"quoted\""]}
TOPOLOGY = {"namespaces": [{"name": "blue", "dns": {"nameservers": ["10.5.0.1"], "search": ["lab.test"],
                                                    "options": ["ndots:2"]},
                            "hosts": {"db.lab.test": "10.5.0.9"}}],
            "veths": [{"name": "eth0", "netns": "blue", "addresses": ["10.5.0.2/24"], "peer": "veth-blue"}]}


def state(host, unit=UNIT):
    return host.run(["systemctl", "show", "--property=ActiveState", "--value", unit]).stdout.strip()


def test_four_runs_the_service_sees_its_namespace_and_absent_leaves_nothing(make_host):
    host = make_host(boot=True)
    setup = host.play([task("netns_topology", {"name": "blue", "topology": TOPOLOGY, "persist": True})])
    assert setup.rc == 0, setup.output
    play = host.play(lifecycle("netns_service", SERVICE), diff=True)
    assert play.rc == 0, play.output
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    by_name = {r["task"]: r for r in play.results}
    assert by_name["check"]["actions"] == by_name["real"]["actions"] == [
        f"service '{UNIT}': write {UNIT_FILE}", f"service '{UNIT}': link {WANTS} to {UNIT_FILE}",
        f"service '{UNIT}': systemctl daemon-reload", f"service '{UNIT}': start"]
    assert by_name["check"]["diff"]["before"] == "" and "NetworkNamespacePath=/run/netns/blue" in \
        by_name["check"]["diff"]["after"]
    assert not by_name["check"].get("warnings")  # blue is declared by a persisted topology
    assert by_name["absent"]["actions"] == [
        f"service '{UNIT}': stop", f"service '{UNIT}': remove {WANTS}", f"service '{UNIT}': remove {UNIT_FILE}",
        f"service '{UNIT}': systemctl daemon-reload"]
    assert host.run(["test", "-e", UNIT_FILE], check=False).returncode == 1
    assert host.run(["test", "-L", WANTS], check=False).returncode == 1
    assert host.run("systemctl list-units --all --plain --no-legend 'netfabric-svc-*'").stdout.strip() == ""

    # what it saw while it ran (it wrote it to the host's /run)
    seen = host.run("cat /run/echo.out").stdout.split("---\n")
    assert sorted(line.split()[0].split("@")[0] for line in seen[0].splitlines()) == ["eth0", "lo"]
    assert "10.5.0.2/24" in seen[0]
    assert seen[1] == host.run("cat /etc/netns/blue/resolv.conf").stdout
    assert "nameserver 10.5.0.1" in seen[1] and "search lab.test" in seen[1] and "options ndots:2" in seen[1]
    assert "10.5.0.9\tdb.lab.test" in seen[2] and "127.0.0.1\tlocalhost" in seen[2]
    assert seen[3] == "100% $HOME it's \"quoted\"\n"  # arguments and environment exactly as given


def test_changed_command_restarts_and_verify_passes(make_host):
    host = make_host(boot=True)
    setup = host.play([task("netns_topology", {"name": "blue", "topology": TOPOLOGY, "persist": True})])
    assert setup.rc == 0, setup.output
    first = dict(SERVICE, command="/bin/sleep 1000")
    play = host.play([task("netns_service", first, "first"),
                      task("netns_service", dict(first, command=["/bin/sleep", "2000"]), "changed")])
    assert play.rc == 0, play.output
    assert play.task("changed")["actions"] == [f"service '{UNIT}': write {UNIT_FILE}",
                                               f"service '{UNIT}': systemctl daemon-reload",
                                               f"service '{UNIT}': restart"]
    assert state(host) == "active"
    main_pid = host.run(["systemctl", "show", "--property=MainPID", "--value", UNIT]).stdout.strip()
    assert host.run(["cat", f"/proc/{main_pid}/cmdline"]).stdout.split("\0")[:2] == ["/bin/sleep", "2000"]
    assert host.run(["readlink", f"/proc/{main_pid}/ns/net"]).stdout == \
        host.run(["ip", "netns", "exec", "blue", "readlink", "/proc/self/ns/net"]).stdout
    proc = host.run(["systemd-analyze", "verify", UNIT_FILE], check=False)
    assert proc.returncode == 0 and "netfabric" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_refusals(make_host):
    host = make_host(boot=True)
    play = host.play([
        task("netns_service", {"name": "x", "netns": "nowhere", "command": "/bin/true"}, "missing namespace",
             ignore_errors=True),
        task("netns_service", {"name": "x", "netns": "nowhere", "command": "/bin/true"}, "check mode",
             check_mode=True),
        task("netns_service", {"name": "x/y", "netns": "blue", "command": "/bin/true"}, "bad name",
             ignore_errors=True),
        task("netns_service", {"name": "x", "netns": "a:b", "command": "/bin/true"}, "bad netns", ignore_errors=True),
        task("netns_service", {"name": "x", "netns": "blue"}, "no command", ignore_errors=True),
    ])
    assert play.rc == 0, play.output
    assert play.task("missing namespace")["msg"] == "netns: namespace 'nowhere' does not exist"
    check = play.task("check mode")
    assert check["changed"] and any("does not exist; check mode assumes" in w for w in check["warnings"])
    assert any("not declared by a persisted topology" in w for w in check["warnings"])
    assert play.task("bad name")["msg"].startswith("name: 'x/y' is not a valid service name")
    assert play.task("bad netns")["msg"].startswith("netns: 'a:b' is not a valid namespace name")
    assert "command" in play.task("no command")["msg"]
    assert host.run("ls /etc/systemd/system").stdout.count("netfabric") == 0


def test_needs_systemd(host):
    play = host.play([task("netns_service", {"name": "x", "netns": "blue", "command": "/bin/true"}, "x",
                           ignore_errors=True)])
    assert play.task("x")["msg"].startswith("netns_service needs systemd as the init system of the host")
