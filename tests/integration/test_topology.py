"""netns_topology and netns_firewall: whole topologies, validation, prune, rollback, isolation."""

from __future__ import annotations

import json

import pytest

from helpers import LIFECYCLE_CHANGES, changed_flags, lifecycle, probe, snapshots, task

WALKTHROUGH = {
    "namespaces": [{"name": "red"}, {"name": "blue"}],
    "bridges": [{"name": "v-net-0", "addresses": ["192.168.15.5/24"]}],
    "veths": [
        {"name": "veth-red", "netns": "red", "addresses": ["192.168.15.1/24"], "peer": "veth-red-br",
         "peer_bridge": "v-net-0"},
        {"name": "veth-blue", "netns": "blue", "addresses": ["192.168.15.2/24"], "peer": "veth-blue-br",
         "peer_bridge": "v-net-0"},
    ],
    "routes": [{"netns": "red", "dst": "default", "gateway": "192.168.15.5"},
               {"netns": "blue", "dst": "default", "gateway": "192.168.15.5"}],
    "masquerade": [{"source": "192.168.15.0/24"}],
    "port_forwards": [{"port": 8080, "destination": "192.168.15.2", "destination_port": 80}],
}

# Seed 003 in small: a web and a back-end network behind the host as a router; the
# back end is isolated and reachable from web only on the database port.
NETWORKS = {
    "forwarding": True,
    "namespaces": [{"name": "web"}, {"name": "db"}],
    "bridges": [{"name": "br-web", "addresses": ["10.1.10.1/24"]},
                {"name": "br-back", "addresses": ["10.1.20.1/24"], "isolate_subnet": True}],
    "veths": [{"name": "eth0", "netns": "web", "addresses": ["10.1.10.10/24"], "peer": "veth-web", "peer_bridge": "br-web"},
              {"name": "eth0", "netns": "db", "addresses": ["10.1.20.10/24"], "peer": "veth-db", "peer_bridge": "br-back"}],
    "routes": [{"netns": "web", "dst": "default", "gateway": "10.1.10.1"},
               {"netns": "db", "dst": "default", "gateway": "10.1.20.1"}],
    "policies": [{"source": "10.1.10.0/24", "destination": "10.1.20.0/24", "protocol": "tcp", "port": 5432}],
}


def topology(topo, name="t", **extra):
    return {"name": name, "topology": topo, **extra}


def nft_table(host):
    proc = host.run("nft -j list table inet netfabric", check=False)
    return json.loads(proc.stdout)["nftables"] if proc.returncode == 0 else None


def test_check_mode_plans_what_the_real_run_does_and_a_second_run_changes_nothing(host):
    args = topology(WALKTHROUGH)
    play = host.play([task("netns_topology", args, "check", check_mode=True), probe("after check"),
                      task("netns_topology", args, "real"), task("netns_topology", args, "again")])
    assert play.rc == 0, play.stdout
    check, real, again = (r for r in play.results if not r["task"].startswith("probe"))
    assert check["changed"] and real["changed"] and not again["changed"]
    assert check["actions"] == real["actions"] and again["actions"] == []
    assert snapshots(play.results)["after check"].namespaces == []
    assert real["actions"].index("namespace 'red': create") < real["actions"].index("bridge 'v-net-0' (host): create")
    assert host.tcp_ok("blue", "192.168.15.2", 80, client_ns="red")
    assert host.tcp_ok("blue", "192.168.15.2", 80, client_ns=None)
    assert [c["name"] for c in (i.get("chain") for i in nft_table(host)) if c] == ["input", "prerouting", "output", "forward", "postrouting"]
    recorded = json.loads(host.run("cat /var/lib/netfabric/topology-t.json").stdout)
    assert len(recorded["resources"]) == 9


BAD = [
    ({"namespaces": [{"name": "red"}, {"name": "red"}]}, "namespaces[1]: namespace 'red' is declared twice (also at namespaces[0])"),
    ({"veths": [{"name": "a", "peer": "b", "peer_netns": "lab9"}]},
     "veths[0].peer_netns: namespace 'lab9' is not declared and does not exist"),
    ({"namespaces": [{"name": "red"}], "bridges": [{"name": "br0", "addresses": ["10.0.0.1/24"]}],
      "veths": [{"name": "a", "peer": "b", "addresses": ["10.0.0.1/24"]}]},
     "veths[0].addresses[0]: address 10.0.0.1 in the host namespace is also declared at bridges[0].addresses[0]"),
    ({"namespaces": [{"name": "red"}], "veths": [{"name": "a", "netns": "red", "addresses": ["10.0.0.2/24"], "peer": "b"}],
      "routes": [{"netns": "red", "dst": "default", "gateway": "10.9.9.9"}]},
     "routes[0].gateway: 10.9.9.9 is not on a subnet connected to netns 'red'"),
    ({"port_forwards": [{"port": 80, "destination": "10.0.0.2"}, {"port": "70-90", "destination": "10.0.0.3"}]},
     "port_forwards[1].port: tcp port 70-90 on any host address overlaps the forward at port_forwards[0]"),
    ({"veths": [{"name": "a", "peer": "b", "colour": "red"}]}, "veths[0]: unknown option 'colour' (a veth item takes: "),
    ({"routes": [{"dst": "default", "dev": "lo", "metric": "high"}]}, "routes[0]: argument 'metric' is of type str"),
    ({"bridges": [{"name": "v-net-0", "addresses": ["192.168.15.5/33"]}]},
     "bridges[0].addresses[0]: '192.168.15.5/33' is not a valid IPv4 or IPv6 address"),
    ({"veths": [{"name": "veth-red-is-too-long", "peer": "b"}]},
     "veths[0].name: interface name 'veth-red-is-too-long' is longer than 15 bytes"),
    ({"routes": [{"dst": "default", "gateway": "not-an-address"}]}, "routes[0].gateway: 'not-an-address' is not an IPv4"),
    ({"namespaces": [{"name": "red/blue"}]}, "namespaces[0].name: namespace name 'red/blue' may not contain '/'"),
    ({"policies": [{"source": "10.1.10.0/24", "port": 22}]}, "policies[0].port: 22: a port needs protocol tcp or udp"),
    ({"vxlans": [{"name": "vx0"}]}, "vxlans[0]: state is present but all of the following are missing: vni"),
    ({"colours": []}, "topology: unknown key 'colours'"),
]


def test_bad_topologies_fail_by_path_before_any_change(host):
    # A valid head (a namespace, a bridge) before the bad item proves that nothing is half-applied.
    head = {"namespaces": [{"name": "green"}], "bridges": [{"name": "br-ok"}]}
    tasks = [probe("before")]
    for i, (bad, unused) in enumerate(BAD):
        tasks.append(task("netns_topology", topology(dict(head, **bad)), f"bad {i}", ignore_errors=True))
    tasks.append(probe("after"))
    play = host.play(tasks)
    results = {r["task"]: r for r in play.results}
    for i, (bad, message) in enumerate(BAD):
        result = results[f"bad {i}"]
        assert result["failed"], bad
        assert message in result["msg"], (bad, result["msg"])
        assert "Module failed:" not in result["msg"]
    snap = snapshots(play.results)
    assert snap["before"].data == snap["after"].data
    assert host.run("ls /var/lib/netfabric", check=False).stdout.split() in ([], ["lock"])


def test_prune_removes_only_what_the_topology_dropped(host):
    host.run("ip netns add by-hand && ip link add name hand0 type veth peer name hand1")
    smaller = dict(WALKTHROUGH, namespaces=[{"name": "red"}], veths=WALKTHROUGH["veths"][:1],
                   routes=WALKTHROUGH["routes"][:1], port_forwards=[])
    play = host.play([task("netns_topology", topology(WALKTHROUGH), "full"),
                      task("netns_topology", topology(smaller), "smaller, no prune"),
                      task("netns_topology", topology(smaller, prune=True), "prune", diff=True),
                      task("netns_topology", topology(smaller, prune=True), "prune again")])
    assert play.rc == 0, play.stdout
    full, keep, pruned, again = play.results
    assert not keep["changed"] and host.netns_names() == ["by-hand", "red"]
    assert pruned["changed"] and not again["changed"]
    assert "namespace 'blue': delete" in pruned["actions"]
    assert any(a.startswith("nftables") and "port_forward tcp * 8080" in a for a in pruned["actions"])
    host_links = [link["ifname"] for link in host.ip("link show")]
    assert "hand0" in host_links and "veth-red-br" in host_links and "veth-blue-br" not in host_links
    assert all("8080" not in json.dumps(item) for item in nft_table(host))
    host.run("ip netns del red", check=False)


def test_absent_removes_what_it_declared_and_recorded(host):
    play = host.play([task("netns_topology", topology(WALKTHROUGH), "present"),
                      task("netns_topology", topology({}, state="absent"), "absent (from the record alone)"),
                      task("netns_topology", topology({}, state="absent"), "absent again")])
    assert play.rc == 0, play.stdout
    assert changed_flags(play.results, ("present", "absent (from the record alone)", "absent again")) == [True, True, False]
    assert host.netns_names() == []
    assert host.ip("link show type bridge") == [] and host.ip("link show type veth") == []
    assert nft_table(host) is None
    assert host.run("test -e /var/lib/netfabric/topology-t.json", check=False).returncode != 0


@pytest.mark.parametrize("step", [3, 9])
def test_a_refused_step_rolls_back_what_the_run_created(host, step):
    play = host.play([probe("before"),
                      task("netns_topology", topology(WALKTHROUGH), "fails", ignore_errors=True,
                           environment={"NETFABRIC_FAIL_AT_STEP": str(step)}),
                      probe("after failure"),
                      task("netns_topology", topology(WALKTHROUGH), "converges")])
    failed = play.results[1]
    assert failed["failed"] and "stopped by the test failpoint" in failed["msg"]
    assert len(failed["result"]["completed"]) == step - 1 and failed["result"]["rolled_back"]
    snap = snapshots(play.results)
    assert snap["after failure"].namespaces == [] and snap["after failure"].links(None) == snap["before"].links(None)
    assert play.results[-1]["changed"] and not play.results[-1]["failed"]
    assert host.tcp_ok("blue", "192.168.15.2", 80, client_ns="red")


@pytest.mark.parametrize("bridge_nf", [1, 0])
def test_isolated_network_is_reached_only_through_policies(host, bridge_nf):
    host.run(f"sysctl -qw net.bridge.bridge-nf-call-iptables={bridge_nf}")
    play = host.play([task("netns_topology", topology(NETWORKS), "build"),
                      task("netns_topology", topology(NETWORKS), "again")])
    assert play.rc == 0, play.stdout
    assert not play.results[1]["changed"]
    assert host.tcp_ok("db", "10.1.20.10", 5432, client_ns="web")  # the policy
    assert not host.tcp_ok("db", "10.1.20.10", 22, client_ns="web", timeout=1)  # isolation
    assert not host.tcp_ok("web", "10.1.10.10", 80, client_ns="db", timeout=1)  # isolated outward too
    assert host.tcp_ok("web", "10.1.10.10", 80, client_ns=None)  # the host itself reaches both
    assert host.tcp_ok("db", "10.1.20.10", 22, client_ns=None)
    assert host.run("cat /proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"


def test_netns_firewall_lifecycle(host):
    args = {"source": "10.1.10.0/24", "destination": "10.1.20.0/24", "protocol": "tcp", "port": 5432}
    play = host.play(lifecycle("netns_firewall", args) + [
        task("netns_firewall", args, "accept again"),
        task("netns_firewall", dict(args, action="drop"), "replace the action"),
        task("netns_firewall", dict(args, action="drop", state="absent"), "remove"),
    ])
    assert play.rc == 0, play.stdout
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    replaced = next(r for r in play.results if r["task"] == "replace the action")
    assert [a.split(": ", 1)[1].split()[0] for a in replaced["actions"]] == ["remove", "add"]
    assert replaced["actions"][1].endswith('drop comment "policy 10.1.10.0/24 > 10.1.20.0/24 tcp 5432"')
    assert nft_table(host) is None


def test_the_nft_command_serves_where_the_python_binding_is_missing(host):
    """The same table, written and read back through `nft -j -f -` instead of libnftables' binding."""
    cli = {"NETFABRIC_NFT_BACKEND": "cli"}
    play = host.play([task("netns_topology", topology(WALKTHROUGH), "through nft", environment=cli),
                      task("netns_topology", topology(WALKTHROUGH), "again, through the binding"),
                      task("netns_topology", topology(WALKTHROUGH), "again, through nft", environment=cli)])
    assert play.rc == 0, play.stdout
    assert [r["changed"] for r in play.results] == [True, False, False]
    assert any("8080" in json.dumps(item) for item in nft_table(host))
    assert host.tcp_ok("blue", "192.168.15.2", 80, client_ns="red")
