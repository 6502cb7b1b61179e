"""netns_info: facts read through netlink match what iproute2 built."""

from __future__ import annotations

from helpers import task


def test_reports_namespaces_links_peers_and_routes(host):
    host.run("ip netns add red && ip netns add blue && ip link add name v-net-0 type bridge"
             " && ip link add name veth-red-br master v-net-0 type veth peer name veth-red netns red"
             " && ip link add name veth-rb netns red type veth peer name veth-br netns blue"
             " && ip -n red addr add 192.168.15.1/24 dev veth-red && ip -n red link set veth-red up"
             " && ip -n red route add default via 192.168.15.5")
    play = host.play([task("netns_info", {}), task("netns_info", {"netns": "blue"}, "only blue")])
    everything, only_blue = play.results
    assert everything["changed"] is False
    assert everything["namespaces"] == ["blue", "red"]
    red = {link["name"]: link for link in everything["netns"]["red"]["links"]}
    assert red["veth-red"]["peer"] == "veth-red-br" and red["veth-red"]["peer_netns"] is None
    assert red["veth-red"]["addresses"] == ["192.168.15.1/24"] and red["veth-red"]["state"] == "up"
    assert red["veth-rb"]["peer"] == "veth-br" and red["veth-rb"]["peer_netns"] == "blue"
    host_links = {link["name"]: link for link in everything["result"]["host"]["links"]}
    assert host_links["veth-red-br"]["master"] == "v-net-0"
    assert host_links["veth-red-br"]["peer"] == "veth-red" and host_links["veth-red-br"]["peer_netns"] == "red"
    assert host_links["v-net-0"]["kind"] == "bridge"
    assert {"dst": "default", "family": 4, "gateway": "192.168.15.5", "dev": "veth-red", "metric": 0,
            "table": 254} in everything["netns"]["red"]["routes"]
    assert list(only_blue["netns"]) == ["blue"] and only_blue["result"]["host"] is None
    assert host.netns_names() == ["blue", "red"]  # reading created nothing
