# -*- coding: utf-8 -*-
# Copyright: netfabric.netns contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Options and attributes every netfabric.netns module shares."""

    DOCUMENTATION = r"""
options:
  state:
    description:
      - V(present) creates or updates the resource, V(absent) removes it.
      - Removing something that is already gone (or whose namespace is gone) is not a change.
    type: str
    choices: [present, absent]
    default: present
requirements:
  - Linux, run as root.
  - pyroute2 >= 0.9 on the managed host (Debian 12's C(python3-pyroute2) 0.7.2 is too old; install with pip).
notes:
  - Named namespaces live in C(/run/netns), a tmpfs, and are gone after a reboot, as is what this module made in them.
    To have a host rebuild them at boot, declare them in a topology persisted by M(netfabric.netns.netns_topology)
    (O(netfabric.netns.netns_topology#module:persist=true); the role C(netfabric.netns.topology) does by default).
"""

    NETNS = r"""
options:
  netns:
    description:
      - Name of the network namespace (under C(/run/netns)) the resource lives in.
      - Omitted means the host's own network namespace.
      - The namespace must exist (see M(netfabric.netns.netns)); it is never created by accident.
        In check mode a missing namespace is assumed to be created by an earlier task, with a warning.
    type: str
"""

    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Check mode computes the same list of actions as a real run (RV(actions)) and changes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
  idempotent:
    description: When run twice in a row with the same arguments, the second run reports no change.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""

    GUARD = r"""
options:
  force:
    description:
      - Make a change even when it would cut the path Ansible uses to reach the host, or delete a link that
        netfabric.netns did not create. Without it the module refuses (or, for O(state=absent) of a link it did not
        create, only removes what was declared on it and leaves the link), so a typo cannot cut the host off or
        destroy somebody else's interface.
      - The path is the interface that carries the address Ansible connects to (O(connection_address)), the ports
        of that interface when it is a bridge, the parent of a VLAN or macvlan interface on it, and the route to
        the controller (O(controller_address)) with its interface. Refused on it without O(force) are enslaving,
        releasing, deleting, taking down, changing the MTU, removing the connection's address, deleting or
        replacing the route to the controller, and adding a route that takes the controller's traffic off it.
      - When the connection's address is not an address of the host (a name that does not resolve, NAT, no
        information), the interfaces of the default routes and every address of the host that netfabric.netns did
        not create are the path. When the controller's address is not known, the default routes are kept.
    type: bool
    default: false
  connection_address:
    description:
      - The addresses of this host that the controller connects to. Filled in by the collection's action plugin
        from C(ansible_host), resolved on the controller (a host name too); the server side of
        C(SSH_CONNECTION) on the host is added. A connection over loopback only (the C(local) connection plugin) has
        no path to protect.
    type: list
    elements: str
  controller_address:
    description:
      - The controller's addresses as this host sees them. Filled in by the collection's action plugin (the
        source address the controller uses towards O(connection_address)); the client side of
        C(SSH_CONNECTION) on the host is added, so C(become) dropping that variable does not switch the guard off.
    type: list
    elements: str
"""

    COEXIST = r"""
options:
  docker:
    description:
      - Where Docker's chain C(DOCKER-USER) exists in the host namespace (iptables-nft or iptables-legacy, IPv4 and,
        where Docker made it, IPv6), V(auto) inserts two accepts there for this link's forwarded traffic
        (C(-i <link> -j ACCEPT) and C(-o <link> -j ACCEPT)), each with the comment C(netfabric.netns:<kind> <name>),
        and removes them with the link. Docker's C(FORWARD) policy is drop, and an accept in the collection's own
        table cannot override it. No other rule of Docker's is touched. Every run checks them again (Docker
        installed or its chain emptied since), and so does the restore of a persisted topology.
      - V(off) leaves Docker alone and removes the accepts an earlier run made; the module then warns that Docker
        drops this link's forwarded traffic. A bare C(off), which YAML reads as a boolean, is taken as V(off).
      - Only links in the host namespace that are not ports of a bridge are opened (a bridge opens what its
        ports forward).
    type: str
    choices: [auto, "off"]
    default: auto
  firewalld:
    description:
      - Where firewalld runs (its nftables table C(inet firewalld) is there), V(auto) binds this link to firewalld's
        zone C(trusted), at runtime and in the permanent configuration, through firewalld's D-Bus interface
        (C(busctl)), so that C(firewall-cmd --reload) and a restart of firewalld keep it there; the binding goes
        with the link. An interface someone else bound to another zone is left there, with a warning.
      - V(off) leaves firewalld alone (and releases what an earlier run bound); firewalld then rejects the link's
        forwarded traffic that no zone allows, and the module warns.
    type: str
    choices: [auto, "off"]
    default: auto
"""

    LOCK = r"""
options:
  lock_timeout:
    description:
      - Seconds to wait for another netfabric.netns run on the same host to finish. Runs on a host are
        serialised by the root-only lock C(/var/lib/netfabric/lock); when the time runs out the module fails
        with a message that names the lock and the process holding it. V(0) does not wait.
    type: int
    default: 300
"""

    NFTABLES = r"""
options: {}
requirements:
  - nftables on the managed host (Debian package C(nftables)); the Python binding of libnftables is used when it
    is importable (Debian's C(python3-nftables), or C(pip-nftables) in a virtual environment), else the C(nft)
    command.
notes:
  - Rules live only in the table C(inet netfabric) of O(netns) (chains C(prerouting) and C(output) at priority
    -100, C(postrouting) at 100, C(forward) and C(input) at 0, all with policy accept). Each rule carries the identity of the
    resource that owns it as its comment; a run adds, replaces or removes only the rules of its own resource and
    writes the table in one atomic nftables transaction. Other tables, and iptables-nft rules, are never touched.
    The table is removed when its last rule is.
  - An accept in this table cannot override a drop in another table (in nftables every drop is final). When
    another table's forward chain drops (Docker's C(FORWARD) policy, iptables-legacy's, firewalld's final reject)
    and nothing opens the interface that carries the traffic, the module warns and says what to do; the
    collection's bridges, veths and vxlans open their traffic in Docker's C(DOCKER-USER) chain and firewalld's
    C(trusted) zone themselves (their options C(docker) and C(firewalld)).
  - Debian's C(nftables.service) runs C(flush ruleset) when it starts, restarts or reloads, which also removes this
    table. Rules of a topology persisted by M(netfabric.netns.netns_topology) come back in the same job; others need
    the play to run again.
  - Forwarding sysctls that the collection turned on are turned back off when the last resource that needed them
    goes (removed, or with C(forwarding=false)); when it was already on, it is left on. When another table
    routes or NATs too (Docker, libvirt, firewalld), it is left on with a warning. The record of what was turned on
    is C(/var/lib/netfabric/settings.json).
"""
