"""Topology parsing, cross-checks and plan order on plain data."""

from __future__ import annotations

import json

import pytest

from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.topology import (
    check, check_claims, desired, key_of, mark_created, parse)
from ansible_collections.netfabric.netns.plugins.module_utils.statefile import StateFile

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


def recorded_of(topo, created=()):
    items, unused = checked(topo)
    return {key_of(r): {"path": p, "params": params, "resource": r, "created": getattr(r, "name", None) in created}
            for p, params, r in items}


def test_absent_plans_in_reverse_dependency_order_including_what_was_recorded():
    items, unused = checked(TOPO)
    recorded = recorded_of(dict(TOPO, namespaces=[{"name": "red"}, {"name": "blue"}, {"name": "old"}]),
                           created={"red", "blue", "old"})
    ordered, record, warnings = desired(items, None, "absent", recorded, prune=False)
    kinds = [r.kind for unused, r in ordered]
    # red's route goes with the namespace red; its veth has an end in the host: deleted from there
    assert kinds == ["port_forward", "veth", "bridge", "netns", "netns", "netns", "forwarding"]
    veth = ordered[1][1]
    assert (veth.name, veth.netns, veth.peer, veth.peer_netns) == ("veth-red-br", None, "veth-red", "red")
    assert all(r.state == "absent" for unused, r in ordered) and record == {} and warnings == []


def test_absent_leaves_what_another_topology_records_and_checks_namespaces_it_did_not_record_as_made():
    items, unused = checked(TOPO)
    recorded = recorded_of(TOPO, created={"blue"})  # red: not recorded as made (an older or damaged record)
    others = {("link", None, "v-net-0"): ("other", "/var/lib/netfabric/topology-other.json")}
    ordered, unused, warnings = desired(items, None, "absent", recorded, prune=False, others=others)
    assert [(p, r.kind, getattr(r, "if_ours", None)) for p, r in ordered] == [
        ("port_forwards[0]", "port_forward", None), ("routes[0]", "route", None), ("veths[0]", "veth", None),
        ("namespaces[0]", "netns", True), ("namespaces[1]", "netns", False), ("forwarding", "forwarding", None)]
    assert warnings == ["bridges[0]: bridge 'v-net-0' (host) is also recorded by topology 'other': left in place"]


def test_a_resource_of_another_topology_is_refused():
    items, unused = checked(TOPO)
    others = {("link", None, "veth-red-br"): ("other", "/var/lib/netfabric/topology-other.json")}
    with pytest.raises(ValidationError, match=r"veths\[0\]: interface 'veth-red-br' in the host namespace belongs to "
                                              r"topology 'other' \(recorded in /var/lib/netfabric/topology-other.json\)"):
        check_claims(items, others)
    check_claims(items, {})


def test_without_prune_dropped_resources_stay_recorded_and_with_prune_they_go_first():
    items, unused = checked(TOPO)
    recorded = recorded_of({"namespaces": [{"name": "old"}]}, created={"old"})
    ordered, record, unused = desired(items, True, "present", recorded, prune=False)
    assert ("netns", "old") in record and all(r.state == "present" for unused, r in ordered)
    assert ordered[-1][0] == "forwarding"
    ordered, record, unused = desired(items, None, "present", recorded, prune=True)
    assert ordered[0][0] == "(pruned) namespaces[0]" and ordered[0][1].state == "absent"
    assert ("netns", "old") not in record


def test_state_file_round_trip(tmp_path):
    items, unused = checked(TOPO)
    unused_order, record, unused = desired(items, None, "present", {}, prune=False)
    mark_created(record, {"red"})
    state = StateFile(str(tmp_path), "walkthrough")
    state.save(record)
    data = json.loads((tmp_path / "topology-walkthrough.json").read_text())
    assert data["version"] == 2 and [e.get("created") for e in data["resources"][:2]] == [True, None]
    loaded, warnings = state.load()
    assert set(loaded) == set(record) and warnings == [] and loaded[("netns", "red")]["created"]
    state.save({})
    assert not (tmp_path / "topology-walkthrough.json").exists()
    with pytest.raises(ValidationError, match="name: topology name 'a/b' must be a plain file name"):
        StateFile(str(tmp_path), "a/b")


@pytest.mark.parametrize("text", ["", "[]", '{"version": 2, "resources": [\n{"module": "bogus", "path": "x", '
                                            '"params": {}}\n]}', '{"version": 2, "resources": [\n{"module": "netns", '
                                            '"path": "namespaces[0]", "params": {"name": "red"}, "created": true},\n'
                                            '{"module": "netns", "pa'])
def test_a_damaged_state_file_is_a_clear_error_and_absent_reads_what_it_can(tmp_path, text):
    (tmp_path / "topology-t.json").write_text(text)
    state = StateFile(str(tmp_path), "t")
    with pytest.raises(ValidationError, match=f"the state file {tmp_path}/topology-t.json cannot be read: .* run it "
                                              "with state=absent to remove what can still be read, or move the file"):
        state.load()
    record, warnings = state.load(tolerant=True)
    assert warnings and str(tmp_path / "topology-t.json") in warnings[0]
    assert list(record) == ([("netns", "red")] if "red" in text else [])


@pytest.mark.parametrize("value", ["off", False])  # False: YAML's unquoted off
def test_a_topology_wide_docker_off_reaches_the_items_that_take_it(value):
    items, unused = parse(dict(TOPO, docker=value))
    taken = {path: params["docker"] for path, params, unused_r in items if "docker" in params}
    assert taken == {"bridges[0]": "off", "veths[0]": "off"}


def test_a_topology_wide_default_outside_its_choices_names_key_and_value():
    with pytest.raises(ValidationError) as caught:
        parse(dict(TOPO, firewalld="sometimes"))
    assert "firewalld" in str(caught.value) and "sometimes" in str(caught.value)
