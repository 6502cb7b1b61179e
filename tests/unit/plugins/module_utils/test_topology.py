"""Topology parsing, cross-checks and plan order on plain data."""

from __future__ import annotations

import json

import pytest

from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.topology import StateFile, check, desired, key_of, parse

TOPO = {
    "namespaces": [{"name": "red"}, {"name": "blue"}],
    "bridges": [{"name": "v-net-0", "addresses": ["192.168.15.5/24"]}],
    "veths": [{"name": "veth-red", "netns": "red", "addresses": ["192.168.15.1/24"], "peer": "veth-red-br",
               "peer_bridge": "v-net-0"}],
    "routes": [{"netns": "red", "dst": "default", "gateway": "192.168.15.5"}],
    "port_forwards": [{"port": "80", "destination": "192.168.15.2"}],
}


def checked(topo, existing_ns=(), subnets=None):
    items, forwarding = parse(topo)
    check(items, lambda name: name in existing_ns, lambda netns: (subnets or {}).get(netns, []))
    return items, forwarding


def test_items_are_validated_against_the_module_spec_with_defaults_and_types():
    items, unused = checked(TOPO)
    paths = [path for path, unused_params, unused_r in items]
    assert paths == ["namespaces[0]", "namespaces[1]", "bridges[0]", "veths[0]", "routes[0]", "port_forwards[0]"]
    veth_params = items[3][1]
    assert veth_params["up"] is True and veth_params["state"] == "present"
    assert items[5][2].ports == (80, 80)


def test_a_gateway_on_an_existing_subnet_is_accepted():
    topo = {"routes": [{"netns": "lab", "dst": "10.9.0.0/16", "gateway": "10.0.0.254"}]}
    checked(topo, existing_ns={"lab"}, subnets={"lab": ["10.0.0.0/24"]})
    with pytest.raises(ValidationError, match=r"routes\[0\].gateway: 10.0.0.254 is not on a subnet connected to netns 'lab'"):
        checked(topo, existing_ns={"lab"})


def test_interface_names_are_unique_per_namespace_across_bridges_and_veths():
    topo = {"bridges": [{"name": "br0"}], "veths": [{"name": "a", "peer": "br0"}]}
    with pytest.raises(ValidationError, match=r"veths\[0\].peer: interface 'br0' in the host namespace is declared twice"):
        checked(topo)
    checked({"namespaces": [{"name": "x"}], "bridges": [{"name": "br0"}, {"name": "br0", "netns": "x"}]})


def test_absent_plans_in_reverse_dependency_order_including_what_was_recorded():
    items, unused = checked(TOPO)
    recorded_items, unused = checked({"namespaces": [{"name": "old"}]})
    recorded = {key_of(r): {"path": p, "params": params, "resource": r} for p, params, r in recorded_items}
    ordered, record = desired(items, None, "absent", recorded, prune=False)
    kinds = [r.kind for unused, r in ordered]
    # red's route goes with the namespace red; its veth has an end in the host: deleted from there
    assert kinds == ["port_forward", "veth", "bridge", "netns", "netns", "netns"]
    veth = ordered[1][1]
    assert (veth.name, veth.netns, veth.peer, veth.peer_netns) == ("veth-red-br", None, "veth-red", "red")
    assert all(r.state == "absent" for unused, r in ordered) and record == {}


def test_without_prune_dropped_resources_stay_recorded_and_with_prune_they_go_first():
    items, unused = checked(TOPO)
    recorded_items, unused = checked({"namespaces": [{"name": "old"}]})
    recorded = {key_of(r): {"path": p, "params": params, "resource": r} for p, params, r in recorded_items}
    ordered, record = desired(items, True, "present", recorded, prune=False)
    assert ("netns", "old") in record and all(r.state == "present" for unused, r in ordered)
    assert ordered[-1][0] == "forwarding"
    ordered, record = desired(items, None, "present", recorded, prune=True)
    assert ordered[0][0] == "(pruned) namespaces[0]" and ordered[0][1].state == "absent"
    assert ("netns", "old") not in record


def test_state_file_round_trip(tmp_path):
    items, unused = checked(TOPO)
    unused_order, record = desired(items, None, "present", {}, prune=False)
    state = StateFile(str(tmp_path), "walkthrough")
    state.save(record)
    assert json.loads((tmp_path / "topology-walkthrough.json").read_text())["version"] == 1
    assert set(state.load()) == set(record)
    state.save({})
    assert not (tmp_path / "topology-walkthrough.json").exists()
    with pytest.raises(ValidationError, match="name: topology name 'a/b' must be a plain file name"):
        StateFile(str(tmp_path), "a/b")
