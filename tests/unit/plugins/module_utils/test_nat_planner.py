"""Planning masquerades and port forwards on plain data: rules as nftables JSON, in order."""

from __future__ import annotations

import pytest

from ansible_collections.netfabric.netns.plugins.module_utils import nft
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.guard import Connection
from ansible_collections.netfabric.netns.plugins.module_utils.hostfiles import Settings
from ansible_collections.netfabric.netns.plugins.module_utils.model import Bridge
from ansible_collections.netfabric.netns.plugins.module_utils.model_rules import Masquerade, NatExemption, PortForward
from ansible_collections.netfabric.netns.plugins.module_utils.observed import Link, NetnsState
from ansible_collections.netfabric.netns.plugins.module_utils.planner import Planner

HOST = [Link("lo", 1, up=True), Link("eth0", 2, up=True, addresses=["10.0.0.1/24"]),
        Link("v-net-0", 3, kind="bridge", up=True, addresses=["192.168.15.5/24"])]


class NftReader:
    """The host namespace with a given table; records reads."""

    def __init__(self, rules=(), drops=(), sysctls=None, chains=(), docker=None, zones=None):
        self.rules, self.drops, self.chains = list(rules), list(drops), list(chains)
        self.sysctls = sysctls or {}
        self.nft_reads = 0
        self.docker = docker or {}  # iptables binary -> DOCKER-USER rules
        self.zones = zones or {}  # interface -> (runtime, permanent) firewalld zone

    def read_docker(self, name, chains):
        return {binary: list(rules) for binary, rules in self.docker.items()}

    def read_zones(self, interfaces):
        return {name: self.zones.get(name, ("", "")) for name in interfaces}

    def netns_stale(self, name):
        return False

    def netns_exists(self, name):
        return name is None

    def read(self, name):
        return NetnsState(name, links={link.name: Link(**vars(link)) for link in HOST})

    def read_routes(self, name, table=None):
        return []

    def read_nft(self, name):
        self.nft_reads += 1
        return list(self.rules), list(self.drops), [], list(self.chains)

    def read_sysctl(self, name, key):
        return self.sysctls.get(key, "0")


def planned(resources, reader=None, **planner_args):
    reader = reader or NftReader()
    planner = Planner(reader, **planner_args)
    plan = planner.plan_resources(resources)
    return plan, planner


def final_rules(plan):
    commits = [a for a in plan.actions if a.op == "nft_rule" and a.args["commit"]]
    return commits[-1].args["rules"] if commits else None


MASQ = Masquerade.from_params({"source": "192.168.15.0/24"})
WEB = PortForward.from_params({"port": 8080, "destination": "192.168.15.2", "destination_port": 80})


def test_masquerade_never_rewrites_its_own_subnet_and_turns_forwarding_on():
    plan, unused = planned([MASQ])
    rules = final_rules(plan)
    assert [(r.chain, r.comment) for r in rules] == [
        ("forward", "helper established"),
        ("forward", "masquerade 192.168.15.0/24 out *"),
        ("postrouting", "masquerade 192.168.15.0/24 out *"),
    ]
    assert "ip daddr != 192.168.15.0/24 masquerade" in rules[2].text
    assert plan.actions[-1].text == "the host namespace: set net.ipv4.ip_forward=1"
    assert [a.args["commit"] for a in plan.actions if a.op == "nft_rule"] == [False, False, True]


def test_one_transaction_per_namespace_for_several_resources():
    plan, unused = planned([MASQ, WEB])
    commits = [a for a in plan.actions if a.op == "nft_rule" and a.args["commit"]]
    assert len(commits) == 1 and commits[0] is [a for a in plan.actions if a.op == "nft_rule"][-1]
    assert {r.comment for r in commits[0].args["rules"]} == {
        "helper established", "helper dnat", "masquerade 192.168.15.0/24 out *", "port_forward tcp * 8080"}


def test_port_forward_matches_only_local_addresses_and_adds_hairpin_for_its_subnet():
    plan, unused = planned([WEB])
    by_chain = {}
    for rule in final_rules(plan):
        by_chain.setdefault(rule.chain, []).append(rule.text)
    assert by_chain["prerouting"] == [
        'prerouting: fib daddr type local meta nfproto ipv4 tcp dport 8080 dnat ip to 192.168.15.2:80 '
        'comment "port_forward tcp * 8080"']
    assert "ip daddr != 127.0.0.0/8" in by_chain["output"][0]
    assert by_chain["forward"] == ['forward: ct status dnat accept comment "helper dnat"']
    assert by_chain["postrouting"] == [
        'postrouting: ct status dnat ip saddr 192.168.15.0/24 ip daddr 192.168.15.2 tcp dport 80 masquerade '
        'comment "port_forward tcp * 8080"']


def test_converged_table_plans_nothing_and_is_read_once():
    plan, unused = planned([MASQ, WEB])
    reader = NftReader(final_rules(plan), sysctls={"net.ipv4.ip_forward": "1"})
    again, unused = planned([MASQ, WEB], reader)
    assert again.actions == [] and reader.nft_reads == 1


def test_changed_destination_replaces_only_that_forwards_rules():
    plan, unused = planned([MASQ, WEB])
    reader = NftReader(final_rules(plan), sysctls={"net.ipv4.ip_forward": "1"})
    moved = PortForward.from_params({"port": 8080, "destination": "192.168.15.1", "destination_port": 80})
    again, unused = planned([moved], reader)
    changed = {a.verb.split(":", 1)[0] for a in again.actions}
    assert changed == {"remove rule prerouting", "remove rule output", "remove rule postrouting",
                       "add rule prerouting", "add rule output", "add rule postrouting"}
    assert all('"port_forward tcp * 8080"' in a.verb for a in again.actions)


def test_last_user_takes_the_shared_helper_and_an_empty_table_is_removed():
    plan, unused = planned([WEB])
    reader = NftReader(final_rules(plan))
    gone, unused = planned([PortForward.from_params({"port": 8080, "state": "absent"})], reader)
    assert any("helper dnat" in a.verb and a.verb.startswith("remove") for a in gone.actions)
    assert final_rules(gone) == []
    assert nft.transaction([])[-1] == {"delete": {"table": {"family": "inet", "name": "netfabric"}}}


def test_absent_leaves_forwarding_alone():
    plan, unused = planned([MASQ])
    reader = NftReader(final_rules(plan), sysctls={"net.ipv4.ip_forward": "1"})
    gone, unused = planned([Masquerade.from_params({"source": "192.168.15.0/24", "state": "absent"})], reader)
    assert not [a for a in gone.actions if a.op == "sysctl_set"]


def test_a_rule_edited_by_hand_is_put_back():
    plan, unused = planned([MASQ])
    rules = final_rules(plan)
    tampered = rules[:2] + [nft.Rule("postrouting", rules[2].comment, rules[2].expr[:1] + rules[2].expr[2:])]
    again, unused = planned([MASQ], NftReader(tampered, sysctls={"net.ipv4.ip_forward": "1"}))
    assert [a.verb.split(" ")[0] for a in again.actions] == ["remove", "add"]


def test_udp_change_flushes_conntrack_and_ipv6_uses_ip6_forwarding():
    dns = PortForward.from_params({"protocol": "udp", "port": 53, "destination": "fd15::2", "host_address": "fd10::1"})
    plan, unused = planned([dns])
    ops = [a.op for a in plan.actions]
    assert "conntrack_flush" in ops
    assert plan.actions[-1].verb == "set net.ipv6.conf.all.forwarding=1"
    assert any("ip6 daddr fd10::1 udp dport 53 dnat ip6 to [fd15::2]:53" in a.verb for a in plan.actions)


def test_foreign_forward_drop_policy_is_warned_about():
    plan, unused = planned([MASQ], NftReader(drops=["ip filter FORWARD"]))
    assert [w for w in plan.warnings if "table ip filter chain FORWARD" in w] == [
        "table ip filter chain FORWARD in the host namespace drops forwarded packets by policy: the accepts in table "
        "inet netfabric cannot override another table's drop, so traffic from 192.168.15.0/24 may not pass; accept it "
        "in that chain too"]


DOCKER = {"drops": ["ip filter FORWARD"], "chains": ["ip filter DOCKER-USER"]}
OWNED = ("-i", "v-net-0", "-m", "comment", "--comment", "netfabric.netns:bridge v-net-0", "-j", "ACCEPT")
OWNED_OUT = ("-o",) + OWNED[1:]
THEIRS = ("-i", "docker9", "-j", "ACCEPT")
BRIDGE = {"name": "v-net-0", "addresses": ["192.168.15.5/24"]}


def test_docker_user_gets_the_bridges_accepts_and_the_masquerade_no_warning():
    reader = NftReader(docker={"iptables-nft": [THEIRS, ("-j", "RETURN")]}, **DOCKER)
    plan, unused = planned([Bridge.from_params(BRIDGE), MASQ], reader)
    assert [(a.op, a.args["command"], tuple(a.args["rule"])) for a in plan.actions if a.op == "docker_rule"] == [
        ("docker_rule", "insert", OWNED), ("docker_rule", "insert", OWNED_OUT)]
    assert not [w for w in plan.warnings if "FORWARD" in w], plan.warnings


def test_docker_off_removes_only_its_own_rules_and_warns_with_what_to_do():
    reader = NftReader(docker={"iptables-nft": [OWNED, THEIRS, OWNED_OUT, ("-j", "RETURN")]}, **DOCKER)
    plan, unused = planned([Bridge.from_params(dict(BRIDGE, docker="off")), MASQ], reader)
    assert [(a.args["command"], tuple(a.args["rule"])) for a in plan.actions if a.op == "docker_rule"] == [
        ("delete", OWNED), ("delete", OWNED_OUT)]
    assert any("docker is off" in w and "set docker: auto" in w for w in plan.warnings), plan.warnings
    assert any("table ip filter chain FORWARD" in w and "set docker: auto on the collection's bridge, veth or vxlan "
               "that carries it (v-net-0)" in w for w in plan.warnings), plan.warnings


def test_iptables_legacy_forward_policy_and_firewalld_reject_are_warned_about():
    reader = NftReader(drops=["ip filter FORWARD (iptables-legacy)", "inet firewalld filter_FORWARD"],
                       chains=["inet firewalld filter_FORWARD"])
    plan, unused = planned([MASQ], reader)
    texts = " | ".join(plan.warnings)
    assert "table ip filter chain FORWARD in the host namespace (iptables-legacy) drops forwarded packets" in texts
    assert "table inet firewalld chain filter_FORWARD in the host namespace rejects what no firewalld zone allows" \
        in texts and "set firewalld: auto" in texts


def test_firewalld_binds_the_bridge_to_trusted_and_releases_only_what_it_bound():
    reader = NftReader(drops=["inet firewalld filter_FORWARD"], chains=["inet firewalld filter_FORWARD"])
    settings = Settings("/nonexistent")
    plan, unused = planned([Bridge.from_params(BRIDGE), MASQ], reader, settings=settings)
    assert [(a.op, a.args) for a in plan.actions if a.op == "firewalld_zone"] == [
        ("firewalld_zone", {"interface": "v-net-0", "zone": "trusted", "add": True})]
    assert not [w for w in plan.warnings if "firewalld" in w], plan.warnings
    reader.zones["v-net-0"] = ("trusted", "trusted")
    again, unused = planned([Bridge.from_params(BRIDGE)], reader, settings=settings)
    assert not [a for a in again.actions if a.op == "firewalld_zone"]
    gone, unused = planned([Bridge.from_params(dict(BRIDGE, state="absent"))], reader, settings=settings)
    assert [(a.op, a.args["add"]) for a in gone.actions if a.op == "firewalld_zone"] == [("firewalld_zone", False)]
    reader.zones["br-admin"] = ("trusted", "trusted")  # bound by the admin: the collection never releases it
    admin, unused = planned([Bridge.from_params({"name": "br-admin", "state": "absent"})], reader, settings=settings)
    assert not [a for a in admin.actions if a.op == "firewalld_zone"]


SSH = Connection(local=("10.0.0.1",), port=22)


def test_the_connection_port_is_not_forwarded_without_force():
    ssh = {"port": 22, "destination": "192.168.15.2"}
    with pytest.raises(ValidationError, match="port: refusing to forward tcp port 22 of 10.0.0.1"):
        planned([PortForward.from_params(ssh)], connection=SSH)
    other_address = PortForward.from_params(dict(ssh, host_address="10.0.0.2"))
    planned([other_address], connection=SSH)
    planned([PortForward.from_params(dict(ssh, force=True))], connection=SSH)


@pytest.mark.parametrize("params, message", [
    ({"port": 0, "destination": "192.168.15.2"}, "port: port 0 is out of range 1-65535"),
    ({"port": 65536, "destination": "192.168.15.2"}, "port: port 65536 is out of range 1-65535"),
    ({"port": "90-80", "destination": "192.168.15.2"}, "port: port range '90-80' ends before it starts"),
    ({"port": 80, "protocol": "icmp", "destination": "192.168.15.2"}, "protocol: must be one of tcp, udp, got 'icmp'"),
    ({"port": 80, "destination": "not-an-ip"}, "destination: 'not-an-ip' is not an IPv4 or IPv6 address"),
    ({"port": 80, "destination": "127.0.0.1"}, "destination: '127.0.0.1' is a loopback address"),
    ({"port": 80, "destination": "192.168.15.2", "host_address": "fd10::1"}, "host_address: 'fd10::1' is not of the same"),
    ({"port": "80-90", "destination": "192.168.15.2", "destination_port": 8080}, "destination_port: 8080: a port range"),
])
def test_bad_port_forwards_name_the_option(params, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PortForward.from_params(params)


def test_bad_masquerade_source_names_the_option():
    with pytest.raises(ValidationError, match="source: '10.0.0.0/33' is not a network in CIDR notation"):
        Masquerade.from_params({"source": "10.0.0.0/33"})
    with pytest.raises(ValidationError, match=r"source: '10.0.0.1/24' has host bits set \(did you mean 10.0.0.0/24\?\)"):
        Masquerade.from_params({"source": "10.0.0.1/24"})


def test_a_forward_on_one_host_address_comes_before_the_one_on_any_address():
    specific = PortForward.from_params({"port": 80, "destination": "192.168.15.1", "host_address": "10.0.0.2"})
    wildcard = PortForward.from_params({"port": 80, "destination": "192.168.15.2"})
    plan, unused = planned([wildcard, specific])
    prerouting = [rule.comment for rule in final_rules(plan) if rule.chain == "prerouting"]
    assert prerouting == ["port_forward tcp 10.0.0.2 80", "port_forward tcp * 80"]


def test_an_ipv4_table_dropping_forwards_is_no_concern_of_an_ipv6_masquerade():
    six = Masquerade.from_params({"source": "fd15::/64"})
    plan, unused = planned([six], NftReader(drops=["ip filter FORWARD"]))
    assert plan.warnings == []
    plan, unused = planned([six], NftReader(drops=["inet firewalld filter_FORWARD"]))
    assert len(plan.warnings) == 1


def test_a_nat_exemption_comes_before_the_masquerade():
    exemption = NatExemption.from_params({"destination": "10.3.1.0/24"})
    plan, unused = planned([MASQ, exemption])
    postrouting = [rule.text for rule in final_rules(plan) if rule.chain == "postrouting"]
    assert postrouting == ['postrouting: ip daddr 10.3.1.0/24 accept comment "no_nat * > 10.3.1.0/24"',
                           'postrouting: ip saddr 192.168.15.0/24 ip daddr != 192.168.15.0/24 masquerade '
                           'comment "masquerade 192.168.15.0/24 out *"']
