"""bridge and bridge_port: the v-net-0 switch with a host address, ports, hairpin and isolation."""

from __future__ import annotations

from helpers import LIFECYCLE_CHANGES, changed_flags, lifecycle, snapshots, task

BRIDGE = {"name": "v-net-0", "addresses": ["192.168.15.5/24", "fd15::5/64"], "stp": True}


def test_bridge_lifecycle(host):
    play = host.play(lifecycle("bridge", BRIDGE, absent={"name": "v-net-0"}))
    assert play.rc == 0, play.stdout
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    snap = snapshots(play.results)
    assert snap["after check"].link(None, "v-net-0") is None
    after = snap["after real"]
    assert after.kind(None, "v-net-0") == "bridge"
    assert after.link(None, "v-net-0")["linkinfo"]["info_data"]["stp_state"] == 1
    assert after.addresses(None, "v-net-0") == ["192.168.15.5/24", "fd15::5/64"]
    assert after.is_up(None, "v-net-0")
    assert snap["after absent"].link(None, "v-net-0") is None


def test_bridge_port_lifecycle(host):
    host.run("ip link add name v-net-0 type bridge && ip link add name veth-x type veth peer name veth-x-ns")
    port = {"bridge": "v-net-0", "port": "veth-x", "hairpin": True, "isolated": True}
    play = host.play(lifecycle("bridge_port", port, absent={"bridge": "v-net-0", "port": "veth-x"}))
    assert play.rc == 0, play.stdout
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    snap = snapshots(play.results)
    assert snap["after check"].master(None, "veth-x") is None
    after = snap["after real"]
    assert after.master(None, "veth-x") == "v-net-0"
    assert after.port_data(None, "veth-x")["hairpin"] is True
    assert after.port_data(None, "veth-x")["isolated"] is True
    released = snap["after absent"]
    assert released.master(None, "veth-x") is None
    assert released.link(None, "veth-x") is not None  # released, not deleted


def test_walkthrough_namespaces_on_a_bridge_reach_each_other_and_the_host(host):
    host.run("ip netns add red && ip netns add blue")
    tasks = [task("bridge", {"name": "v-net-0", "addresses": ["192.168.15.5/24"]})]
    for ns, address in (("red", "192.168.15.1/24"), ("blue", "192.168.15.2/24")):
        tasks.append(task("veth", {"name": f"veth-{ns}", "netns": ns, "addresses": [address],
                                   "peer": f"veth-{ns}-br", "peer_bridge": "v-net-0"}, f"cable {ns}"))
    play = host.play(tasks)
    assert play.rc == 0, play.stdout
    assert host.ip("link show master v-net-0") and len(host.ip("link show master v-net-0")) == 2
    assert host.tcp_ok("blue", "192.168.15.2", 8080, client_ns="red")
    assert host.tcp_ok("red", "192.168.15.1", 8080, client_ns=None)  # host -> red through v-net-0
    assert host.tcp_ok(None, "192.168.15.5", 8080, client_ns="blue")  # blue -> host
    again = host.play(tasks)
    assert [r["changed"] for r in again.results] == [False, False, False]


def test_missing_bridge_fails_and_attaches_nothing(host):
    host.run("ip link add name veth-x type veth peer name veth-y")
    play = host.play([task("bridge_port", {"bridge": "v-net-9", "port": "veth-x"})])
    assert play.results[0]["failed"]
    assert play.results[0]["msg"] == "bridge: bridge 'v-net-9' does not exist in the host namespace"
    assert "master" not in host.ip("link show veth-x")[0]


def test_vlan_filtering_refusal_rolls_back_the_new_bridge(host):
    """A real kernel refusal midway: the bridge this run created is deleted again."""
    probe = host.run("ip link add name brprobe type bridge vlan_filtering 1", check=False)
    host.run("ip link del brprobe", check=False)
    play = host.play([task("bridge", {"name": "v-net-0", "vlan_filtering": True})])
    if probe.returncode == 0:
        assert play.results[0]["changed"] is True  # this kernel has VLAN filtering
        return
    result = play.results[0]
    assert result["failed"]
    assert result["msg"] == "bridge 'v-net-0' (host): cannot set vlan_filtering on: not supported by this kernel"
    assert result["rolled_back"] == ["link v-net-0"]
    assert host.ip("link show type bridge") == []
