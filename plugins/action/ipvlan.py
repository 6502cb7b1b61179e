# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Passes the connection address to the ipvlan module (see plugin_utils/connection_guard.py)."""

from __future__ import annotations

from ansible_collections.netfabric.netns.plugins.plugin_utils.connection_guard import ConnectionGuardAction


class ActionModule(ConnectionGuardAction):
    pass
