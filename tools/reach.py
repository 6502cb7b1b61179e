"""Print who reaches whom: TCP handshakes between network namespaces.

Run it inside a sandbox host. Each endpoint is NAME=NETNS:ADDRESS (NETNS '-' is the
sandbox's own namespace). A listening socket is opened on every endpoint, then every
endpoint connects to every other one; a completed handshake means "reaches".
Sockets are made inside the namespaces with setns(2), all in this one process.

    reach.py red=red:192.168.15.1 blue=blue:192.168.15.2 host=-:192.168.15.5
"""

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


def reaches(src_netns, address, timeout=1.0):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = make_socket(src_netns, family)
    sock.settimeout(timeout)
    try:
        sock.connect((address, PORT))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def main(argv):
    endpoints = [parse(arg) for arg in argv]
    listeners = []
    for unused, netns, address in endpoints:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = make_socket(netns, family)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, PORT))
        sock.listen(64)
        listeners.append(sock)
    names = [endpoint[0] for endpoint in endpoints]
    width = max(len(name) for name in names) + 2
    first = max(width, len("from \\ to") + 2)
    print("from \\ to".ljust(first) + "".join(name.ljust(width) for name in names))
    for src, src_netns, unused in endpoints:
        row = ["-" if dst == src else "yes" if reaches(src_netns, address) else "no"
               for dst, unused, address in endpoints]
        print(src.ljust(first) + "".join(cell.ljust(width) for cell in row))
    for sock in listeners:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
