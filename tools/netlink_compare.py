"""How netlink messages travel: pyroute2's IPRoute against rtnl.Rtnl (issue 12's measured choice).

Both send the same pyroute2 messages; IPRoute through its synchronous API (an asyncio
event loop under it), Rtnl over a plain socket with pyroute2's marshal. In a fresh sandbox
host (never the machine's own namespace) it makes LINKS veth pairs, then times for each:
REQUESTS link changes by name (up/down in turn), DUMPS link dumps, and DUMPS address
dumps, the engine's fields read from each message (rtnl.link_fields, address_fields) in
both cases, and prints wall and CPU time per operation.

Usage (as root, after ``make venv install``)::

    .venv/bin/python tools/netlink_compare.py [--links 200] [--requests 2000] [--dumps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
VENV_PYTHON = os.path.join(REPO, ".venv", "bin", "python")
COLLECTIONS = os.path.join(REPO, ".collections")

INSIDE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
links, requests, dumps = (int(x) for x in sys.argv[2:5])
from pyroute2 import IPRoute
from ansible_collections.netfabric.netns.plugins.module_utils.rtnl import Rtnl, address_fields, link_fields

def timed(func, count):
    wall, cpu = time.perf_counter(), time.process_time()
    func(count)
    return {"wall_us": (time.perf_counter() - wall) / count * 1e6, "cpu_us": (time.process_time() - cpu) / count * 1e6}

ipr = IPRoute()
for i in range(links):
    ipr.link("add", ifname=f"a{i}", kind="veth", peer={"ifname": f"b{i}"})
rtnl = Rtnl()
report = {}
for name, changes, link_dump, addr_dump in (
        ("IPRoute (sync API)",
         lambda n: [ipr.link("set", ifname=f"a{i % links}", state="up" if i % 2 else "down") for i in range(n)],
         lambda n: [[link_fields(m) for m in ipr.link("dump", ext_mask=8)] for unused in range(n)],
         lambda n: [[address_fields(m) for m in ipr.get_addr()] for unused in range(n)]),
        ("rtnl.Rtnl (own loop, pyroute2 marshal)",
         lambda n: [rtnl.link_set(f"a{i % links}", up=bool(i % 2)) for i in range(n)],
         lambda n: [rtnl.links() for unused in range(n)],
         lambda n: [rtnl.addrs() for unused in range(n)])):
    report[name] = {"link change": timed(changes, requests), f"link dump ({2 * links + 1} links)": timed(link_dump, dumps),
                    "address dump": timed(addr_dump, dumps)}
print(json.dumps(report))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--links", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--dumps", type=int, default=20)
    args = parser.parse_args(argv)
    sys.path.insert(0, HERE)
    from sandbox import SandboxHost  # pylint: disable=import-outside-toplevel

    host = SandboxHost("netlink-compare", os.path.join(REPO, ".build", "bench", "sandboxes"))
    host.start()
    try:
        path = os.path.join(host.dir, "inside.py")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(INSIDE)
        out = host.run([VENV_PYTHON, path, COLLECTIONS, str(args.links), str(args.requests), str(args.dumps)])
        report = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        host.stop()
    print(f"{'operation':28} " + "  ".join(f"{name[:38]:>38}" for name in report))
    for operation in next(iter(report.values())):
        cells = [f"{r[operation]['wall_us']:9.0f} us wall {r[operation]['cpu_us']:9.0f} us cpu" for r in report.values()]
        print(f"{operation:28} " + "  ".join(f"{cell:>38}" for cell in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
