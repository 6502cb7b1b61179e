"""Every action kind is declared once and handled once; every resource kind has a planner."""

from __future__ import annotations

import pytest

from ansible_collections.netfabric.netns.plugins.module_utils import kernel, ops, planner, topology  # noqa: F401  pylint: disable=unused-import
from ansible_collections.netfabric.netns.plugins.module_utils.model import BridgePort


def test_every_op_has_a_handler_and_every_handler_an_op():
    assert set(ops.HANDLERS) == set(ops.OPS)
    for name, handler in ops.HANDLERS.items():
        # the Applier's own method, or one of a mixin (link_kinds.LowerLinks) it inherits
        assert getattr(kernel.Applier, f"do_{name}", None) is handler, name


def test_every_resource_kind_has_a_planner_and_every_planner_a_kind():
    kinds = {cls.kind for unused, unused_module, cls in topology.LISTS} | {BridgePort.kind, topology.Forwarding.kind}
    assert set(ops.PLANNERS) == kinds


def test_an_action_takes_exactly_the_arguments_of_its_op():
    assert ops.LINK_SET.check({"name": "eth0", "mtu": 1400}) == {"name": "eth0", "mtu": 1400}
    with pytest.raises(ValueError, match=r"action link_set: missing \['name'\], unknown \['mut'\]"):
        ops.LINK_SET.check({"mut": 1400})
