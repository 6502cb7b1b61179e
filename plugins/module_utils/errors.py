# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the netfabric engine (private to the collection).

Every error carries a message that names the object or option and the value,
so that a module can hand it to ``fail_json`` unchanged.
"""

from __future__ import annotations


class NetfabricError(Exception):
    """A failure the user can act on; ``details`` go into the module result."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


class ValidationError(NetfabricError):
    """Bad input, found before anything was changed."""

    def __init__(self, path, msg, **details):
        super().__init__(f"{path}: {msg}" if path else msg, **details)
        self.path = path


class KernelError(NetfabricError):
    """The kernel refused a step of the plan."""


class Interrupted(NetfabricError):
    """SIGTERM or SIGINT arrived while a plan was being applied."""


def where(netns, short=False):
    """Where a resource lives, for messages: "netns 'red'" or "the host namespace"; short,
    as in action subjects: "netns red" or "host"."""
    if short:
        return f"netns {netns}" if netns else "host"
    return f"netns '{netns}'" if netns else "the host namespace"
