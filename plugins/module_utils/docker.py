# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker's DOCKER-USER chain, and iptables-legacy's FORWARD policy (private to the collection).

Docker sets the policy of iptables' FORWARD chain to drop and jumps to DOCKER-USER first, a
chain it creates when missing and never flushes (a restart keeps it). For each interface the
collection opens it inserts there ``-i IF -j ACCEPT`` and ``-o IF -j ACCEPT``, each with the
comment ``netfabric.netns:<resource>``, through the iptables binary of the backend that holds
the chain (iptables-nft, or iptables-legacy; ip6tables too where Docker made the chain for
IPv6). A rule without that comment is never touched. Everything here runs in the namespace
the caller entered (the binaries are children of this thread, and inherit its namespaces).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess

from ansible_collections.netfabric.netns.plugins.module_utils.errors import NetfabricError

CHAIN = "DOCKER-USER"
PREFIX = "netfabric.netns:"
LEGACY = "(iptables-legacy)"  # the end of the label of a chain that iptables-legacy holds
BINARIES = {("ip", False): "iptables-nft", ("ip6", False): "ip6tables-nft",
            ("ip", True): "iptables-legacy", ("ip6", True): "ip6tables-legacy"}
_LEGACY_TABLES = {"ip": "/proc/thread-self/net/ip_tables_names", "ip6": "/proc/thread-self/net/ip6_tables_names"}


class DockerError(NetfabricError):
    """An iptables binary refused a command."""


def owner(resource):
    """The comment of the rules ``resource`` owns in DOCKER-USER."""
    return f"{PREFIX}{resource.kind} {resource.name}"


def rules(interface, comment):
    """The accepts that let forwarded traffic into and out of ``interface`` pass Docker's FORWARD."""
    return [(flag, interface, "-m", "comment", "--comment", comment, "-j", "ACCEPT") for flag in ("-i", "-o")]


def comment_of(rule):
    """The comment of a rule as read (None: it has none)."""
    for i, word in enumerate(rule[:-1]):
        if word == "--comment":
            return rule[i + 1]
    return None


def binary(label):
    """The iptables binary for a chain labelled 'ip filter DOCKER-USER' ('... (iptables-legacy)')."""
    return BINARIES[(label.split(" ", 1)[0], label.endswith(LEGACY))]


def read_legacy():
    """(drop labels, chain labels) of iptables-legacy in this namespace: its FORWARD chains with
    policy DROP and its DOCKER-USER chains. Its tables exist only where something loaded them
    (``/proc/net/ip_tables_names``): nothing is run, and no module loaded, where none did."""
    drops, chains = [], []
    for family, names in sorted(_LEGACY_TABLES.items()):
        try:
            with open(names, encoding="ascii") as handle:
                tables = handle.read().split()
        except OSError:
            continue
        command = BINARIES[(family, True)]
        if "filter" not in tables or shutil.which(command) is None:
            continue
        listing = _run([command, "-w", "-t", "filter", "-S"], check=False).splitlines()
        if "-P FORWARD DROP" in listing:
            drops.append(f"{family} filter FORWARD {LEGACY}")
        if f"-N {CHAIN}" in listing:
            chains.append(f"{family} filter {CHAIN} {LEGACY}")
    return drops, chains


def read(chains):
    """{binary: [rules of DOCKER-USER, as argument tuples]} for the chains labelled in ``chains``
    ('ip filter DOCKER-USER', with LEGACY for iptables-legacy's)."""
    found = {}
    for label in chains:
        if label.split(" ")[2] != CHAIN:
            continue
        command = binary(label)
        if shutil.which(command) is None:
            raise DockerError(f"Docker's chain {CHAIN} is in table {' '.join(label.split(' ')[:2])} but {command} is "
                              "not installed: install the Debian package iptables, or set docker: off")
        lines = _run([command, "-w", "-S", CHAIN]).splitlines()
        found[command] = [tuple(shlex.split(line)[2:]) for line in lines if line.startswith(f"-A {CHAIN} ")]
    return found


def apply(command, binary_name, rule):
    """Insert (at the top, before Docker's RETURN) or delete one rule, unless already so."""
    present = subprocess.run([binary_name, "-w", "-C", CHAIN] + list(rule), capture_output=True,
                             check=False).returncode == 0
    if (command == "insert") != present:
        _run([binary_name, "-w", "-I" if command == "insert" else "-D", CHAIN] + list(rule))


def _run(argv, check=True):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise DockerError(f"{' '.join(shlex.quote(a) for a in argv)}: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout
