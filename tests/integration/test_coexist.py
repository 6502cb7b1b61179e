"""Living beside Docker and firewalld: the real daemons (Debian's docker.io and firewalld), started
by systemd in booted sandbox hosts (tools/sandbox.py, boot=True), each with its own /run, D-Bus
system bus and state on the sandbox's disk. The walkthrough topology (red and blue on v-net-0,
masquerade, port 8080 to blue's web server) must reach the outside world and answer from it,
leave the daemon's own rules as they were apart from the collection's, survive a restart or
reload of the daemon, and leave nothing behind when it goes. With the integration off, the
modules warn and the daemon drops the traffic: the tests can fail.
"""

from __future__ import annotations

import sys

from helpers import task
from sandbox import wire  # tools/, on the path through conftest
from test_persist import FETCH, HOST_ADDRESS, OUTSIDE, cable
from test_topology import WALKTHROUGH

OURS = "netfabric.netns:"


def boot_with(make_host, daemon):
    """The outside world (namespace 'outside' of a lan sandbox), and a booted host cabled to it with
    ``daemon`` started by systemd and blue's web server on 192.168.15.2:80 (started once blue exists)."""
    lan = make_host("lan")
    wire(lan, None, [f"{OUTSIDE}/24"], netns="outside")
    host = make_host(daemon, boot=True, before_boot=cable(lan))
    host.run(f"systemctl start {daemon}")
    if daemon == "firewalld":
        firewalld_ready(host)
    return lan, host


def firewalld_ready(host):
    """firewalld's D-Bus name (which ends systemctl's wait) comes before its rules."""
    host.run("for i in $(seq 100); do nft list table inet firewalld >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1")


def converge(host, state="present", persist=False, **options):
    play = host.play([task("netns_topology", {"name": "walk", "state": state, "persist": persist,
                                              "topology": dict(WALKTHROUGH, **options)}, "walk")])
    assert play.rc == 0, play.output
    return play.task("walk")


def serve(host):
    host.run("systemd-run --unit=blue-web --property=Restart=always ip netns exec blue "
             f"{sys.executable} -m http.server 80 --bind 192.168.15.2 --directory /etc")


def fetched(lan, timeout=15):
    """Whether the host's port 8080 answers from the outside world."""
    proc = lan.run(["ip", "netns", "exec", "outside", sys.executable, "-c", FETCH, f"http://{HOST_ADDRESS}:8080/",
                    str(timeout)], check=False, timeout=timeout + 30)
    return proc.returncode == 0


def nat_works(host, expect="success"):
    play = host.play([task("netns_probe", {"netns": "blue", "target": OUTSIDE, "protocol": "icmp", "timeout": 2,
                                           "expect": expect}, "blue to outside")])
    return play.rc == 0


def iptables(host):
    """Docker's rules, as iptables-nft lists them (IPv4 and IPv6, filter and nat)."""
    return [line for binary in ("iptables-nft", "ip6tables-nft") for table in ("filter", "nat")
            for line in host.run(f"{binary} -w -t {table} -S").stdout.splitlines()]


def firewalld_rules(host):
    """firewalld's runtime rules (its nftables tables, without counters) and its permanent zones."""
    tables = [t for t in host.run("nft list tables").stdout.splitlines() if "firewalld" in t]
    listing = [line for t in tables for line in host.run(f"nft -s list {t}")
               .stdout.splitlines()]
    zones = host.run("firewall-cmd --permanent --list-all-zones").stdout.splitlines()
    return listing + zones


def without_ours(lines):
    """firewalld's rules without what binding v-net-0 to the trusted zone adds: the lines that name
    it, and the chains of the zone trusted, which firewalld builds once an interface uses it."""
    kept, skipping = [], False
    for line in lines:
        if line.startswith("\tchain ") and "_trusted" in line:
            skipping = True
        elif skipping and line == "\t}":
            skipping = False
            continue
        if line.startswith("  interfaces: v-net-0"):
            line = "  interfaces: "  # the permanent trusted zone lists it
        line = line.replace("trusted (active)", "trusted")
        if line and not skipping and "v-net-0" not in line and "_trusted" not in line:
            kept.append(line)
    return kept


def test_docker_user_opens_the_topology_and_docker_keeps_its_own_rules(make_host):
    lan, host = boot_with(make_host, "docker")
    before = iptables(host)
    assert "-P FORWARD DROP" in before and "-A DOCKER-USER -j RETURN" in before

    off = converge(host, docker="off")  # the integration off: warned, and Docker drops the traffic
    assert any("docker is off" in w for w in off.get("warnings", [])), off.get("warnings", [])
    assert any("table ip filter chain FORWARD" in w and "set docker: auto" in w for w in off.get("warnings", []))
    assert iptables(host) == before
    serve(host)
    assert nat_works(host, expect="failure") and not fetched(lan, timeout=3)

    result = converge(host)
    assert not [w for w in result.get("warnings", []) if "FORWARD" in w], result.get("warnings", [])
    after = iptables(host)
    assert [line for line in after if OURS not in line] == before  # Docker's own rules, byte for byte
    assert sorted(line for line in after if OURS in line) == [
        f'-A DOCKER-USER -{d} v-net-0 -m comment --comment "{OURS}bridge v-net-0" -j ACCEPT' for d in "io"]
    assert nat_works(host) and fetched(lan)
    assert not converge(host)["changed"]

    host.run("systemctl restart docker")  # Docker keeps DOCKER-USER as it is
    assert iptables(host) == after
    assert nat_works(host) and fetched(lan)
    host.run("systemctl stop docker docker.socket && iptables-nft -w -F DOCKER-USER")  # gone, as on a new host
    host.run("systemctl start docker")  # Docker started after the topology: the next run opens it again
    assert [line for line in iptables(host) if OURS in line] == []
    assert converge(host)["changed"] and nat_works(host) and fetched(lan)

    # at boot Docker starts after the restore of the persisted topology: its drop-in opens DOCKER-USER then
    converge(host, persist=True)
    host.run("systemctl enable docker")
    host.reboot(before_boot=cable(lan))
    host.run("systemctl is-active docker")
    assert sorted(line for line in iptables(host) if OURS in line) == [
        f'-A DOCKER-USER -{d} v-net-0 -m comment --comment "{OURS}bridge v-net-0" -j ACCEPT' for d in "io"]
    serve(host)
    assert nat_works(host) and fetched(lan)
    # Docker's own rules of this boot (with ip_forward already on, Docker leaves FORWARD's policy at accept)
    docker_own = [line for line in iptables(host) if OURS not in line]

    converge(host, state="absent")
    assert iptables(host) == docker_own


def test_firewalld_trusts_the_topology_and_keeps_it_over_reload_and_restart(make_host):
    lan, host = boot_with(make_host, "firewalld")
    before = firewalld_rules(host)
    assert "\t\treject with icmpx admin-prohibited" in before, before

    off = converge(host, firewalld="off")
    assert any("firewalld is off" in w for w in off.get("warnings", [])), off.get("warnings", [])
    assert any("table inet firewalld chain filter_FORWARD" in w and "set firewalld: auto" in w
               for w in off.get("warnings", [])), off.get("warnings", [])
    assert firewalld_rules(host) == before
    assert nat_works(host, expect="failure")  # firewalld rejects what the public zone does not forward

    result = converge(host)
    assert not [w for w in result.get("warnings", []) if "firewalld" in w], result.get("warnings", [])
    assert host.run("firewall-cmd --zone=trusted --list-interfaces").stdout.split() == ["v-net-0"]
    assert host.run("firewall-cmd --permanent --zone=trusted --list-interfaces").stdout.split() == ["v-net-0"]
    after = firewalld_rules(host)
    mine = without_ours(after)
    assert mine == without_ours(before) and len(mine) == len([line for line in before if line]), [line for line in mine if line not in before] + ["--"] + [
        line for line in before if line not in mine]
    serve(host)
    assert nat_works(host) and fetched(lan)
    assert not converge(host)["changed"]

    host.run("firewall-cmd --reload")  # runtime rebuilt from the permanent configuration
    assert nat_works(host) and fetched(lan)
    host.run("systemctl restart firewalld")
    firewalld_ready(host)
    assert sorted(firewalld_rules(host)) == sorted(after)  # the same rules (its chains in another order)
    assert nat_works(host) and fetched(lan)

    converge(host, state="absent")
    gone = firewalld_rules(host)
    assert not [line for line in gone if "v-net-0" in line] and without_ours(gone) == without_ours(before)
    # firewalld keeps the (now empty) chains of a zone it activated until its next reload, which the
    # collection does not do (a reload is its admin's call): then they are gone too
    host.run("firewall-cmd --reload")
    assert firewalld_rules(host) == before


def test_iptables_legacy_forward_drop_is_warned_about(host):
    """An iptables-legacy FORWARD policy drop (legacy tables are invisible to nft) is seen too."""
    host.run("iptables-legacy -w -P FORWARD DROP")
    play = host.play([task("nat_masquerade", {"source": "192.168.15.0/24"}, "masquerade")])
    assert play.rc == 0, play.output
    assert any("table ip filter chain FORWARD in the host namespace (iptables-legacy) drops forwarded packets" in w
               for w in play.task("masquerade").get("warnings", [])), play.output
