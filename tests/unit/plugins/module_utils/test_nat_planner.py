"""Planning masquerades and port forwards on plain data: rules as nftables JSON, in order."""

from __future__ import annotations

import pytest

from ansible_collections.netfabric.netns.plugins.module_utils import nft
from ansible_collections.netfabric.netns.plugins.module_utils.errors import ValidationError
from ansible_collections.netfabric.netns.plugins.module_utils.guard import Connection
from ansible_collections.netfabric.netns.plugins.module_utils.model_rules import Masquerade, NatExemption, PortForward
from ansible_collections.netfabric.netns.plugins.module_utils.observed import Link, NetnsState
from ansible_collections.netfabric.netns.plugins.module_utils.planner import Planner

HOST = [Link("lo", 1, up=True), Link("eth0", 2, up=True, addresses=["10.0.0.1/24"]),
        Link("v-net-0", 3, kind="bridge", up=True, addresses=["192.168.15.5/24"])]


class NftReader:
    """The host namespace with a given table; records reads."""

    def __init__(self, rules=(), drops=(), sysctls=None):
        self.rules, self.drops = list(rules), list(drops)
        self.sysctls = sysctls or {}
        self.nft_reads = 0

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
        return list(self.rules), list(self.drops)

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
    assert any("table ip filter chain FORWARD" in w and "DOCKER-USER" in w for w in plan.warnings)


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
