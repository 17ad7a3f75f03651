/**
 * The `mptcp` command line: a table of subcommands, each in its own module under ./commands/,
 * loaded lazily so that `mptcp decode` does not load koffi and `mptcp demo` does not load netlink.
 *
 * A command module exports `run(argv: string[]): Promise<number>` (the exit status) and `summary`.
 * UsageError → message + exit 2; any other error → message + exit 1.
 */
import { UsageError } from './usage-error.js';

export interface CommandModule {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

interface CommandEntry {
  summary: string;
  load: () => Promise<CommandModule>;
}

/** name → one-line summary and lazy loader. Add one entry per command, kept in alphabetical order. */
const COMMANDS: Record<string, CommandEntry> = {
  connect: {
    summary: 'userspace MPTCP client over one or more paths (stdin/stdout, or a bulk transfer)',
    load: () => import('./commands/connect.js'),
  },
  decode: {
    summary: 'decode MPTCP connections from a pcap/pcapng capture (keys, tokens, joins, HMACs)',
    load: () => import('./commands/decode.js'),
  },
  demo: {
    summary: 'failover demo: two emulated paths, the primary cut mid-stream, nothing lost (no root)',
    load: () => import('./commands/demo.js'),
  },
  endpoint: {
    summary: 'manage kernel MPTCP path-manager endpoints (like ip mptcp endpoint)',
    load: () => import('./commands/endpoint.js'),
  },
  get: {
    summary: 'fetch an http:// URL over kernel MPTCP and show both ends of the connection',
    load: () => import('./commands/get.js'),
  },
  lab: {
    summary: 'build or remove a packet-level lab topology (network namespaces, tbf, nftables loss)',
    load: () => import('./commands/lab.js'),
  },
  limits: {
    summary: 'show or set kernel MPTCP path-manager limits (like ip mptcp limits)',
    load: () => import('./commands/limits.js'),
  },
  monitor: {
    summary: 'print kernel MPTCP path-manager events (like ip mptcp monitor)',
    load: () => import('./commands/monitor.js'),
  },
  pm: {
    summary: 'run a path-manager controller (fullmesh, ndiffports:N, backup-on-rto…) on kernel MPTCP',
    load: () => import('./commands/pm.js'),
  },
  serve: {
    summary: 'userspace MPTCP server on one or more ports (echo, discard or stdout)',
    load: () => import('./commands/serve.js'),
  },
  'serve-status': {
    summary: 'HTTP status server on a kernel MPTCP listener (GET /status reports the connection)',
    load: () => import('./commands/serve-status.js'),
  },
  status: {
    summary: 'connections and subflows of running mptcp serve/connect processes (like ss -M)',
    load: () => import('./commands/status.js'),
  },
};

export function helpText(): string {
  const lines = [
    'mptcp: Multipath TCP (RFC 8684) for Node.js',
    '',
    'usage: mptcp <command> [options]   (mptcp <command> --help for its options)',
    '',
    'commands:',
  ];
  for (const [name, entry] of Object.entries(COMMANDS).sort())
    lines.push(`  ${name.padEnd(14)} ${entry.summary}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(helpText());
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    console.error(`mptcp: unknown command '${name}'\n\n${helpText()}`);
    return 2;
  }
  const mod = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${mod.summary}\n\n${mod.usage}`);
    return 0;
  }
  try {
    return await mod.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`mptcp ${name}: ${err.message}\n\n${mod.usage}`);
      return 2;
    }
    console.error(`mptcp ${name}: ${(err as Error)?.message ?? err}`);
    return 1;
  }
}
