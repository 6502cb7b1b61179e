# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of netfabric.netns (documented in network.yml): the network of an interface address."""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError


def network(cidr):
    """'192.168.15.5/24' -> '192.168.15.0/24' (the fabric role exports its bridges' subnets)."""
    try:
        return str(ipaddress.ip_interface(str(cidr)).network)
    except ValueError as exc:
        raise AnsibleFilterError(f"network: '{cidr}' is not an address with a prefix length ({exc})") from None


class FilterModule:
    def filters(self):
        return {"network": network}
