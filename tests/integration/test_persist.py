"""Persistence: topologies and services that come back after a reboot and a firewall reload.

The hosts here are booted sandbox hosts (tools/sandbox.py, boot=True): systemd 252 of the
machine runs as their PID 1, in their own PID, mount, cgroup and network namespaces, on an
overlay of the machine's root file system whose upper layer is kept across reboot(). A
reboot throws away every process, the network namespace with its named namespaces, /run
and /tmp, and boots again: netfabric-restore.service and the netns_service units run for
real, in the order systemd gives them.
"""

from __future__ import annotations

import json
import sys

from conftest import VENV_PYTHON
from helpers import LIFECYCLE_CHANGES, changed_flags, lifecycle, task
from sandbox import wire  # tools/, on the path through conftest
from test_topology import WALKTHROUGH as BASE

ENGINE_DIR = "/var/lib/netfabric/engine"
UNIT = "/etc/systemd/system/netfabric-restore.service"
WANTS = "/etc/systemd/system/multi-user.target.wants/netfabric-restore.service"
DROPIN = "/etc/systemd/system/nftables.service.d/netfabric.conf"
LEFT_BEHIND = ("/etc/netfabric", UNIT, WANTS, "/etc/systemd/system/nftables.service.d",
               "/etc/systemd/system/docker.service.d", ENGINE_DIR)

HOST_ADDRESS, OUTSIDE = "10.10.0.11", "10.10.0.1"
RESOLV = {"nameservers": ["192.168.15.1"], "search": ["lab.test"]}
# the bridge walkthrough of test_topology, blue with its own name server and hosts
WALKTHROUGH = dict(BASE, namespaces=[{"name": "red"},
                                     {"name": "blue", "dns": RESOLV, "hosts": {"db.lab.test": "192.168.15.1"}}])

# A name server for *.lab.test in red (every A query gets DNS_ANSWER), and blue's web server,
# which answers with what it sees: its /etc/resolv.conf and two look-ups (svc through the
# search domain and red's name server, db.lab.test through its hosts file).
DNS_ANSWER = "10.99.0.7"
DNS_SERVER = r"""
import socket, struct, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], 53))
while True:
    data, peer = sock.recvfrom(512)
    i, labels = 12, []
    while i < len(data) and data[i]:
        labels.append(data[i + 1:i + 1 + data[i]].decode().lower())
        i += 1 + data[i]
    qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
    question, name = data[12:i + 5], ".".join(labels)
    ours = name.endswith(".lab.test")
    answers = 1 if ours and qtype == 1 else 0
    reply = struct.pack("!HHHHHH", struct.unpack("!H", data[:2])[0], 0x8180 | (0 if ours else 3), 1, answers, 0, 0)
    reply += question
    if answers:
        reply += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(sys.argv[2])
    sock.sendto(reply, peer)
"""
WEB_SERVER = r"""
import http.server, json, socket, sys

def lookup(name):
    try:
        return socket.gethostbyname(name)
    except OSError as exc:
        return "error: %s" % exc

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open("/etc/resolv.conf") as handle:
            resolv = handle.read()
        body = json.dumps({"resolv_conf": resolv, "svc": lookup("svc"), "db": lookup("db.lab.test"),
                           "peer": self.client_address[0]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
"""
FETCH = r"""
import sys, time, urllib.request
deadline = time.monotonic() + float(sys.argv[2])
while True:
    try:
        print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())
        break
    except OSError as exc:
        if time.monotonic() > deadline:
            print("FAILED %s" % exc)
            sys.exit(1)
        time.sleep(0.2)
"""
SERVICES = [
    {"name": "red-dns", "netns": "red", "command": ["/usr/bin/python3", "/srv/netfabric-test/dns.py",
                                                    "192.168.15.1", DNS_ANSWER]},
    {"name": "blue-web", "netns": "blue", "command": "/usr/bin/python3 /srv/netfabric-test/web.py 192.168.15.2 80",
     "working_directory": "/srv/netfabric-test"},
]


def exists(host, path):
    return host.run(["test", "-e", path], check=False).returncode == 0 or \
        host.run(["test", "-L", path], check=False).returncode == 0


def left_behind(host):
    return [path for path in LEFT_BEHIND if exists(host, path)]


def verify(host, *paths):
    """systemd-analyze verify on units (by path) or unit names (with their drop-ins)."""
    proc = host.run(["systemd-analyze", "verify", *paths], check=False)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def unit_property(host, unit, name):
    return host.run(["systemctl", "show", f"--property={name}", "--value", unit]).stdout.strip()


def small_topology(name="t"):
    return {"namespaces": [{"name": f"{name}-ns"}],
            "veths": [{"name": "eth0", "netns": f"{name}-ns", "addresses": ["10.77.0.2/24"], "peer": f"{name}-veth",
                       "peer_addresses": ["10.77.0.1/24"]}],
            "port_forwards": [{"port": 8081, "destination": "10.77.0.2", "destination_port": 80}]}


def test_persist_four_runs_and_absent_leaves_nothing(make_host):
    host = make_host(boot=True)
    args = {"name": "t", "topology": small_topology(), "persist": True}
    play = host.play(lifecycle("netns_topology", args))
    assert play.rc == 0, play.output
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    by_name = {r["task"]: r for r in play.results}
    check, real = by_name["check"], by_name["real"]
    persist_steps = [a for a in real["actions"] if a.startswith("persist: ")]
    assert [a for a in check["actions"] if a.startswith("persist: ")] == persist_steps
    assert any(a.startswith(f"persist: write {UNIT}") for a in persist_steps), persist_steps
    assert persist_steps[-1] == "persist: systemctl daemon-reload"
    assert real["stored_topology"] == "/etc/netfabric/topology-t.json"
    assert by_name["check again"]["actions"] == [] and by_name["real again"]["actions"] == []
    assert by_name["absent"]["stored_topology"] is None
    assert any(a == "persist: remove /etc/netfabric/topology-t.json" for a in by_name["absent"]["actions"])
    assert left_behind(host) == []
    assert host.run("systemctl list-units --all --plain --no-legend 'netfabric*'").stdout.strip() == ""
    assert "netfabric" not in host.run("systemctl cat nftables.service").stdout


def test_persisted_files_their_modes_and_systemd_analyze_verify(make_host):
    host = make_host(boot=True)
    play = host.play([task("netns_topology", {"name": "t", "topology": small_topology(), "persist": True})])
    assert play.rc == 0, play.output
    stat = host.run("stat -c '%a %U %n' /etc/netfabric /etc/netfabric/topology-t.json").stdout.split("\n")
    assert stat[:2] == ["700 root /etc/netfabric", "600 root /etc/netfabric/topology-t.json"]
    stored = json.loads(host.run("cat /etc/netfabric/topology-t.json").stdout)
    assert stored["topology"] == small_topology() and stored["name"] == "t" and stored["force"] is False
    assert host.run(["readlink", WANTS]).stdout.strip() == UNIT
    unit = host.run(["cat", UNIT]).stdout
    engine = [line for line in unit.splitlines() if line.startswith("ExecStart=")][0].split()
    assert engine[0] == "ExecStart=" + VENV_PYTHON  # the Python that ran the module
    assert engine[1] == "-I" and engine[2].startswith(ENGINE_DIR + "/0.2.0-") and engine[3] == "boot"
    assert "Before=network-online.target" in unit and "nftables.service" in unit
    rc, out = verify(host, UNIT)
    assert rc == 0 and "netfabric" not in out, out
    rc, out = verify(host, "nftables.service")  # with the drop-in
    assert rc == 0 and "netfabric" not in out, out
    assert DROPIN in host.run("systemctl cat nftables.service").stdout
    # the restore needs no Ansible: every ansible module it imports comes from the shipped engine
    restore = host.run([engine[0][len("ExecStart="):], "-I", engine[2], "firewall"], check=False)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert "came from elsewhere" not in restore.stdout


def test_persist_false_and_several_topologies(host):
    """Without systemd running (a plain sandbox host) the files are written all the same; the
    unit and the engine stay while any topology is stored."""
    plays = [task("netns_topology", {"name": "a", "topology": small_topology("a"), "persist": True}, "store a"),
             task("netns_topology", {"name": "b", "topology": {"namespaces": [{"name": "b-ns"}]}, "persist": True},
                  "store b"),
             task("netns_topology", {"name": "a", "topology": small_topology("a")}, "forget a")]
    play = host.play(plays)
    assert play.rc == 0, play.output
    forget = play.task("forget a")
    assert forget["changed"] and forget["stored_topology"] is None
    assert forget["actions"] == ["persist: remove /etc/netfabric/topology-a.json"]
    assert host.netns_names() == ["a-ns", "b-ns"]  # persist: false forgets, it does not tear down
    assert left_behind(host) == ["/etc/netfabric", UNIT, WANTS, "/etc/systemd/system/nftables.service.d",
                                 "/etc/systemd/system/docker.service.d", ENGINE_DIR]
    play = host.play([task("netns_topology", {"name": "b", "state": "absent"})])
    assert play.rc == 0, play.output
    assert left_behind(host) == []
    assert host.netns_names() == ["a-ns"]


def cable(lan):
    def before_boot(host):
        wire(lan, host, [f"{HOST_ADDRESS}/24"], gateway=OUTSIDE)
    return before_boot


def fetch(lan, timeout=20):
    """GET the host's port 8080 from the outside world; the parsed answer, or None."""
    proc = lan.run(["ip", "netns", "exec", "outside", sys.executable, "-c", FETCH, f"http://{HOST_ADDRESS}:8080/",
                    timeout], check=False, timeout=timeout + 30)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def facts(host):
    play = host.play([task("netns_info", {}, "info", register="info")])
    assert play.rc == 0, play.output
    info = play.task("info")["result"]
    view = {"namespaces": info["namespaces"]}
    for name, ns in [("host", info["host"])] + sorted(info["netns"].items()):
        view[name] = {
            "links": sorted((lk["name"], lk["kind"], lk["master"], lk["state"], tuple(lk["addresses"]), lk.get("peer"),
                             lk.get("peer_netns")) for lk in ns["links"]),
            "routes": sorted(json.dumps(route, sort_keys=True) for route in ns["routes"]),
            "rules": sorted(json.dumps(rule, sort_keys=True) for rule in ns["rules"]),
        }
    return view


def monotonic(host, unit, name):
    return int(unit_property(host, unit, name) or 0)


def test_reboot_brings_back_topology_services_and_survives_nftables_reload(make_host):
    lan = make_host("lan")
    wire(lan, None, [f"{OUTSIDE}/24"], netns="outside")
    host = make_host("host", boot=True, before_boot=cable(lan))
    # a Debian host with its firewall on: nftables.service loads /etc/nftables.conf (flush ruleset first)
    host.run("systemctl enable --now nftables.service")
    for name, text in (("dns.py", DNS_SERVER), ("web.py", WEB_SERVER)):
        host.run(["/bin/sh", "-c", f"mkdir -p /srv/netfabric-test && cat > /srv/netfabric-test/{name}"], input=text)
    play = host.play([
        {"name": "topology role", "ansible.builtin.include_role": {"name": "netfabric.netns.topology"},
         "vars": {"netns_topology": WALKTHROUGH, "netns_topology_name": "walkthrough"}},
        *[task("netns_service", service, f"service {service['name']}") for service in SERVICES],
    ])
    assert play.rc == 0, play.output
    assert play.task("Converge the namespace topology")["stored_topology"] == "/etc/netfabric/topology-walkthrough.json"
    served = fetch(lan)
    assert served and served["svc"] == DNS_ANSWER and served["db"] == "192.168.15.1", served
    before = facts(host)

    host.reboot(before_boot=cable(lan))

    assert unit_property(host, "netfabric-restore.service", "ActiveState") == "active"
    assert unit_property(host, "netfabric-restore.service", "Result") == "success"
    # in systemd's order: the firewall, then the restore, then the services
    assert monotonic(host, "nftables.service", "ActiveEnterTimestampMonotonic") <= \
        monotonic(host, "netfabric-restore.service", "InactiveExitTimestampMonotonic")
    for service in SERVICES:
        unit = f"netfabric-svc-{service['name']}.service"
        assert unit_property(host, unit, "ActiveState") == "active", host.run(
            ["systemctl", "status", "--no-pager", unit], check=False).stdout
        assert monotonic(host, "netfabric-restore.service", "ActiveEnterTimestampMonotonic") <= \
            monotonic(host, unit, "ExecMainStartTimestampMonotonic")
    journal = host.run("journalctl -b -u netfabric-restore.service -o cat --no-pager").stdout
    assert "topology 'walkthrough': " in journal and "namespace 'blue': create" in journal, journal
    assert facts(host) == before

    probes = host.play([
        task("netns_probe", {"netns": "red", "target": "192.168.15.2", "protocol": "tcp", "port": 80}, "red to web"),
        task("netns_probe", {"netns": "blue", "target": OUTSIDE, "protocol": "icmp"}, "blue to outside (NAT)"),
        task("netns_probe", {"netns": "red", "target": "192.168.15.2", "protocol": "udp", "port": 53,
                             "expect": "failure"}, "nothing on blue's 53"),
    ])
    assert probes.rc == 0, probes.output
    served = fetch(lan)
    assert served is not None, "the web service does not answer through the port forward after the reboot"
    assert served["resolv_conf"] == host.run("cat /etc/netns/blue/resolv.conf").stdout
    assert "nameserver 192.168.15.1" in served["resolv_conf"] and "search lab.test" in served["resolv_conf"]
    assert served["svc"] == DNS_ANSWER and served["db"] == "192.168.15.1", served
    assert served["peer"] == OUTSIDE  # a DNAT, no masquerade on the way in

    # the firewall reloads: its ExecReload loads Debian's /etc/nftables.conf ("flush ruleset") ...
    assert host.run("head -3 /etc/nftables.conf").stdout.splitlines()[-1] == "flush ruleset"
    host.run("systemctl reload nftables.service")
    tables = host.run("nft list tables").stdout.split("\n")
    assert "table inet filter" in tables and "table inet netfabric" in tables, tables
    assert fetch(lan) is not None, "the port forward is gone after systemctl reload nftables"
    nat = host.play([task("netns_probe", {"netns": "blue", "target": OUTSIDE, "protocol": "icmp"}, "NAT")])
    assert nat.rc == 0, nat.output
    # ... which by hand (not through systemd) takes the table away, as it did before this feature
    host.run("nft -f /etc/nftables.conf")
    assert "table inet netfabric" not in host.run("nft list tables").stdout
    assert fetch(lan, timeout=2) is None
    host.run("systemctl restart nftables.service")
    assert "table inet netfabric" in host.run("nft list tables").stdout
    assert fetch(lan) is not None, "the port forward is gone after systemctl restart nftables"
