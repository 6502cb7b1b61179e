"""Building blocks of the integration tests: kernel snapshots and the module lifecycle."""

from __future__ import annotations

import json
import os
import sys

KSTATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kstate.py")


def probe(label):
    """A task that records the kernel state (read with `ip -j`) at this point of the play."""
    return {"name": f"probe {label}", "ansible.builtin.command": f"{sys.executable} {KSTATE}",
            "changed_when": False}


def task(module, args, name=None, **extra):
    return {"name": name or module, f"netfabric.netns.{module}": args, **extra}


def lifecycle(module, args, absent=None):
    """Check, real, check again, real again, then absent twice, with probes in between."""
    absent = dict(absent or args, state="absent")
    return [
        task(module, args, "check", check_mode=True),
        probe("after check"),
        task(module, args, "real"),
        probe("after real"),
        task(module, args, "check again", check_mode=True),
        task(module, args, "real again"),
        task(module, absent, "absent"),
        probe("after absent"),
        task(module, absent, "absent again"),
    ]


class Snapshot:
    """Kernel state read back through netlink by iproute2."""

    def __init__(self, data):
        self.data = data if isinstance(data, dict) else json.loads(data)

    @property
    def namespaces(self):
        return self.data["netns"]

    def ns(self, netns):
        return self.data["host" if netns is None else netns]

    def link(self, netns, name):
        if netns is not None and netns not in self.namespaces:
            return None
        return next((lk for lk in self.ns(netns)["link"] if lk["ifname"] == name), None)

    def links(self, netns):
        return sorted(lk["ifname"] for lk in self.ns(netns)["link"])

    def is_up(self, netns, name):
        return "UP" in self.link(netns, name)["flags"]

    def kind(self, netns, name):
        return self.link(netns, name).get("linkinfo", {}).get("info_kind")

    def master(self, netns, name):
        return self.link(netns, name).get("master")

    def port_data(self, netns, name):
        return self.link(netns, name).get("linkinfo", {}).get("info_slave_data", {})

    def addresses(self, netns, name):
        for entry in self.ns(netns)["addr"]:
            if entry["ifname"] == name:
                return sorted(f"{a['local']}/{a['prefixlen']}" for a in entry.get("addr_info", [])
                              if not a["local"].startswith("fe80:"))
        return None

    def routes(self, netns, dst=None):
        return [r for r in self.ns(netns)["route"] if dst is None or r["dst"] == dst]

    def sysctl(self, netns, key):
        return self.ns(netns)["sysctl"][key]


def snapshots(results):
    """The snapshots recorded by probe tasks, by label."""
    return {r["task"][len("probe "):]: Snapshot(r["stdout"]) for r in results if r["task"].startswith("probe ")}


def changed_flags(results, names=("check", "real", "check again", "real again", "absent", "absent again")):
    by_name = {r["task"]: r for r in results}
    return [by_name[name]["changed"] for name in names]


LIFECYCLE_CHANGES = [True, True, False, False, True, False]
