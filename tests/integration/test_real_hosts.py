"""Hosts laid out like real ones (issue 11): what the collection did not make, runs that were
cut short, other tools' leftovers, odd names, and the state it keeps on the host."""

from __future__ import annotations

import json
import os

import pytest

from helpers import task

TOPO_A = {"bridges": [{"name": "br-x", "addresses": ["10.50.0.1/24"]}]}


def topology(topo, name, state="present", **extra):
    return task("netns_topology", dict({"topology": topo, "name": name, "state": state}, **extra),
                f"{name} {state}", ignore_errors=True)


# ----------------------------------------------------------------- ownership


def test_a_resource_of_another_topology_is_refused_and_never_deleted_by_it(host):
    play = host.play([topology(TOPO_A, "a"), topology({"bridges": [{"name": "br-x"}]}, "b"),
                      topology({"bridges": [{"name": "br-x"}]}, "b", "absent")])
    a, b, b_absent = play.results
    assert a["changed"] and not a["failed"]
    assert b["failed"] and "bridges[0]: interface 'br-x' in the host namespace belongs to topology 'a'" in b["msg"]
    assert not b_absent["failed"], b_absent
    assert any("also recorded by topology 'a': left in place" in w for w in b_absent.get("warnings", []))
    assert host.ip("link show br-x")[0]["ifname"] == "br-x"
    gone = host.play([topology(TOPO_A, "a", "absent")])
    assert gone.results[0]["changed"] and host.ip("link show type bridge") == []


def test_a_module_does_not_remove_what_a_topology_records(host):
    play = host.play([topology(TOPO_A, "a"),
                      task("bridge", {"name": "br-x", "state": "absent"}, "module absent", ignore_errors=True)])
    result = play.results[1]
    assert result["failed"] and "bridge 'br-x' (host) belongs to topology 'a'" in result["msg"]
    assert host.ip("link show type bridge")[0]["ifname"] == "br-x"


def test_a_hand_made_bridge_is_adopted_and_left_in_place(host):
    host.run("ip link add br-pre type bridge && ip addr add 10.60.0.1/24 dev br-pre && ip link set br-pre up")
    topo = {"bridges": [{"name": "br-pre", "addresses": ["10.60.0.1/24", "10.61.0.1/24"]}],
            "namespaces": [{"name": "red"}],
            "veths": [{"name": "v-red", "netns": "red", "peer": "v-red-br", "peer_bridge": "br-pre"}]}
    play = host.play([topology(topo, "c"), topology(topo, "c", "absent")])
    present, absent = play.results
    assert present["changed"] and absent["changed"], play.output
    assert any("bridge 'br-pre' in the host namespace was not created by netfabric.netns: left in place" in w
               for w in absent["warnings"])
    link = host.ip("-d link show br-pre")[0]
    assert link["linkinfo"]["info_kind"] == "bridge" and "ifalias" not in link
    # un-configured: the addresses it declared went
    assert [a for entry in host.ip("addr show br-pre") for a in entry["addr_info"] if a["family"] == "inet"] == []
    assert host.netns_names() == [] and host.ip("link show type veth") == []


def test_what_the_collection_makes_carries_its_alias(host):
    host.play([task("netns", {"name": "red"}), task("bridge", {"name": "v-net-0"}),
               task("veth", {"name": "v1", "netns": "red", "peer": "v1-br", "peer_bridge": "v-net-0"})])
    assert host.ip("link show v-net-0")[0]["ifalias"] == "netfabric.netns"
    assert host.ip("link show v1-br")[0]["ifalias"] == "netfabric.netns"
    assert host.ip("-n red link show v1")[0]["ifalias"] == "netfabric.netns"


def test_a_veth_peer_that_is_somebody_elses_veth_is_an_error(host):
    """An LXD guest's eth0 is a veth whose other end is outside: declaring it as a peer must not
    plan "veth 'eth0' (host): delete (not paired as declared)"."""
    host.run("ip netns add outer && ip link add eth0 type veth peer name lxdhost netns outer && ip link set eth0 up")
    play = host.play([task("veth", {"name": "v1", "peer": "eth0"}, "check", check_mode=True, ignore_errors=True),
                      task("veth", {"name": "v1", "peer": "eth0"}, "real", ignore_errors=True)])
    for result in play.results:
        assert result["failed"] and "peer: 'eth0' exists in the host namespace as a veth that is not paired" \
            in result["msg"], result
    assert host.ip("link show eth0")[0]["link_netnsid"] == 0
    assert host.run("ip link show v1", check=False).returncode != 0


# ----------------------------------------------------------------- crash safety


def state_file(host, name):
    proc = host.run(f"cat /var/lib/netfabric/topology-{name}.json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


WALK = {"namespaces": [{"name": "red"}, {"name": "blue"}],
        "bridges": [{"name": "v-net-0", "addresses": ["192.168.15.5/24"]}],
        "veths": [{"name": "veth-red", "netns": "red", "addresses": ["192.168.15.1/24"],
                   "peer": "veth-red-br", "peer_bridge": "v-net-0"},
                  {"name": "veth-blue", "netns": "blue", "addresses": ["192.168.15.2/24"],
                   "peer": "veth-blue-br", "peer_bridge": "v-net-0"}],
        "masquerade": [{"source": "192.168.15.0/24"}]}


@pytest.mark.parametrize("point", ["step:2", "step:6"])
def test_a_run_killed_midway_leaves_a_record_that_absent_removes(host, point):
    killed = host.play([dict(topology(WALK, "walk"), environment={"NETFABRIC_KILL_AT": point})])
    assert killed.results[0]["failed"]
    recorded = state_file(host, "walk")
    assert recorded is not None and len(recorded["resources"]) == 6, recorded
    assert host.netns_names() or host.ip("link show type bridge")  # something was made before the kill
    play = host.play([topology(WALK, "walk", "absent")])
    assert not play.results[0]["failed"], play.output
    assert host.netns_names() == [] and host.ip("link show type bridge") == [] and host.ip("link show type veth") == []
    assert state_file(host, "walk") is None


@pytest.mark.parametrize("signal", ["TERM", "INT"])
def test_a_terminated_run_rolls_back(host, signal):
    """SIGTERM (systemd, AWX cancelling a job) and SIGINT are not OSErrors: rolled back all the same."""
    play = host.play([task("netns", {"name": "red"}),
                      dict(task("veth", {"name": "v1", "netns": "red", "peer": "v1-br", "addresses": ["10.1.1.1/24"]},
                                "interrupted", ignore_errors=True), environment={"NETFABRIC_KILL_AT": f"step:2:{signal}"})])
    result = play.results[1]
    assert result["failed"] and f"interrupted by SIG{signal}" in result["msg"], result
    assert result["rolled_back"] == ["link red v1"], result
    assert host.ip("-n red link show type veth") == [] and host.ip("link show type veth") == []


NONSENSE = '{"version": 2, "resources": [{"module": "nonsense", "path": "x", "params": {}}]}'


@pytest.mark.parametrize("text", ["[]", "", NONSENSE])
def test_a_damaged_state_file_is_a_clear_error_and_absent_still_removes(host, text):
    play = host.play([topology(WALK, "walk")])
    assert play.results[0]["changed"]
    damaged = text if text != "[]" else "[]"
    host.run(["sh", "-c", 'printf %s "$1" > /var/lib/netfabric/topology-walk.json', "sh", damaged])
    play = host.play([topology(WALK, "walk"), topology(WALK, "walk", "absent")])
    present, absent = play.results
    assert present["failed"] and "the state file /var/lib/netfabric/topology-walk.json cannot be read" in \
        present["msg"] and "state=absent" in present["msg"], present
    assert "Traceback" not in str(present.get("exception", ""))
    assert not absent["failed"] and any("topology-walk.json" in w for w in absent["warnings"]), absent
    assert host.netns_names() == [] and host.ip("link show type bridge") == []


# ----------------------------------------------------------------- stale namespace files


def test_a_plain_file_in_run_netns_is_skipped_and_cleaned(host):
    host.run("ip netns add good && touch /run/netns/stale /run/netns/stale2")
    play = host.play([task("netns_info", {}, "info"),
                      task("netns", {"name": "stale"}, "create over it"),
                      task("netns", {"name": "stale2", "state": "absent"}, "remove it"),
                      topology({"namespaces": [{"name": "good"}, {"name": "stale3"}]}, "t")])
    info, create, remove, topo = play.results
    assert not info["failed"] and info["namespaces"] == ["good"], info
    assert any("/run/netns/stale is a plain file" in w for w in info["warnings"])
    assert create["changed"] and "replacing the stale file" in create["actions"][0]
    assert remove["changed"] and "remove the stale file" in remove["actions"][0]
    assert not topo["failed"], topo
    assert host.netns_names() == ["good", "stale", "stale3"]
    assert host.run("ip netns exec stale ip -br link").returncode == 0


# ----------------------------------------------------------------- nftables read failures


def test_a_failed_nftables_read_changes_nothing(host):
    """An nft that fails once: the run fails, and the rules of other resources are not lost."""
    play = host.play([task("port_forward", {"port": 8080, "destination": "192.168.15.2"})])
    assert play.results[0]["changed"]
    before = host.run("nft -j list table inet netfabric").stdout
    wrapper = os.path.join(host.dir, "nft")
    with open(wrapper, "w", encoding="utf-8") as handle:
        handle.write(f"""#!/bin/sh
if [ ! -e {host.dir}/nft-failed ]; then touch {host.dir}/nft-failed; echo 'Error: Could not process rule: \
Resource temporarily unavailable' >&2; exit 1; fi
exec /usr/sbin/nft "$@"
""")
    os.chmod(wrapper, 0o755)
    env = {"NETFABRIC_NFT_BACKEND": "cli", "PATH": f"{host.dir}:/usr/sbin:/usr/bin:/sbin:/bin"}
    play = host.play([dict(task("nat_masquerade", {"source": "192.168.15.0/24"}, ignore_errors=True), environment=env)])
    result = play.results[0]
    assert result["failed"] and "Resource temporarily unavailable" in result["msg"], result
    assert host.run("nft -j list table inet netfabric").stdout == before


# ----------------------------------------------------------------- names and addresses


@pytest.mark.parametrize("module, args, message", [
    ("bridge", {"name": "br%d"}, "name: interface name 'br%d' may not contain '%'"),
    ("veth", {"name": "v%d", "peer": "w"}, "name: interface name 'v%d' may not contain '%'"),
    ("bridge", {"name": "all"}, "name: interface name 'all' is reserved"),
    ("netns_route", {"dst": "default", "gateway": "fe80::2%eth0", "dev": "lo"},
     "gateway: 'fe80::2%eth0' has a zone id ('%eth0')"),
    ("netns_address", {"interface": "lo", "addresses": ["fe80::5%eth0/64"]},
     "addresses[0]: 'fe80::5%eth0/64' has a zone id ('%eth0')"),
])
def test_names_and_addresses_the_kernel_treats_specially_are_refused(host, module, args, message):
    play = host.play([task(module, args, ignore_errors=True)])
    result = play.results[0]
    assert result["failed"] and message in result["msg"], result
    assert host.ip("link show type bridge") == [] and host.ip("link show type veth") == []


def test_a_declared_link_local_address_is_idempotent(host):
    args = {"name": "br6", "addresses": ["fe80::1/64", "fd16::1/64"]}
    play = host.play([task("bridge", args, "real"), task("bridge", args, "again", check_mode=True),
                      task("bridge", args, "real again"),
                      task("netns_address", {"interface": "br6", "addresses": ["fe80::7/64"]}, "extra"),
                      task("netns_address", {"interface": "br6", "addresses": ["fe80::7/64"]}, "extra again")])
    real, again, real_again, extra, extra_again = play.results
    assert real["changed"] and not again["changed"] and not real_again["changed"], play.output
    assert "fe80::1/64" in real_again["bridge"]["addresses"]
    assert extra["changed"] and not extra_again["changed"]
    local = [f"{a['local']}/{a['prefixlen']}" for a in host.ip("-6 addr show br6")[0]["addr_info"]]
    assert "fe80::1/64" in local and "fe80::7/64" in local


def test_forwarding_sysctls_of_an_uplink_with_a_dot_in_its_name(host):
    host.run("ip link add up.100 type veth peer name up-peer && ip link set up.100 up && ip link set up-peer up && "
             "ip addr add fd10::1/64 dev up.100 nodad && ip -6 route add default via fd10::254 dev up.100 && "
             "sysctl -qw net.ipv6.conf.up/100.accept_ra=1")
    play = host.play([task("nat_masquerade", {"source": "fd15::/64"})])
    result = play.results[0]
    assert result["changed"] and not result["failed"], result
    assert "the host namespace: set net.ipv6.conf.up/100.accept_ra=2" in result["actions"]
    assert host.run("sysctl -n net.ipv6.conf.up/100.accept_ra").stdout.strip() == "2"


# ----------------------------------------------------------------- the host lock


def test_the_lock_is_root_only_and_waited_for_a_bounded_time(host):
    host.play([task("netns", {"name": "red"})])
    assert host.run("stat -c %a /var/lib/netfabric/lock").stdout.strip() == "600"
    nobody = host.run("setpriv --reuid=65534 --regid=65534 --clear-groups flock -n /var/lib/netfabric/lock true",
                      check=False)
    assert nobody.returncode != 0 and "Permission denied" in nobody.stderr
    host.run("setsid flock /var/lib/netfabric/lock sleep 60 </dev/null >/dev/null 2>&1 &")
    try:
        play = host.play([task("netns", {"name": "blue", "lock_timeout": 1}, "real", ignore_errors=True),
                          task("netns", {"name": "blue", "lock_timeout": 1}, "check", check_mode=True,
                               ignore_errors=True)])
        for result in play.results:
            assert result["failed"] and "the host lock /var/lib/netfabric/lock is held by process" in result["msg"], \
                result
            assert "lock_timeout" in result["msg"]
        assert host.netns_names() == ["red"]
    finally:
        host.run("pkill -f '^flock /var/lib/netfabric/lock' || true")


# ----------------------------------------------------------------- forwarding


def test_forwarding_goes_back_off_with_its_last_user(host):
    host.run("sysctl -qw net.ipv4.ip_forward=0")
    masq = {"source": "192.168.15.0/24"}
    forward = {"port": 8080, "destination": "192.168.15.2"}
    play = host.play([task("nat_masquerade", masq, "masq"), task("port_forward", forward, "forward"),
                      task("nat_masquerade", dict(masq, state="absent"), "masq absent"),
                      {"name": "after one", "ansible.builtin.command": "sysctl -n net.ipv4.ip_forward",
                       "changed_when": False},
                      task("port_forward", dict(forward, state="absent"), "forward absent"),
                      task("port_forward", dict(forward, state="absent"), "forward absent again")])
    by = {r["task"]: r for r in play.results}
    assert by["after one"]["stdout"] == "1"
    assert "the host namespace: set net.ipv4.ip_forward=0 (as before netfabric.netns turned it on)" in \
        by["forward absent"]["actions"]
    assert not by["forward absent again"]["changed"]
    assert host.run("sysctl -n net.ipv4.ip_forward").stdout.strip() == "0"


def test_forwarding_that_was_on_before_stays_on(host):
    host.run("sysctl -qw net.ipv4.ip_forward=1")
    masq = {"source": "192.168.15.0/24"}
    host.play([task("nat_masquerade", masq), task("nat_masquerade", dict(masq, state="absent"))])
    assert host.run("sysctl -n net.ipv4.ip_forward").stdout.strip() == "1"
