"""The connection guard on a host laid out like a KVM host: eth0 in a bridge br0 that
carries the address Ansible connects to, a default route to the LAN's router, and a
controller that is either on the LAN or behind the router.

Layout (issue 11): h1's eth0 is cabled to a lan switch sandbox; h1 moves the address
10.9.0.1/24 from eth0 to br0 and enslaves eth0 to it, default route via 10.9.0.254. The
namespace ``outside`` on the lan has 10.9.0.254/24 (the router, an on-link controller) and
10.8.0.254/24 (an off-link controller, reached through the default route). Reachability is
a real TCP connection from ``outside`` to a listener on 10.9.0.1 in h1, from either address.
"""

from __future__ import annotations

import os
import sys
import time

import pytest

from helpers import task

from sandbox import wire  # noqa: E402  pylint: disable=wrong-import-order

ADDRESS = "10.9.0.1"
ON_LINK = "10.9.0.254"
OFF_LINK = "10.8.0.254"
KVM_LAYOUT = ("ip addr flush dev eth0; ip link add br0 type bridge; ip link set eth0 master br0; "
              f"ip addr add {ADDRESS}/24 dev br0; ip link set br0 up; ip route replace default via {ON_LINK}; "
              "ip link add v-net-0 type bridge")

# A listener in h1 and a client in the lan's "outside" namespace bound to a chosen source:
# exit 0 when the echo came back.
_SERVER = r"""
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen(4); srv.settimeout(float(sys.argv[3]))
try:
    while True:
        conn, unused = srv.accept()
        conn.sendall(conn.recv(64)); conn.close()
except OSError:
    pass
"""
_CLIENT = r"""
import socket, sys
sock = socket.socket(); sock.settimeout(2)
sock.bind((sys.argv[1], 0)); sock.connect((sys.argv[2], int(sys.argv[3])))
sock.sendall(b"ping"); sys.exit(0 if sock.recv(64) == b"ping" else 3)
"""


class Layout:
    def __init__(self, h1, lan):
        self.h1, self.lan = h1, lan
        self._port = 7000
        self.server = os.path.join(h1.dir, "server.py")
        self.client = os.path.join(lan.dir, "client.py")
        for path, text in ((self.server, _SERVER), (self.client, _CLIENT)):
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)

    def reachable(self, source):
        """True when ``source`` (in outside) reaches a TCP listener on 10.9.0.1 in h1."""
        self._port += 1
        self.h1.run(f"setsid {sys.executable} {self.server} {ADDRESS} {self._port} 8 </dev/null >/dev/null 2>&1 &")
        for unused in range(30):
            proc = self.lan.run(["ip", "netns", "exec", "outside", sys.executable, self.client, source, ADDRESS,
                                 str(self._port)], check=False)
            if proc.returncode == 0:
                return True
            if "Connection refused" not in proc.stderr:
                return False
            time.sleep(0.1)
        return False

    def play(self, tasks, ssh_from=None, **kwargs):
        """Tasks with ansible_host 10.9.0.1; ssh_from: the controller address sshd would put in
        SSH_CONNECTION (None: a connection that does not tell, like become dropping it)."""
        env = {"SSH_CONNECTION": f"{ssh_from} 40000 {ADDRESS} 22"} if ssh_from else {}
        tasks = [dict(t, environment=env) if env else t for t in tasks]
        variables = dict({"ansible_host": ADDRESS}, **kwargs.pop("vars", {}))
        return self.h1.play(tasks, vars=variables, **kwargs)


@pytest.fixture
def kvm(make_host):
    lan, h1 = make_host("lan"), make_host("h1")
    wire(lan, h1, [f"{ADDRESS}/24"])
    wire(lan, None, [f"{ON_LINK}/24", f"{OFF_LINK}/24"], netns="outside")
    h1.run(KVM_LAYOUT)
    layout = Layout(h1, lan)
    assert layout.reachable(ON_LINK) and layout.reachable(OFF_LINK)
    return layout


CUTTING_TASKS = {
    "enslave a port of the connection's bridge": task("bridge_port", {"bridge": "v-net-0", "port": "eth0"}),
    "release a port of the connection's bridge": task("bridge_port", {"bridge": "br0", "port": "eth0",
                                                                      "state": "absent"}),
    "re-address the connection's bridge": task("bridge", {"name": "br0", "addresses": ["192.168.15.5/24"]}),
    "take the connection's bridge down": task("bridge", {"name": "br0", "up": False}),
    "change the MTU of the connection's bridge": task("bridge", {"name": "br0", "mtu": 1400}),
    "remove the connection's address": task("netns_address", {"interface": "br0", "state": "absent",
                                                              "addresses": [f"{ADDRESS}/24"]}),
    "delete the default route": task("netns_route", {"dst": "default", "state": "absent"}),
    "replace the default route": task("netns_route", {"dst": "default", "dev": "v-net-0"}),
    "a topology that re-addresses br0": task("netns_topology", {"topology": {
        "bridges": [{"name": "br0", "addresses": ["192.168.15.5/24"]}]}}),
    "a topology that deletes the default route": task("netns_topology", {"topology": {
        "routes": [{"dst": "default", "state": "absent"}]}}),
}


@pytest.mark.parametrize("ssh_from", [None, OFF_LINK])
def test_changes_that_cut_the_connection_are_refused(kvm, ssh_from):
    names = list(CUTTING_TASKS)
    play = kvm.play([dict(CUTTING_TASKS[name], name=name, ignore_errors=True) for name in names], ssh_from=ssh_from)
    by_name = {r["task"]: r for r in play.results}
    for name in names:
        result = by_name[name]
        assert result["failed"], (name, result)
        assert "refusing to" in result["msg"] and "force: true" in result["msg"], (name, result["msg"])
        assert "Traceback" not in str(result.get("exception", "")), result
    assert kvm.reachable(ON_LINK) and kvm.reachable(OFF_LINK)
    assert kvm.h1.ip("link show eth0")[0]["master"] == "br0"
    assert [a["local"] for a in kvm.h1.ip("-4 addr show br0")[0]["addr_info"]] == [ADDRESS]


def test_the_refusals_name_the_path(kvm):
    play = kvm.play([dict(CUTTING_TASKS[name], name=name, ignore_errors=True) for name in
                     ("enslave a port of the connection's bridge", "delete the default route")], ssh_from=OFF_LINK)
    enslave, route = play.results
    assert "refusing to enslave 'eth0'" in enslave["msg"]
    assert "port of bridge 'br0'" in enslave["msg"] and ADDRESS in enslave["msg"]
    assert "refusing to delete route default" in route["msg"] and OFF_LINK in route["msg"]


def test_an_on_link_controller_lets_the_default_route_go(kvm):
    play = kvm.play([task("netns_route", {"dst": "default", "state": "absent"})], ssh_from=ON_LINK)
    assert play.results[0]["changed"], play.output
    assert kvm.h1.ip("route show default") == []
    assert kvm.reachable(ON_LINK) and not kvm.reachable(OFF_LINK)


def test_force_does_it_anyway(kvm):
    play = kvm.play([task("bridge_port", {"bridge": "br0", "port": "eth0", "state": "absent", "force": True})])
    assert play.results[0]["changed"], play.output
    assert "master" not in kvm.h1.ip("link show eth0")[0]
    assert not kvm.reachable(ON_LINK)


def test_a_host_name_is_resolved_on_the_controller(kvm):
    kvm.h1.run("echo '10.9.0.1 h1.example' >> /etc/hosts")
    play = kvm.play([task("bridge_port", {"bridge": "v-net-0", "port": "eth0"}, ignore_errors=True)],
                    vars={"ansible_host": "h1.example"})
    result = play.results[0]
    assert result["failed"] and "refusing to enslave 'eth0'" in result["msg"], result
    assert kvm.reachable(ON_LINK)


def test_an_address_not_on_the_host_protects_the_default_route_and_the_addresses(kvm):
    """ansible_host behind NAT (not an address of h1): the guard falls back to the interfaces of
    the default route and of the host's addresses, and still lets the collection's own bridge be."""
    play = kvm.play([task("bridge_port", {"bridge": "v-net-0", "port": "eth0"}, "enslave", ignore_errors=True),
                     task("bridge", {"name": "br0", "addresses": ["192.168.15.5/24"]}, "re-address",
                          ignore_errors=True),
                     task("bridge", {"name": "v-net-1", "addresses": ["192.168.16.1/24"]}, "own bridge"),
                     task("bridge", {"name": "v-net-1", "addresses": ["192.168.16.2/24"]}, "own bridge again")],
                    vars={"ansible_host": "203.0.113.7"})
    by_name = {r["task"]: r for r in play.results}
    assert by_name["enslave"]["failed"] and "refusing to enslave 'eth0'" in by_name["enslave"]["msg"]
    assert by_name["re-address"]["failed"] and "refusing to" in by_name["re-address"]["msg"]
    assert by_name["own bridge again"]["changed"] and not by_name["own bridge again"]["failed"]
    assert kvm.reachable(ON_LINK) and kvm.reachable(OFF_LINK)


def test_a_route_that_would_divert_the_controller_is_refused(kvm):
    play = kvm.play([task("netns_route", {"dst": "10.8.0.0/16", "dev": "v-net-0"}, ignore_errors=True)],
                    ssh_from=OFF_LINK)
    result = play.results[0]
    assert result["failed"] and "10.8.0.254" in result["msg"], result
    assert kvm.reachable(OFF_LINK)
