"""Print who reaches whom: TCP handshakes between network namespaces.

Run it inside a sandbox host. Each endpoint is NAME=NETNS:ADDRESS (NETNS '-' is the
sandbox's own namespace). A listening socket is opened on every endpoint, then every
endpoint connects to every other one; a completed handshake means "reaches". When the
server sees another source address than the client's own (NAT), the cell says so:
"yes (as 10.0.0.1)". Sockets are made inside the namespaces with setns(2), all in
this one process.

    reach.py red=red:192.168.15.1 blue=blue:192.168.15.2 host=-:192.168.15.5

A port forward is checked with --forward CLIENT ADDRESS:PORT SERVER, where CLIENT and
SERVER are endpoint names: a listener on SERVER's address and on PORT's destination
port (--to-port, default the same) must accept the connection made to ADDRESS:PORT.

    reach.py ... --forward outside 10.0.0.1:8080 blue --to-port 80
"""

import argparse
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000
PORT = 7
LIBC = ctypes.CDLL(None, use_errno=True)


def make_socket(netns, family):
    """A TCP socket created inside ``netns`` (None: this namespace)."""
    if netns is None:
        return socket.socket(family, socket.SOCK_STREAM)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if LIBC.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {netns}")
        return socket.socket(family, socket.SOCK_STREAM)
    finally:
        LIBC.setns(home, CLONE_NEWNET)
        os.close(target)
        os.close(home)


def parse(arg):
    name, unused, where = arg.partition("=")
    netns, unused, address = where.partition(":")  # the address may be IPv6 and hold more colons
    return name, (None if netns in ("-", "") else netns), address


def family_of(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def listen(netns, address, port):
    sock = make_socket(netns, family_of(address))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(64)
    sock.settimeout(1.0)
    return sock


def connect(src_netns, src_address, address, port, listener, timeout=1.0):
    """The source address the listener saw, or None when there was no handshake.
    The client is bound to its endpoint's address, so that two endpoints in one
    namespace are told apart."""
    sock = make_socket(src_netns, family_of(address))
    sock.settimeout(timeout)
    try:
        sock.bind((src_address, 0))
        sock.connect((address, port))
        conn, peer = listener.accept()
        conn.close()
        return peer[0]
    except OSError:
        return None
    finally:
        sock.close()


def cell(seen, own_address):
    if seen is None:
        return "no"
    return "yes" if seen == own_address else f"yes (as {seen})"


def main(argv):
    parser = argparse.ArgumentParser(description="who reaches whom")
    parser.add_argument("endpoints", nargs="+", metavar="NAME=NETNS:ADDRESS")
    parser.add_argument("--forward", nargs=3, action="append", default=[], metavar=("CLIENT", "ADDRESS:PORT", "SERVER"))
    parser.add_argument("--to-port", type=int, action="append", default=[], help="destination port of each --forward")
    args = parser.parse_args(argv)
    endpoints = [parse(arg) for arg in args.endpoints]
    by_name = {name: (netns, address) for name, netns, address in endpoints}
    listeners = {name: listen(netns, address, PORT) for name, netns, address in endpoints}
    names = [endpoint[0] for endpoint in endpoints]
    width = max(len(name) for name in names) + 2
    rows = []
    for src, src_netns, src_address in endpoints:
        row = [src]
        for dst, unused, address in endpoints:
            row.append("-" if dst == src else cell(connect(src_netns, src_address, address, PORT, listeners[dst]),
                                                   src_address))
        rows.append(row)
    width = max([width] + [len(c) + 2 for row in rows for c in row[1:]])
    first = max(len(name) for name in names + ["from \\ to"]) + 2
    print("from \\ to".ljust(first) + "".join(name.ljust(width) for name in names))
    for row in rows:
        print(row[0].ljust(first) + "".join(c.ljust(width) for c in row[1:]))
    for sock in listeners.values():
        sock.close()
    for i, (client, target, server) in enumerate(args.forward):
        address, unused, port = target.rpartition(":")
        to_port = args.to_port[i] if i < len(args.to_port) else int(port)
        server_netns, server_address = by_name[server]
        client_netns, client_address = by_name[client]
        listener = listen(server_netns, server_address, to_port)
        seen = connect(client_netns, client_address, address.strip("[]"), int(port), listener)
        listener.close()
        print(f"{client} -> {target} reaches {server}:{to_port}: {cell(seen, client_address)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
