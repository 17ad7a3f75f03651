# Shared plumbing of the kernel-capture scripts (scripts/capture-kernel-fixture.sh,
# test/wire/fixtures/capture-*.sh). Source it after `set -euo pipefail`, then:
#   capture_lab_init NAME PREFIX   sets P (unique prefix), NS_C, NS_S, WORK; the EXIT trap kills
#                                  $CLIENT_PID $SERVER_PID $TCPDUMP_PID, deletes both namespaces and WORK
#   capture_lab_require STATUS     exits STATUS unless ip, tcpdump, python3 and root are there
#   capture_lab_netns              creates the client and server namespaces (exit 2: cannot), lo up,
#                                  net.mptcp.enabled=1 in both
#   capture_lab_veth I             veth ${P}c$I (client) <-> ${P}s$I (server), up, offloads off
#                                  (one segment on the wire = one segment in the capture)
#   capture_lab_tcpdump IFACE SNAPLEN FILTER   tcpdump in the client namespace into $WORK/cap.pcap
#   capture_lab_drops_ok           false (with a message) when tcpdump dropped packets
# Everything it makes carries the prefix and goes with the EXIT trap.

capture_lab_init() {
  CAPTURE_NAME="$1"
  P="$2$$"
  NS_C="${P}c"
  NS_S="${P}s"
  WORK="$(mktemp -d)"
  TCPDUMP_PID="" SERVER_PID="" CLIENT_PID=""
  trap capture_lab_cleanup EXIT
  trap "exit 130" INT TERM
}

capture_lab_cleanup() {
  set +e
  for pid in "${CLIENT_PID:-}" "${SERVER_PID:-}" "${TCPDUMP_PID:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  ip netns del "$NS_C" 2>/dev/null
  ip netns del "$NS_S" 2>/dev/null
  rm -rf "$WORK"
}

capture_lab_require() {
  local tool
  for tool in ip tcpdump python3; do
    command -v "$tool" >/dev/null || { echo "$CAPTURE_NAME: $tool not found" >&2; exit "$1"; }
  done
  [ "$(id -u)" = 0 ] || { echo "$CAPTURE_NAME: needs root" >&2; exit "$1"; }
}

capture_lab_netns() {
  ip netns add "$NS_C" || { echo "$CAPTURE_NAME: cannot create network namespaces" >&2; exit 2; }
  ip netns add "$NS_S"
  local ns
  for ns in "$NS_C" "$NS_S"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.mptcp.enabled=1
  done
}

capture_lab_veth() {
  ip link add "${P}c$1" netns "$NS_C" type veth peer name "${P}s$1" netns "$NS_S"
  ip -n "$NS_C" link set "${P}c$1" up
  ip -n "$NS_S" link set "${P}s$1" up
  ip netns exec "$NS_C" ethtool -K "${P}c$1" tso off gso off gro off >/dev/null 2>&1 || true
  ip netns exec "$NS_S" ethtool -K "${P}s$1" tso off gso off gro off >/dev/null 2>&1 || true
}

capture_lab_tcpdump() {
  ip netns exec "$NS_C" tcpdump -i "$1" -s "$2" -B 8192 -U --immediate-mode -n -w "$WORK/cap.pcap" "$3" 2>"$WORK/tcpdump.log" &
  TCPDUMP_PID=$!
  local _
  for _ in $(seq 50); do grep -q 'listening on' "$WORK/tcpdump.log" 2>/dev/null && break; sleep 0.1; done
}

capture_lab_drops_ok() {
  if grep -Eq "^[1-9][0-9]* packets dropped by kernel" "$WORK/tcpdump.log"; then
    echo "$CAPTURE_NAME: tcpdump dropped packets; not a usable capture" >&2
    return 1
  fi
}
