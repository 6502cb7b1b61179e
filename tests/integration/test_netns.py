"""netns: named namespaces, loopback, forwarding and sysctls, read back from the kernel."""

from __future__ import annotations

from helpers import LIFECYCLE_CHANGES, changed_flags, lifecycle, snapshots, task


def test_lifecycle(host):
    play = host.play(lifecycle("netns", {"name": "red", "forwarding": True,
                                         "sysctls": {"net.ipv4.conf.all.rp_filter": 2}}))
    assert play.rc == 0, play.stdout
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    snap = snapshots(play.results)
    assert snap["after check"].namespaces == []
    after = snap["after real"]
    assert after.namespaces == ["red"]
    assert after.is_up("red", "lo")
    assert after.sysctl("red", "net.ipv4.ip_forward") == "1"
    assert after.sysctl("red", "net.ipv6.conf.all.forwarding") == "1"
    assert after.sysctl(None, "net.ipv4.ip_forward") == "0"  # the sandbox's own namespace untouched
    assert after.sysctl("red", "net.ipv4.conf.all.rp_filter") == "2"
    assert snap["after absent"].namespaces == []


def test_sysctl_value_is_applied_and_compared(host):
    args = {"name": "router", "sysctls": {"net.ipv4.conf.all.rp_filter": 2}}
    play = host.play([task("netns", args, "real"), task("netns", args, "again")])
    assert [r["changed"] for r in play.results] == [True, False]
    assert host.run("ip netns exec router cat /proc/sys/net/ipv4/conf/all/rp_filter").stdout.strip() == "2"


def test_loopback_down_and_up(host):
    host.run("ip netns add red")
    play = host.play([task("netns", {"name": "red"}, "up"),
                      {"name": "probe", "ansible.builtin.command": "ip -j -n red link show lo",
                       "changed_when": False},
                      task("netns", {"name": "red", "loopback": False}, "down")])
    assert [r["changed"] for r in play.results] == [True, False, True]
    assert "UP" in play.results[1]["stdout"]
    assert "UP" not in host.ip("-n red link show lo")[0]["flags"]


def test_absent_warns_about_processes_still_inside(host):
    host.run("ip netns add red")
    host.run("ip netns exec red sleep 60 >/dev/null 2>&1 &")
    play = host.play([task("netns", {"name": "red", "state": "absent"})])
    result = play.results[0]
    assert result["changed"] is True
    assert any("processes still run in it: PIDs" in w for w in result.get("warnings", [])), result
    assert host.netns_names() == []


def test_unknown_sysctl_fails_before_anything_is_created(host):
    play = host.play([task("netns", {"name": "red", "sysctls": {"net.ipv4.no_such_thing": 1}})])
    result = play.results[0]
    assert result["failed"]
    assert "sysctls: 'net.ipv4.no_such_thing' does not exist" in result["msg"]
    assert host.netns_names() == []
