# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of netfabric.netns (documented in to_mermaid.yml and to_dot.yml): netns_info results to diagrams."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.netfabric.netns.plugins.module_utils import diagram


def _graph(name, data):
    try:
        return diagram.draw(data)
    except (diagram.DiagramError, KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"{name}: {exc}") from None


def to_mermaid(data):
    """A netns_info result, or a dict of inventory hostname to result, as a Mermaid flowchart."""
    return diagram.mermaid(_graph("to_mermaid", data))


def to_dot(data, name="netfabric"):
    """The same as Graphviz DOT text (render it with ``dot -Tsvg``)."""
    return diagram.dot(_graph("to_dot", data), str(name))


class FilterModule:
    def filters(self):
        return {"to_mermaid": to_mermaid, "to_dot": to_dot}
