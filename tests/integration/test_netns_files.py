"""netns: dns and hosts, the namespace's own /etc/netns/NAME/resolv.conf and hosts."""

from __future__ import annotations

from helpers import LIFECYCLE_CHANGES, changed_flags, lifecycle, task

DNS = {"nameservers": ["192.168.15.1", "fd15::1"], "search": ["lab.test", "example.test"], "options": ["ndots:2"]}
HOSTS = {"db.lab.test": "192.168.15.1", "v6.lab.test": "fd15::9"}


def cat(host, path):
    proc = host.run(["cat", path], check=False)
    return proc.stdout if proc.returncode == 0 else None


def test_four_runs_and_ip_netns_exec_sees_the_files(host):
    args = {"name": "blue", "dns": DNS, "hosts": HOSTS}
    play = host.play(lifecycle("netns", args, absent={"name": "blue"}), diff=True)
    assert play.rc == 0, play.output
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    by_name = {r["task"]: r for r in play.results}
    assert by_name["check"]["actions"] == by_name["real"]["actions"] == [
        "namespace 'blue': create", "namespace 'blue': set loopback up",
        "namespace 'blue': write /etc/netns/blue/resolv.conf", "namespace 'blue': write /etc/netns/blue/hosts"]
    real = by_name["real"]
    assert real["netns"]["resolv_conf"].splitlines()[1:] == [
        "search lab.test example.test", "nameserver 192.168.15.1", "nameserver fd15::1", "options ndots:2"]
    assert real["diff"]["before"]["resolv_conf"] is None
    assert by_name["absent"]["actions"] == ["namespace 'blue': delete", "namespace 'blue': remove /etc/netns/blue/resolv.conf",
                                            "namespace 'blue': remove /etc/netns/blue/hosts"]
    assert host.run(["test", "-e", "/etc/netns"], check=False).returncode == 1  # the empty directories went too


def test_what_ip_netns_exec_and_the_resolver_see(host):
    play = host.play([task("netns", {"name": "blue", "dns": DNS, "hosts": HOSTS})])
    assert play.rc == 0, play.output
    assert host.run("ip netns exec blue cat /etc/resolv.conf").stdout == cat(host, "/etc/netns/blue/resolv.conf")
    assert host.run("ip netns exec blue getent hosts db.lab.test").stdout.split() == ["192.168.15.1", "db.lab.test"]
    assert host.run("ip netns exec blue getent hosts localhost").stdout.split()[0] in ("127.0.0.1", "::1")
    assert "db.lab.test" not in host.run("cat /etc/hosts").stdout  # the host's own stays as it was


def test_empty_removes_only_ours_and_a_gone_namespace_is_cleaned(host):
    host.run("mkdir -p /etc/netns/red && echo 'nameserver 10.0.0.53' > /etc/netns/red/resolv.conf")
    play = host.play([
        task("netns", {"name": "red", "dns": {}}, "empty dns on a file we did not write"),
        task("netns", {"name": "blue", "dns": DNS, "hosts": HOSTS}, "blue"),
        task("netns", {"name": "blue", "dns": {"nameservers": []}}, "empty dns"),
        task("netns", {"name": "blue", "hosts": {}}, "empty hosts"),
        task("netns", {"name": "green", "hosts": HOSTS}, "green"),
    ])
    assert play.rc == 0, play.output
    assert play.task("empty dns on a file we did not write")["actions"] == ["namespace 'red': create",
                                                                            "namespace 'red': set loopback up"]
    assert cat(host, "/etc/netns/red/resolv.conf") == "nameserver 10.0.0.53\n"
    assert play.task("empty dns")["actions"] == ["namespace 'blue': remove /etc/netns/blue/resolv.conf"]
    assert play.task("empty hosts")["actions"] == ["namespace 'blue': remove /etc/netns/blue/hosts"]
    assert host.run(["test", "-e", "/etc/netns/blue"], check=False).returncode == 1
    # a reboot takes the namespace, not the file: absent still removes it
    host.run("ip netns del green && ip netns del red")
    play = host.play([task("netns", {"name": "green", "state": "absent"}, "green"),
                      task("netns", {"name": "red", "state": "absent"}, "red")])
    assert play.task("green")["changed"] and play.task("green")["actions"] == [
        "namespace 'green': remove /etc/netns/green/hosts"]
    assert not play.task("red")["changed"]
    assert cat(host, "/etc/netns/red/resolv.conf") == "nameserver 10.0.0.53\n"


def test_topology_items_and_bad_values(host):
    topology = {"namespaces": [{"name": "blue", "dns": {"nameservers": ["192.168.15.1"]}}]}
    play = host.play([
        task("netns_topology", {"name": "t", "topology": topology}, "apply"),
        task("netns_topology", {"name": "t", "state": "absent"}, "absent"),
        task("netns", {"name": "x", "dns": {"nameservers": ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]}},
             "four", ignore_errors=True),
        task("netns", {"name": "x", "dns": {"search": ["a b"]}}, "space", ignore_errors=True),
        task("netns", {"name": "x", "hosts": {"db": "300.1.1.1"}}, "bad address", ignore_errors=True),
        task("netns_topology", {"topology": {"namespaces": [{"name": "x", "dns": {"nameservers": ["dns1"]}}]}},
             "path", ignore_errors=True),
    ])
    assert play.task("apply")["actions"][-1] == "namespace 'blue': write /etc/netns/blue/resolv.conf"
    assert play.task("absent")["actions"] == ["namespace 'blue': delete",
                                              "namespace 'blue': remove /etc/netns/blue/resolv.conf"]
    assert play.task("four")["msg"] == "dns.nameservers: 4 nameservers: the resolver uses at most 3"
    assert play.task("space")["msg"] == "dns.search[0]: 'a b' is not a single word (no spaces or line breaks)"
    assert play.task("bad address")["msg"] == "hosts.db: '300.1.1.1' is not an IPv4 or IPv6 address"
    assert play.task("path")["msg"] == "namespaces[0].dns.nameservers[0]: 'dns1' is not an IPv4 or IPv6 address"
    assert host.netns_names() == [] and host.run(["test", "-e", "/etc/netns"], check=False).returncode == 1
