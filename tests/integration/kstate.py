"""Print the kernel's network state of a sandbox host as one JSON document.

Read with iproute2 (`ip -j`, netlink), independently of the collection's own
pyroute2 code, so the tests do not check the engine with the engine. Run inside
a sandbox host: {"netns": [...], "host": {...}, "<ns>": {...}}, each namespace
with "link" (ip -d), "addr", "route" (all tables but local) and "sysctl".
"""

import json
import subprocess
import sys

SYSCTLS = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", "net.ipv4.conf.all.rp_filter")


def ip(netns, *args):
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    out = subprocess.run(prefix + ["-j"] + list(args), check=True, capture_output=True, text=True).stdout
    return json.loads(out or "[]")


def sysctls(netns):
    prefix = ["ip", "netns", "exec", netns] if netns else []
    values = {}
    for key in SYSCTLS:
        path = "/proc/sys/" + key.replace(".", "/")
        values[key] = subprocess.run(prefix + ["cat", path], check=True, capture_output=True,
                                     text=True).stdout.strip()
    return values


def namespace(netns):
    return {
        "link": ip(netns, "-d", "link", "show"),
        "addr": ip(netns, "addr", "show"),
        "route": [r for family in ("-4", "-6") for r in ip(netns, family, "route", "show", "table", "all")
                  if r.get("table") != "local"],
        "sysctl": sysctls(netns),
    }


def main():
    names = sorted(entry["name"] for entry in ip(None, "netns", "list"))
    state = {"netns": names, "host": namespace(None)}
    for name in names:
        state[name] = namespace(name)
    json.dump(state, sys.stdout)


if __name__ == "__main__":
    main()
