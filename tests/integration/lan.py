"""The NAT test topology inside a sandbox host, a traffic probe that reports who answered
whom, and readers of the nftables state.

Topology (built with plain ``ip`` commands inside the sandbox, quicker than plays):

- ``red`` (192.168.15.1/24, fd15::1/64 on veth-red) and ``blue`` (192.168.15.2/24,
  fd15::2/64 on veth-blue) on the bridge ``v-net-0`` of the sandbox's own namespace
  (192.168.15.5/24, fd15::5/64), default routes (v4 and v6) via the bridge;
- ``outside`` stands for the LAN: the veth ``eth0`` in the sandbox's own namespace
  (10.0.0.1/24, 10.0.0.2/24, fd10::1/64) whose peer ``lan0`` is in ``outside``
  (10.0.0.100/24, fd10::100/64); ``outside`` has no route to 192.168.15.0/24 or fd15::/64.

IPv6 addresses are added with ``nodad`` (usable at once). Forwarding starts off
(ip_forward=0, ipv6 forwarding=0) in the sandbox's own namespace, so the modules' own
``forwarding`` is what turns it on. ``net.bridge.bridge-nf-call-iptables`` (and
``-ip6tables``) are set to ``bridge_nf``.
"""

from __future__ import annotations

import json
import sys

TOPOLOGY = r"""
set -eu
ip netns add red
ip netns add blue
ip netns add outside
ip link add v-net-0 type bridge
ip addr add 192.168.15.5/24 dev v-net-0
ip addr add fd15::5/64 dev v-net-0 nodad
ip link set v-net-0 up
i=1
for ns in red blue; do
    ip link add "veth-$ns-br" type veth peer name "veth-$ns" netns "$ns"
    ip link set "veth-$ns-br" master v-net-0 up
    ip -n "$ns" addr add "192.168.15.$i/24" dev "veth-$ns"
    ip -n "$ns" addr add "fd15::$i/64" dev "veth-$ns" nodad
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "veth-$ns" up
    ip -n "$ns" route add default via 192.168.15.5
    ip -n "$ns" -6 route add default via fd15::5
    i=$((i + 1))
done
ip link add eth0 type veth peer name lan0 netns outside
ip addr add 10.0.0.1/24 dev eth0
ip addr add 10.0.0.2/24 dev eth0
ip addr add fd10::1/64 dev eth0 nodad
ip link set eth0 up
ip -n outside addr add 10.0.0.100/24 dev lan0
ip -n outside addr add fd10::100/64 dev lan0 nodad
ip -n outside link set lo up
ip -n outside link set lan0 up
sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
sysctl -qw net.bridge.bridge-nf-call-iptables={nf} net.bridge.bridge-nf-call-ip6tables={nf}
"""


def build(host, bridge_nf=1):
    """Build the topology inside host (see the module docstring)."""
    host.run(TOPOLOGY.replace("{nf}", str(int(bridge_nf))))
    values = host.run("cat /proc/sys/net/bridge/bridge-nf-call-iptables /proc/sys/net/bridge/bridge-nf-call-ip6tables")
    assert values.stdout.split() == [str(int(bridge_nf))] * 2, values.stdout


# One python process inside the sandbox: for each check a server socket is made in the
# server's namespace (setns of the creating thread; sockets stay in the namespace they were
# made in), then a client in the client's namespace connects (retrying until the check's
# deadline), sends a token and reads the answer: JSON {"server": label, "peer": address
# the server saw}. A failed check gives {"error": ...}. Prints a JSON list, one per check.
_PROBE = r"""
import ctypes, json, os, socket, sys, threading, time

LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
HOME = os.open("/proc/self/ns/net", os.O_RDONLY)


def enter(netns):
    fd = os.open("/run/netns/" + netns, os.O_RDONLY) if netns else os.dup(HOME)
    try:
        if LIBC.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns %s: %s" % (netns, os.strerror(err)))
    finally:
        os.close(fd)


def make_socket(netns, family, kind):
    enter(netns)
    try:
        return socket.socket(family, kind)
    finally:
        enter(None)


def serve(sock, udp, label, stop):
    sock.settimeout(0.05)
    while not stop.is_set():
        try:
            if udp:
                unused, peer = sock.recvfrom(512)
                sock.sendto(json.dumps({"server": label, "peer": peer[0]}).encode(), peer)
            else:
                conn, peer = sock.accept()
                with conn:
                    conn.settimeout(1)
                    conn.recv(512)
                    conn.sendall(json.dumps({"server": label, "peer": peer[0]}).encode())
        except OSError:
            continue


def client(netns, family, udp, addr, port, deadline, bind_port):
    error = "no attempt"
    while True:
        sock = make_socket(netns, family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        try:
            if bind_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", bind_port))
            sock.settimeout(max(0.05, min(0.3 if udp else 0.5, deadline - time.monotonic())))
            sock.connect((addr, port))
            sock.send(b"ping")
            data = sock.recv(512)
            if data:
                return json.loads(data.decode())
            error = "empty answer"
        except (OSError, ValueError) as exc:
            error = "%s: %s" % (type(exc).__name__, exc)
        finally:
            sock.close()
        if time.monotonic() >= deadline:
            return {"error": error}
        time.sleep(0.05)


def run(check):
    family = socket.AF_INET6 if ":" in check["addr"] else socket.AF_INET
    udp = check["proto"] == "udp"
    server = make_socket(check["server"], family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    stop = threading.Event()
    thread = None
    try:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        listen = check["listen"] or ("::" if family == socket.AF_INET6 else "0.0.0.0")
        try:
            server.bind((listen, check["server_port"]))
            if not udp:
                server.listen(8)
        except OSError as exc:
            return {"error": "server %s [%s]:%s: %s" % (check["label"], listen, check["server_port"], exc)}
        thread = threading.Thread(target=serve, args=(server, udp, check["label"], stop), daemon=True)
        thread.start()
        deadline = time.monotonic() + check["timeout"]
        return client(check["client"], family, udp, check["addr"], check["port"], deadline, check["client_port"])
    finally:
        stop.set()
        if thread is not None:
            thread.join(2)
        server.close()


print(json.dumps([run(check) for check in json.loads(sys.argv[1])]))
"""


def check(client, addr, port, server, server_port=None, proto="tcp", listen=None, label=None, timeout=3.0,
          client_port=None):
    """One probe: a client in namespace client (None: the sandbox's own) sends to addr:port
    (from client_port if given: the same UDP flow across probes); a server listens in
    namespace server on server_port (default port), on listen (default: every address of the
    family of addr) and answers with its label (default: the server's namespace, "host" for
    the sandbox's own) and the peer address it saw."""
    return {"client": client or "", "addr": addr, "port": int(port), "server": server or "",
            "server_port": int(server_port or port), "proto": proto, "listen": listen,
            "label": label or server or "host", "timeout": float(timeout), "client_port": client_port}


def probe(host, checks):
    """Run the checks one after the other inside host; one answer dict per check."""
    proc = host.run([sys.executable, "-c", _PROBE, json.dumps(checks)], timeout=30 + sum(c["timeout"] + 3 for c in checks))
    return json.loads(proc.stdout)


def answer(server, peer):
    return {"server": server, "peer": peer}


# -- nftables ------------------------------------------------------------------------------

def nft_json(text):
    """The objects of ``nft -j list ...`` output as a list of {kind: data} dicts (no metainfo)."""
    return [obj for obj in json.loads(text)["nftables"] if "metainfo" not in obj]


def table(host, family="inet", name="netfabric"):
    """Chains (by name) and rules (list) of an nftables table read back with ``nft -j``,
    or None when the table does not exist."""
    proc = host.run(["nft", "-j", "list", "table", family, name], check=False)
    if proc.returncode != 0:
        return None
    return split(nft_json(proc.stdout), family, name)


def split(objects, family="inet", name="netfabric"):
    """(chains by name, rules) of one table in a list of nft JSON objects; None if absent."""
    if not any("table" in obj and obj["table"]["family"] == family and obj["table"]["name"] == name for obj in objects):
        return None
    chains = {obj["chain"]["name"]: obj["chain"] for obj in objects
              if "chain" in obj and obj["chain"]["family"] == family and obj["chain"]["table"] == name}
    rules = [obj["rule"] for obj in objects
             if "rule" in obj and obj["rule"]["family"] == family and obj["rule"]["table"] == name]
    return {"chains": chains, "rules": rules}


def rules_with(tbl, comment, chain=None):
    """The rules of a table() whose comment is comment (optionally only in chain)."""
    return [r for r in tbl["rules"] if r.get("comment") == comment and (chain is None or r["chain"] == chain)]


EXPECTED_CHAINS = {
    "prerouting": {"type": "nat", "hook": "prerouting", "prio": -100},
    "output": {"type": "nat", "hook": "output", "prio": -100},
    "postrouting": {"type": "nat", "hook": "postrouting", "prio": 100},
    "forward": {"type": "filter", "hook": "forward", "prio": 0, "policy": "accept"},
}


def assert_table_shape(tbl, identities):
    """The collection's table as the contract says: known base chains with their hooks and
    priorities, every rule commented with one of identities or with a 'helper' comment,
    and every identity present."""
    assert tbl is not None, "no table inet netfabric"
    for name, chain in tbl["chains"].items():
        if name in EXPECTED_CHAINS:
            for key, value in EXPECTED_CHAINS[name].items():
                assert chain.get(key) == value, (name, key, chain)
    if "forward" in tbl["chains"]:
        assert tbl["chains"]["forward"].get("policy") == "accept"
    comments = [r.get("comment") for r in tbl["rules"]]
    for comment in comments:
        assert comment and (comment in identities or comment.startswith("helper")), (comment, identities)
    for identity in identities:
        assert identity in comments, (identity, comments)


def rule_text(rule):
    """The rule's expressions as compact JSON, to look for keywords in assertions."""
    return json.dumps(rule.get("expr", []), sort_keys=True)
