/** Test helper: why kernel path-manager tests cannot run here (or false when they can). */
import { existsSync } from 'node:fs';
import { netnsAvailable } from '../../src/lab/netns.js';

export function kernelPmSkipReason(): string | false {
  const ns = netnsAvailable();
  if (!ns.ok) return ns.reason;
  if (!existsSync('/proc/sys/net/mptcp/enabled')) return 'kernel without MPTCP (/proc/sys/net/mptcp missing)';
  return false;
}

/** python3 MPTCP server: prints its port, accepts one connection, reads until EOF. */
export const PY_SERVER = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 0))
s.listen(4)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
while c.recv(65536):
    pass
c.close()
`;

/** python3 MPTCP client: connects to argv[1]:argv[2], sends, prints "up", closes when stdin ends. */
export const PY_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(b"x" * 1000)
print("up", flush=True)
sys.stdin.read()
s.close()
`;
