"""The topology role's argument specs say what specs.py says: one source for every option.

The role's meta/argument_specs.yml keeps its own (shorter) descriptions, but every option's
name, type, elements, choices, default, required flag and sub-options must be those of the
module the list item is for; the role's own variables those of netns_topology.
"""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.netfabric.netns.plugins.module_utils.specs import SPECS, TOPOLOGY
from ansible_collections.netfabric.netns.plugins.module_utils.topology import DEFAULTS, LISTS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
FIELDS = ("type", "elements", "choices", "default", "required")


def role_options(role):
    with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def shape(spec):
    """An option spec without its text: what validates."""
    found = {key: spec[key] for key in FIELDS if spec.get(key) not in (None, False)}
    if "choices" in found:
        found["choices"] = list(found["choices"])
    if spec.get("options"):
        found["options"] = {name: shape(sub) for name, sub in spec["options"].items()}
    return found


def drift(role_spec, module_spec, where, supplied=()):
    """Lines that say where the role's options differ from the module's. ``supplied``: options
    whose default the topology supplies (topology.DEFAULTS): the role's item must have none
    (it would hide the topology's), everything else as in specs.py."""
    problems = []
    for name in supplied:
        if name in role_spec and name in module_spec:
            if "default" in role_spec[name]:
                problems.append(f"{where}.{name}: has a default in the role, which would hide the topology's")
            module_spec = dict(module_spec, **{name: {k: v for k, v in module_spec[name].items() if k != "default"}})
    for name in sorted(set(role_spec) | set(module_spec)):
        if name not in role_spec:
            problems.append(f"{where}.{name}: in specs.py, missing from the role")
        elif name not in module_spec:
            problems.append(f"{where}.{name}: in the role, not in specs.py")
        elif shape(role_spec[name]) != shape(module_spec[name]):
            problems.append(f"{where}.{name}: role {shape(role_spec[name])} != specs.py {shape(module_spec[name])}")
    return problems


@pytest.mark.parametrize("list_name, module", [(name, module) for name, module, unused in LISTS])
def test_topology_role_items_take_exactly_the_module_options(list_name, module):
    items = role_options("topology")["netns_topology"]["options"][list_name]
    assert (items["type"], items["elements"]) == ("list", "dict")
    assert drift(items["options"], SPECS[module], f"netns_topology.{list_name}", supplied=DEFAULTS) == []


def test_topology_role_lists_every_kind_and_its_own_variables_are_the_modules():
    options = role_options("topology")
    topology = options["netns_topology"]["options"]
    assert set(topology) == {"forwarding"} | set(DEFAULTS) | {name for name, unused, unused_c in LISTS}
    assert drift({name: topology[name] for name in DEFAULTS}, DEFAULTS, "netns_topology") == []
    own = {name[len("netns_topology_"):]: spec for name, spec in options.items() if name != "netns_topology"}
    # annotations: how the fabric role keeps its peers; the topology role has none
    module = {name: spec for name, spec in TOPOLOGY.items() if name not in ("topology", "annotations")}
    # the role persists by default, the module does not; the role's state has its own name (DESIGN.md)
    assert own.pop("persist")["default"] is True and module.pop("persist")["default"] is False
    assert own.pop("name")["default"] == "topology" and module.pop("name")["default"] == "default"
    assert drift(own, module, "topology role") == []


def test_the_drift_check_sees_a_default_that_hides_the_topologys():
    role = dict(SPECS["bridge"], firewalld={k: v for k, v in SPECS["bridge"]["firewalld"].items() if k != "default"})
    assert drift(role, SPECS["bridge"], "bridges", supplied=DEFAULTS)[0] == \
        "bridges.docker: has a default in the role, which would hide the topology's"
    without = dict(role, docker={k: v for k, v in role["docker"].items() if k != "default"})
    assert drift(without, SPECS["bridge"], "bridges", supplied=DEFAULTS) == []
    assert drift(dict(without, docker={"type": "str"}), SPECS["bridge"], "bridges", supplied=DEFAULTS) != []


def test_the_drift_check_sees_a_difference():
    changed = dict(SPECS["veth"], mtu={"type": "str"})
    assert drift(changed, SPECS["veth"], "veths") == ["veths.mtu: role {'type': 'str'} != specs.py {'type': 'int'}"]
