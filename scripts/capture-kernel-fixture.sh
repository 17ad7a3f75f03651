#!/usr/bin/env bash
# Captures a real Linux kernel MPTCP connection into a small pcap file (the decode test fixture).
#
# Usage: scripts/capture-kernel-fixture.sh [--checksum] [out.pcap]
#   out.pcap    default: test/fixtures/kernel-mptcp.pcap
#   --checksum  enable DSS checksums (net.mptcp.checksum_enabled=1) on both hosts
# Needs: root, iproute2 (ip netns, ip mptcp), tcpdump, python3, a kernel with MPTCP (net.mptcp.enabled=1).
#
# Topology: two network namespaces, client and server, joined by two veth pairs (two paths):
#   path 0: client 10.77.1.1 <-> server 10.77.1.2
#   path 1: client 10.77.2.1 <-> server 10.77.2.2
# The server announces 10.77.2.2 (endpoint "signal" -> ADD_ADDR); the client has a "subflow" endpoint
# 10.77.2.1 (-> MP_JOIN). Near the end the client marks that endpoint backup (-> MP_PRIO on the joined
# subflows) and, once the data is exchanged, the server deletes its endpoint (-> REMOVE_ADDR).
# tcpdump runs in the client namespace on "any" (Linux cooked capture v2), whole packets. A python3 kernel MPTCP server and client (socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP=262))
# exchange data in chunks with small sleeps in both directions, so that every subflow carries data.
# The snap length (1600) exceeds the veth MTU, so packets are captured whole; a small snap length and
# a large buffer (-B) keep the capture ring from dropping bursts (a full 256 KiB snap length leaves
# room for only a few packets in the ring).
# Everything made here (namespaces and their veths) is named with a unique prefix and removed by the
# EXIT trap, also on failure.
set -euo pipefail

CHECKSUM=0
if [ "${1:-}" = "--checksum" ]; then
  CHECKSUM=1
  shift
fi
OUT="${1:-test/fixtures/kernel-mptcp.pcap}"
# shellcheck source=lib/capture-lab.sh
. "$(dirname "$0")/lib/capture-lab.sh"
capture_lab_init capture-kernel-fixture mpfx
PORT=5201
capture_lab_require 1
capture_lab_netns
for i in 0 1; do
  capture_lab_veth "$i"
  ip -n "$NS_C" addr add "10.77.$((i + 1)).1/24" dev "${P}c$i"
  ip -n "$NS_S" addr add "10.77.$((i + 1)).2/24" dev "${P}s$i"
done
for ns in "$NS_C" "$NS_S"; do
  [ "$CHECKSUM" = 1 ] && ip netns exec "$ns" sysctl -qw net.mptcp.checksum_enabled=1
  ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0
  ip netns exec "$ns" sysctl -qw net.ipv4.conf.default.rp_filter=0
  ip -n "$ns" mptcp limits set subflow 2 add_addr_accepted 2
done
# Source-based routing on the client so that a subflow from 10.77.2.1 leaves on path 1.
ip -n "$NS_C" rule add from 10.77.2.1 table 102
ip -n "$NS_C" route add 10.77.2.0/24 dev "${P}c1" table 102
ip -n "$NS_C" route add 10.77.1.0/24 via 10.77.2.2 dev "${P}c1" table 102
ip -n "$NS_S" rule add from 10.77.2.2 table 102
ip -n "$NS_S" route add 10.77.2.0/24 dev "${P}s1" table 102
ip -n "$NS_S" route add 10.77.1.0/24 via 10.77.2.1 dev "${P}s1" table 102

ip -n "$NS_S" mptcp endpoint add 10.77.2.2 dev "${P}s1" id 1 signal
ip -n "$NS_C" mptcp endpoint add 10.77.2.1 dev "${P}c1" id 1 subflow

capture_lab_tcpdump any 1600 "tcp port $PORT"

cat >"$WORK/peer.py" <<'EOF'
import socket, subprocess, sys, time
IPPROTO_MPTCP = 262
CHUNK = 1200
BURST = 4
ROUNDS = 8
role, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

def recv_exact(s, n):
    got = b''
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            raise SystemExit('peer closed early')
        got += b
    return got

def burst(s, i):
    # Back-to-back sends: while one chunk is still queued on a subflow, the in-kernel scheduler
    # picks the other (idle) subflow for the next one, so both subflows carry data.
    for j in range(BURST):
        s.sendall(bytes([(i * BURST + j) & 0xff]) * CHUNK)

def pm(*args):
    # Path-manager change in this peer's namespace (ip netns exec is inherited).
    subprocess.run(['ip', 'mptcp', 'endpoint', *args], check=True)

def exchange(s, first):
    # Ping-pong: one burst each way per round, with a small pause between rounds.
    for i in range(ROUNDS):
        if first and i == ROUNDS - 2:
            # The client marks its joined subflows backup: MP_PRIO on them.
            pm('change', 'id', '1', 'backup')
            time.sleep(0.1)
        if first:
            burst(s, i)
            recv_exact(s, CHUNK * BURST)
        else:
            recv_exact(s, CHUNK * BURST)
            burst(s, i + 128)
        time.sleep(0.03)

if role == 'server':
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1)
    print('ready', flush=True)
    c, _ = ls.accept()
    exchange(c, False)
    time.sleep(0.2)  # everything acknowledged
    pm('delete', 'id', '1')  # withdraw the announced address: REMOVE_ADDR
    # Wait for the client's DATA_FIN, then close (our DATA_FIN).
    while c.recv(4096):
        pass
    c.close()
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    s.connect((host, port))
    time.sleep(0.5)  # let the PM open the MP_JOIN subflows
    exchange(s, True)
    time.sleep(0.6)  # after the server's REMOVE_ADDR
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()
EOF

ip netns exec "$NS_S" python3 "$WORK/peer.py" server 0.0.0.0 "$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do grep -q ready "$WORK/server.log" 2>/dev/null && break; sleep 0.1; done
ip netns exec "$NS_C" timeout 30 python3 "$WORK/peer.py" client 10.77.1.2 "$PORT"
wait "$SERVER_PID"
SERVER_PID=""
sleep 1
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
TCPDUMP_PID=""

mkdir -p "$(dirname "$OUT")"
cp "$WORK/cap.pcap" "$OUT"
grep -E "captured|dropped" "$WORK/tcpdump.log" >&2 || true
# A capture with drops would not decode cleanly (missing mappings): refuse it.
capture_lab_drops_ok || exit 1
echo "capture-kernel-fixture: wrote $OUT ($(stat -c %s "$OUT") bytes)" >&2
