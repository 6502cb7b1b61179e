# make demo: the classic walkthrough, built by the collection inside a sandbox host.
# Variant 1: red and blue joined by one veth cable (playbooks/veth_pair.yml).
# Variant 2: red and blue on the bridge v-net-0 with the host address 192.168.15.5 and
#            default routes through it (playbooks/bridge.yml).
# After each variant it prints who reaches whom (TCP handshakes, tools/reach.py).
# The sandbox host stands for a machine whose LAN address is 10.0.0.1 (on "eth0", one end
# of a veth pair inside the sandbox); this machine's own namespace is never touched.
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
inside "ip link add name eth0 type veth peer name lan0 && ip addr add 10.0.0.1/24 dev eth0" \
    "&& ip link set lan0 up && ip link set eth0 up"

echo "== 1. red and blue joined by a veth cable (playbooks/veth_pair.yml)"
play playbooks/veth_pair.yml
echo
echo "Who reaches whom (host = the sandbox host's LAN address 10.0.0.1):"
inside "python3 tools/reach.py red=red:192.168.15.1 blue=blue:192.168.15.2 host=-:10.0.0.1"
echo

echo "== 2. red and blue on the bridge v-net-0, host address 192.168.15.5 (playbooks/bridge.yml)"
# The cable of variant 1 would be a second path between red and blue: remove it first.
sandbox exec --ansible "$name" -- \
    "ansible localhost -o -c local -m netfabric.netns.veth -a 'name=veth-red netns=red state=absent'"
play playbooks/bridge.yml
echo
echo "Who reaches whom (host-br = 192.168.15.5 on v-net-0, host = 10.0.0.1 via the default route):"
inside "python3 tools/reach.py red=red:192.168.15.1 blue=blue:192.168.15.2 host-br=-:192.168.15.5 host=-:10.0.0.1"
echo
echo "Running the bridge playbook again changes nothing:"
play playbooks/bridge.yml | grep -E '^localhost|changed='
