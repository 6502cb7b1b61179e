# make demo: the classic walkthrough, built by the collection inside a sandbox host.
# Variant 1: red and blue joined by one veth cable (playbooks/veth_pair.yml).
# Variant 2: red and blue on the bridge v-net-0 with the host address 192.168.15.5 and
#            default routes through it (playbooks/bridge.yml).
# Variant 3: the whole walkthrough as one topology through the role netfabric.netns.topology:
#            the same with NAT to the outside world and the host's port 80 forwarded to
#            blue's service (playbooks/bridge_nat.yml); it takes over what variant 2 made.
# After each variant it prints who reaches whom (TCP handshakes, tools/reach.py); after the
# third, the Mermaid text of what it built (playbooks/diagram.yml, which also writes an SVG to
# .build/demo/localhost.svg); at the end playbooks/teardown.yml removes the topology again.
# The sandbox host stands for a machine whose LAN address is 10.0.0.1 on "eth0"; the
# namespace "outside" (10.0.0.100, at the other end of eth0, the host's default gateway)
# stands for the LAN and has no route to the namespaces. This machine's own namespace is never touched.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

name="demo-$$"
sandbox() { python3 tools/sandbox.py "$@"; }
inside() { sandbox exec "$name" -- "$*"; }
play() {
    sandbox exec --ansible "$name" -- \
        "ansible-playbook -i localhost, -c local -e netns_target=localhost $1"
}
cleanup() { sandbox stop "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

sandbox start "$name" >/dev/null
inside "ip netns add outside && ip link add name eth0 type veth peer name lan0 netns outside" \
    "&& ip addr add 10.0.0.1/24 dev eth0 && ip link set eth0 up" \
    "&& ip -n outside addr add 10.0.0.100/24 dev lan0 && ip -n outside link set lan0 up && ip -n outside link set lo up" \
    "&& ip route add default via 10.0.0.100"

echo "== 1. red and blue joined by a veth cable (playbooks/veth_pair.yml)"
play playbooks/veth_pair.yml
echo
echo "Who reaches whom (host = the sandbox host's LAN address 10.0.0.1):"
inside "python3 tools/reach.py red=red:192.168.15.1 blue=blue:192.168.15.2 host=-:10.0.0.1 outside=outside:10.0.0.100"
echo

echo "== 2. red and blue on the bridge v-net-0, host address 192.168.15.5 (playbooks/bridge.yml)"
# The cable of variant 1 would be a second path between red and blue: remove it first.
sandbox exec --ansible "$name" -- \
    "ansible localhost -o -c local -m netfabric.netns.veth -a 'name=veth-red netns=red state=absent'"
play playbooks/bridge.yml
echo
echo "Who reaches whom (host-br = the host's 192.168.15.5 on v-net-0, host = its 10.0.0.1 on eth0):"
inside "python3 tools/reach.py red=red:192.168.15.1 blue=blue:192.168.15.2 host-br=-:192.168.15.5" \
    "host=-:10.0.0.1 outside=outside:10.0.0.100"
echo

echo "== 3. the whole walkthrough through the role netfabric.netns.topology: NAT and the host's port 80"
echo "      forwarded to blue:80 (playbooks/bridge_nat.yml)"
play playbooks/bridge_nat.yml
echo
echo "Who reaches whom ('as' = the source address the server saw):"
inside "python3 tools/reach.py red=red:192.168.15.1 blue=blue:192.168.15.2 host-br=-:192.168.15.5" \
    "host=-:10.0.0.1 outside=outside:10.0.0.100" \
    "--forward outside 10.0.0.1:80 blue --forward host 10.0.0.1:80 blue --forward red 10.0.0.1:80 blue"
echo
echo "The collection's nftables table in the sandbox host:"
inside "nft list table inet netfabric"
echo
echo "Running the whole playbook again changes nothing:"
play playbooks/bridge_nat.yml | grep -E '^localhost|changed='
echo
echo "The picture of what it built (playbooks/diagram.yml: netns_info, then the filter to_mermaid; paste it"
echo "into a \`\`\`mermaid block of a GitHub or GitLab page):"
pictures="$PWD/.build/demo"
rm -rf "$pictures"
play "playbooks/diagram.yml -e netns_diagram_dir=$pictures" >/dev/null
echo
cat "$pictures/localhost.mmd"
echo
echo "Drawn by Graphviz (filter to_dot, then dot -Tsvg): $pictures/localhost.svg"
echo
echo "playbooks/teardown.yml removes what the topology declares and its state file records:"
play playbooks/teardown.yml | grep -E '^localhost|changed='
inside "echo \"namespaces: \$(ip netns list | cut -d' ' -f1 | xargs)\"; echo \"links: \$(ip -br link | cut -d' ' -f1 | xargs)\"" \
    "; nft list table inet netfabric >/dev/null 2>&1 && echo 'table inet netfabric: still there' || echo 'table inet netfabric: gone'"
