"""nat_masquerade and port_forward: real packets through the sandbox host's NAT, rules read
back from nftables, four-run idempotency with check and diff mode, foreign rules left
alone, bad inputs, and the warning about another table's drop policy.

Topology (tests/integration/lan.py): red and blue on the bridge v-net-0 (192.168.15.0/24,
fd15::/64) of the sandbox's own namespace, and "outside" (10.0.0.100, fd10::100) behind
its eth0 (10.0.0.1, 10.0.0.2, fd10::1) with no route back to the bridge's subnet. Every
traffic test runs with net.bridge.bridge-nf-call-iptables (and -ip6tables) at 1 and at 0.
"""

from __future__ import annotations

import json

import pytest

import lan
from helpers import LIFECYCLE_CHANGES, changed_flags, lifecycle, probe, snapshots, task

BRIDGE_NF = pytest.mark.parametrize("bridge_nf", [1, 0], ids=["bridge-nf-1", "bridge-nf-0"])

MASQ4 = {"source": "192.168.15.0/24"}
MASQ6 = {"source": "fd15::/64"}
MASQ4_ID = "masquerade 192.168.15.0/24 out *"
MASQ6_ID = "masquerade fd15::/64 out *"

FWD_TCP = {"port": 8080, "destination": "192.168.15.2", "destination_port": 80}
FWD_UDP = {"protocol": "udp", "port": 5353, "destination": "192.168.15.2", "destination_port": 53}
FWD_V6 = {"port": 8080, "host_address": "fd10::1", "destination": "fd15::2", "destination_port": 80}
FWD_RANGE = {"port": "8000-8010", "destination": "192.168.15.2"}
FWD_TCP_ID = "port_forward tcp * 8080"
FWD_UDP_ID = "port_forward udp * 5353"
FWD_V6_ID = "port_forward tcp fd10::1 8080"
FWD_RANGE_ID = "port_forward tcp * 8000-8010"

# `nft add table inet other; nft add chain inet other fwd '{ type filter hook forward priority 10; policy accept; }';
# nft add rule inet other fwd ip saddr 1.2.3.4 counter accept`, in JSON: nft 1.0.6's command
# line parser takes `fwd` for the keyword of the fwd statement and refuses it as a chain name.
FOREIGN_NFT = json.dumps({"nftables": [
    {"add": {"table": {"family": "inet", "name": "other"}}},
    {"add": {"chain": {"family": "inet", "table": "other", "name": "fwd", "type": "filter", "hook": "forward",
                       "prio": 10, "policy": "accept"}}},
    {"add": {"rule": {"family": "inet", "table": "other", "chain": "fwd", "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "1.2.3.4"}},
        {"counter": None}, {"accept": None}]}}},
]})
DOCKER_LIKE_DROP = ("nft add table ip filter && "
                    "nft add chain ip filter FORWARD '{ type filter hook forward priority 0; policy drop; }'")

SEP = "#####netfabric-test#####"
NFT_SNAPSHOT = f"nft list ruleset; echo '{SEP}'; nft -j list ruleset; echo '{SEP}'; nft list table inet other 2>&1 || true"


def add_foreign_table(host):
    host.run(["nft", "-j", "-f", "-"], input=FOREIGN_NFT)
    assert "ip saddr 1.2.3.4 counter packets 0 bytes 0 accept" in host.run("nft list table inet other").stdout


def stable(data):
    """Kernel state without what changes by itself over time (DAD flags, bridge timers)."""
    if isinstance(data, dict):
        return {key: stable(value) for key, value in data.items() if key != "tentative" and not key.endswith("_timer")}
    if isinstance(data, list):
        return [stable(item) for item in data]
    return data


def sysctl(host, key):
    return host.run(["cat", "/proc/sys/" + key.replace(".", "/")]).stdout.strip()


def nft_probe(label):
    """A task that records `nft list ruleset` (text and JSON) and `nft list table inet other`."""
    return {"name": f"nft {label}", "ansible.builtin.shell": NFT_SNAPSHOT, "changed_when": False}


def nft_snapshots(results):
    """By label: {"text": ruleset text, "objects": ruleset JSON objects, "other": table inet other text}."""
    found = {}
    for result in results:
        if result["task"].startswith("nft "):
            parts = [[]]
            for line in result["stdout"].split("\n"):
                if line == SEP:
                    parts.append([])
                else:
                    parts[-1].append(line)
            text, objects, other = ("\n".join(part) for part in parts)
            found[result["task"][len("nft "):]] = {"text": text, "objects": lan.nft_json(objects), "other": other}
    return found


def nft_lifecycle(module, args, absent=None):
    """helpers.lifecycle with an nft snapshot before the runs and after each kernel probe."""
    tasks = [nft_probe("before")]
    for item in lifecycle(module, args, absent):
        tasks.append(item)
        if item["name"].startswith("probe "):
            tasks.append(nft_probe(item["name"][len("probe "):]))
    return tasks


def diffs(result):
    diff = result.get("diff")
    return diff if isinstance(diff, list) else [diff] if diff else []


def probe_all(host, named_checks):
    """Run {name: lan.check(...)} in one probe; {name: answer}."""
    names = list(named_checks)
    return dict(zip(names, lan.probe(host, [named_checks[name] for name in names])))


def assert_answers(answers, expected):
    wrong = {name: (answers[name], want) for name, want in expected.items() if answers[name] != want}
    assert not wrong, "name: (got, expected): %r" % wrong


# -- traffic ----------------------------------------------------------------------------------

@BRIDGE_NF
def test_masquerade_traffic(host, bridge_nf):
    """blue and red reach outside as 10.0.0.1 / fd10::1; between themselves they keep their own addresses."""
    lan.build(host, bridge_nf)
    baseline = lan.probe(host, [lan.check("blue", "10.0.0.100", 9000, "outside", timeout=0.8)])
    assert "error" in baseline[0], "outside answered blue before any NAT: %r" % baseline
    play = host.play([task("nat_masquerade", MASQ4, "masquerade v4"), task("nat_masquerade", MASQ6, "masquerade v6")])
    assert play.rc == 0, play.output
    assert [r["changed"] for r in play.results] == [True, True]
    assert sysctl(host, "net.ipv4.ip_forward") == "1"
    assert sysctl(host, "net.ipv6.conf.all.forwarding") == "1"
    tbl = lan.table(host)
    lan.assert_table_shape(tbl, [MASQ4_ID, MASQ6_ID])
    for identity in (MASQ4_ID, MASQ6_ID):
        rules = lan.rules_with(tbl, identity, "postrouting")
        assert len(rules) == 1 and "masquerade" in lan.rule_text(rules[0]), tbl["rules"]
    answers = probe_all(host, {
        "blue->outside v4": lan.check("blue", "10.0.0.100", 9000, "outside"),
        "red->outside v4": lan.check("red", "10.0.0.100", 9000, "outside"),
        "blue->outside v6": lan.check("blue", "fd10::100", 9000, "outside"),
        "red->blue v4": lan.check("red", "192.168.15.2", 9001, "blue"),
        "blue->red v4": lan.check("blue", "192.168.15.1", 9001, "red"),
        "red->blue v6": lan.check("red", "fd15::2", 9001, "blue"),
        "blue->red v6": lan.check("blue", "fd15::1", 9001, "red"),
        "blue->host bridge address": lan.check("blue", "192.168.15.5", 9002, None),
    })
    assert_answers(answers, {
        "blue->outside v4": lan.answer("outside", "10.0.0.1"),
        "red->outside v4": lan.answer("outside", "10.0.0.1"),
        "blue->outside v6": lan.answer("outside", "fd10::1"),
        "red->blue v4": lan.answer("blue", "192.168.15.1"),
        "blue->red v4": lan.answer("red", "192.168.15.2"),
        "red->blue v6": lan.answer("blue", "fd15::1"),
        "blue->red v6": lan.answer("red", "fd15::2"),
        "blue->host bridge address": lan.answer("host", "192.168.15.2"),
    })


@BRIDGE_NF
def test_port_forward_traffic(host, bridge_nf):
    """TCP, UDP, IPv6 and a port range reach blue through the host's addresses: from outside,
    from the host itself and from red (hairpin); bridged and loopback traffic is not forwarded."""
    lan.build(host, bridge_nf)
    play = host.play([task("port_forward", FWD_TCP, "tcp"), task("port_forward", FWD_UDP, "udp"),
                      task("port_forward", FWD_V6, "v6"), task("port_forward", FWD_RANGE, "range")])
    assert play.rc == 0, play.output
    assert [r["changed"] for r in play.results] == [True, True, True, True]
    assert sysctl(host, "net.ipv4.ip_forward") == "1"
    tbl = lan.table(host)
    lan.assert_table_shape(tbl, [FWD_TCP_ID, FWD_UDP_ID, FWD_V6_ID, FWD_RANGE_ID])
    for identity in (FWD_TCP_ID, FWD_UDP_ID, FWD_V6_ID, FWD_RANGE_ID):
        rules = lan.rules_with(tbl, identity, "prerouting")
        assert len(rules) == 1, (identity, tbl["rules"])
        assert '"dnat"' in lan.rule_text(rules[0]) and '"fib"' in lan.rule_text(rules[0]), rules[0]
    answers = probe_all(host, {
        "outside->10.0.0.1:8080": lan.check("outside", "10.0.0.1", 8080, "blue", 80),
        "outside->10.0.0.2:8080": lan.check("outside", "10.0.0.2", 8080, "blue", 80),
        "host->10.0.0.1:8080": lan.check(None, "10.0.0.1", 8080, "blue", 80),
        "red->10.0.0.1:8080 (hairpin)": lan.check("red", "10.0.0.1", 8080, "blue", 80),
        "outside->10.0.0.1:5353/udp": lan.check("outside", "10.0.0.1", 5353, "blue", 53, proto="udp"),
        "outside->[fd10::1]:8080": lan.check("outside", "fd10::1", 8080, "blue", 80),
        "outside->10.0.0.1:8005 (range)": lan.check("outside", "10.0.0.1", 8005, "blue"),
        "red->blue:8080 bridged": lan.check("red", "192.168.15.2", 8080, "blue", label="blue:8080"),
        "host->127.0.0.1:8080": lan.check(None, "127.0.0.1", 8080, None, label="loopback"),
    })
    assert_answers(answers, {
        "outside->10.0.0.1:8080": lan.answer("blue", "10.0.0.100"),
        "outside->10.0.0.2:8080": lan.answer("blue", "10.0.0.100"),
        "outside->10.0.0.1:5353/udp": lan.answer("blue", "10.0.0.100"),
        "outside->[fd10::1]:8080": lan.answer("blue", "fd10::100"),
        "outside->10.0.0.1:8005 (range)": lan.answer("blue", "10.0.0.100"),
        "red->blue:8080 bridged": lan.answer("blue:8080", "192.168.15.1"),
        "host->127.0.0.1:8080": lan.answer("loopback", "127.0.0.1"),
    })
    for name in ("host->10.0.0.1:8080", "red->10.0.0.1:8080 (hairpin)"):
        assert answers[name].get("server") == "blue", (name, answers[name])


@BRIDGE_NF
def test_host_address_selects_the_forward(host, bridge_nf):
    """Port 80 on 10.0.0.1 goes to blue, port 80 on 10.0.0.2 to red."""
    lan.build(host, bridge_nf)
    play = host.play([
        task("port_forward", {"port": 80, "host_address": "10.0.0.1", "destination": "192.168.15.2"}, "via .1"),
        task("port_forward", {"port": 80, "host_address": "10.0.0.2", "destination": "192.168.15.1"}, "via .2"),
    ])
    assert play.rc == 0, play.output
    tbl = lan.table(host)
    ids = ["port_forward tcp 10.0.0.1 80", "port_forward tcp 10.0.0.2 80"]
    lan.assert_table_shape(tbl, ids)
    assert [len(lan.rules_with(tbl, identity, "prerouting")) for identity in ids] == [1, 1], tbl["rules"]
    answers = probe_all(host, {
        "outside->10.0.0.1:80": lan.check("outside", "10.0.0.1", 80, "blue"),
        "outside->10.0.0.2:80": lan.check("outside", "10.0.0.2", 80, "red"),
        "host->10.0.0.2:80": lan.check(None, "10.0.0.2", 80, "red"),
    })
    assert_answers(answers, {
        "outside->10.0.0.1:80": lan.answer("blue", "10.0.0.100"),
        "outside->10.0.0.2:80": lan.answer("red", "10.0.0.100"),
    })
    assert answers["host->10.0.0.2:80"].get("server") == "red", answers


@BRIDGE_NF
def test_changed_destination_replaces_the_rule(host, bridge_nf):
    """Same identity, new destination: one rule, traffic to the new one, also for a UDP flow
    that keeps its source port (the old conntrack entry must not win)."""
    lan.build(host, bridge_nf)
    first = host.play([task("port_forward", FWD_TCP, "tcp"), task("port_forward", FWD_UDP, "udp")])
    assert first.rc == 0, first.output
    udp_flow = lan.check("outside", "10.0.0.1", 5353, "blue", 53, proto="udp", client_port=40053)
    assert lan.probe(host, [udp_flow]) == [lan.answer("blue", "10.0.0.100")]
    moved_tcp = dict(FWD_TCP, destination="192.168.15.1")
    moved_udp = dict(FWD_UDP, destination="192.168.15.1")
    second = host.play([task("port_forward", moved_tcp, "tcp moved"), task("port_forward", moved_udp, "udp moved"),
                        task("port_forward", moved_tcp, "tcp again"), task("port_forward", moved_udp, "udp again")])
    assert second.rc == 0, second.output
    assert [r["changed"] for r in second.results] == [True, True, False, False]
    tbl = lan.table(host)
    lan.assert_table_shape(tbl, [FWD_TCP_ID, FWD_UDP_ID])
    for identity in (FWD_TCP_ID, FWD_UDP_ID):
        rules = lan.rules_with(tbl, identity, "prerouting")
        assert len(rules) == 1, (identity, tbl["rules"])
        assert "192.168.15.1" in lan.rule_text(rules[0]) and "192.168.15.2" not in lan.rule_text(rules[0]), rules[0]
    assert not [r for r in tbl["rules"] if "192.168.15.2" in lan.rule_text(r)], tbl["rules"]
    answers = probe_all(host, {
        "tcp to red": lan.check("outside", "10.0.0.1", 8080, "red", 80),
        "tcp not to blue": lan.check("outside", "10.0.0.1", 8080, "blue", 80, timeout=1.0),
        "udp flow to red": dict(udp_flow, server="red", label="red"),
    })
    assert_answers(answers, {
        "tcp to red": lan.answer("red", "10.0.0.100"),
        "udp flow to red": lan.answer("red", "10.0.0.100"),
    })
    assert "error" in answers["tcp not to blue"], answers


# -- lifecycle, check and diff mode, ownership ------------------------------------------------

def _lifecycle(host, module, args, identity, chain):
    lan.build(host, 1)
    add_foreign_table(host)
    play = host.play(nft_lifecycle(module, args), diff=True)
    assert play.rc == 0, play.output
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    by_name = {r["task"]: r for r in play.results}
    kernel = snapshots(play.results)
    nft = nft_snapshots(play.results)
    # check mode: the exact actions of the real run, nothing written
    assert by_name["check"]["actions"] and by_name["check"]["actions"] == by_name["real"]["actions"], by_name["check"]
    assert lan.split(nft["after check"]["objects"]) is None, nft["after check"]["text"]
    assert nft["after check"]["text"] == nft["before"]["text"]
    assert kernel["after check"].sysctl(None, "net.ipv4.ip_forward") == "0"
    # real run: the rule, forwarding on, diff shown
    tbl = lan.split(nft["after real"]["objects"])
    lan.assert_table_shape(tbl, [identity])
    assert lan.rules_with(tbl, identity, chain), tbl["rules"]
    assert kernel["after real"].sysctl(None, "net.ipv4.ip_forward") == "1"
    for name in ("real", "absent"):
        assert diffs(by_name[name]) and any(d.get("before") != d.get("after") for d in diffs(by_name[name])), by_name[name]
    for name in ("check again", "real again", "absent again"):
        assert not by_name[name]["actions"], by_name[name]
    # absent: the table is gone, the sysctl stays, foreign rules byte-identical throughout
    assert lan.split(nft["after absent"]["objects"]) is None, nft["after absent"]["text"]
    assert "netfabric" not in nft["after absent"]["text"]
    assert kernel["after absent"].sysctl(None, "net.ipv4.ip_forward") == "1"
    assert "table inet other" in nft["before"]["other"]
    for label in ("after check", "after real", "after absent"):
        assert nft[label]["other"] == nft["before"]["other"], label
    assert nft["after absent"]["text"] == nft["before"]["text"]
    return by_name


def test_nat_masquerade_lifecycle(host):
    """Four runs, check and diff mode, absent twice; the foreign table stays byte-identical."""
    by_name = _lifecycle(host, "nat_masquerade", MASQ4, MASQ4_ID, "postrouting")
    assert by_name["real"]["masquerade"]["source"] == "192.168.15.0/24", by_name["real"]
    after = snapshots(by_name.values())["after real"]
    assert after.sysctl(None, "net.ipv6.conf.all.forwarding") == "0", "an IPv4 source turned on IPv6 forwarding"


def test_port_forward_lifecycle(host):
    """Four runs, check and diff mode, absent twice; the foreign table stays byte-identical."""
    by_name = _lifecycle(host, "port_forward", FWD_TCP, FWD_TCP_ID, "prerouting")
    forward = by_name["real"]["port_forward"]
    assert forward["destination"] == "192.168.15.2" and int(forward["port"]) == 8080, by_name["real"]


def _iptables_nat(host):
    out = host.run("iptables-nft-save -t nat").stdout
    return "\n".join(line for line in out.splitlines() if not line.startswith("#"))


def test_foreign_iptables_nft_rules_stay(host):
    """iptables-nft rules and another nft table are byte-identical after present and after absent."""
    if host.run("command -v iptables-nft && command -v iptables-nft-save", check=False).returncode != 0:
        pytest.skip("iptables-nft is not installed: it comes with the Debian package iptables")
    lan.build(host, 1)
    add_foreign_table(host)
    host.run("iptables-nft -t nat -A POSTROUTING -s 10.99.0.0/24 -j MASQUERADE")
    before = (_iptables_nat(host), host.run("nft list table inet other").stdout, host.run("nft list ruleset").stdout)
    assert "-A POSTROUTING -s 10.99.0.0/24 -j MASQUERADE" in before[0]
    resources = [("nat_masquerade", MASQ4), ("port_forward", FWD_TCP), ("port_forward", FWD_UDP)]
    present = host.play([task(module, args) for module, args in resources])
    assert present.rc == 0, present.output
    assert lan.table(host) is not None
    assert _iptables_nat(host) == before[0]
    assert host.run("nft list table inet other").stdout == before[1]
    absent = host.play([task(module, dict(args, state="absent")) for module, args in resources])
    assert absent.rc == 0, absent.output
    assert _iptables_nat(host) == before[0]
    assert host.run("nft list table inet other").stdout == before[1]
    assert host.run("nft list ruleset").stdout == before[2]


# -- bad inputs and warnings ------------------------------------------------------------------

BAD_INPUTS = [
    ("port_forward", dict(FWD_TCP, port=0), "port", "0"),
    ("port_forward", dict(FWD_TCP, port=65536), "port", "65536"),
    ("port_forward", dict(FWD_TCP, protocol="icmp"), "protocol", "icmp"),
    ("port_forward", dict(FWD_TCP, destination="not-an-ip"), "destination", "not-an-ip"),
    ("nat_masquerade", {"source": "10.0.0.0/33"}, "source", "10.0.0.0/33"),
]


def test_bad_inputs_fail_by_name_and_change_nothing(host):
    """With an existing table (a masquerade with forwarding off), bad inputs fail by name and
    leave the ruleset and the kernel state (forwarding included) as they were."""
    lan.build(host, 1)
    tasks = [task("nat_masquerade", dict(MASQ4, forwarding=False), "existing"), nft_probe("before"), probe("before")]
    tasks += [task(module, args, f"bad {i}", ignore_errors=True) for i, (module, args, unused, unused2) in enumerate(BAD_INPUTS)]
    tasks += [nft_probe("after"), probe("after")]
    play = host.play(tasks)
    by_name = {r["task"]: r for r in play.results}
    assert by_name["existing"]["changed"] and not by_name["existing"]["failed"], by_name["existing"]
    for i, (module, args, option, value) in enumerate(BAD_INPUTS):
        result = by_name[f"bad {i}"]
        assert result["failed"], (module, args, result)
        assert option in result["msg"] and value in result["msg"], (module, args, result["msg"])
        assert "Traceback" not in str(result.get("exception", "")), result
        assert "Module failed:" not in result["msg"], result
    nft = nft_snapshots(play.results)
    assert nft["before"]["text"] == nft["after"]["text"]
    lan.assert_table_shape(lan.split(nft["after"]["objects"]), [MASQ4_ID])
    kernel = snapshots(play.results)
    assert stable(kernel["before"].data) == stable(kernel["after"].data)
    assert kernel["after"].sysctl(None, "net.ipv4.ip_forward") == "0"


def test_warns_about_a_foreign_forward_drop_policy(host):
    """A drop policy in another table's forward chain (what Docker sets) is named in a warning."""
    lan.build(host, 1)
    host.run(DOCKER_LIKE_DROP)
    before = host.run("nft list table ip filter").stdout
    play = host.play([task("nat_masquerade", MASQ4, "masquerade"), task("port_forward", FWD_TCP, "forward")])
    assert play.rc == 0, play.output
    for name in ("masquerade", "forward"):
        warnings = play.task(name).get("warnings", [])
        assert any("filter" in w and "FORWARD" in w for w in warnings), (name, warnings)
    assert host.run("nft list table ip filter").stdout == before


def test_nat_exemption_keeps_the_source_address_towards_its_network(host):
    """Outside gets a route back to the namespaces: with the exemption it sees blue's own
    address, without it (the masquerade alone) the host's."""
    lan.build(host)
    host.run("ip -n outside route add 192.168.15.0/24 via 10.0.0.1")
    seen = lan.check("blue", "10.0.0.100", 9100, "outside")
    masq = {"source": "192.168.15.0/24"}
    exempt = {"destination": "10.0.0.0/24"}
    play = host.play([task("nat_masquerade", masq), task("nat_exemption", exempt, "exempt"),
                      task("nat_exemption", exempt, "exempt again")])
    assert play.rc == 0, play.stdout
    assert [r["changed"] for r in play.results] == [True, True, False]
    assert lan.probe(host, [seen]) == [lan.answer("outside", "192.168.15.2")]
    play = host.play([task("nat_exemption", dict(exempt, state="absent"), "remove")])
    assert play.results[0]["changed"]
    assert lan.probe(host, [seen]) == [lan.answer("outside", "10.0.0.1")]


def test_nat_exemption_lifecycle(host):
    lan.build(host)
    play = host.play(lifecycle("nat_exemption", {"destination": "10.0.0.0/24", "source": "192.168.15.0/24"}))
    assert play.rc == 0, play.stdout
    assert changed_flags(play.results) == LIFECYCLE_CHANGES
    by_task = {r["task"]: r for r in play.results}
    check, real = by_task["check"], by_task["real"]
    assert check["actions"] == real["actions"]  # check mode plans what the real run does
    assert real["nat_exemption"]["rules"] == ['postrouting: ip saddr 192.168.15.0/24 ip daddr 10.0.0.0/24 accept '
                                              'comment "no_nat 192.168.15.0/24 > 10.0.0.0/24"']
    assert lan.table(host) is None
