/**
 * `mptcp serve`: a userspace MPTCP server on one or more ports (echo, discard, or print to stdout),
 * with a scheduler and an optional path-manager controller; `mptcp status` can see it.
 */
import type { MptcpSocket } from '../../node/index.js';
import { createServer } from '../../node/index.js';
import { enableKernelTcpInfo } from '../../node/mptcp-socket.js';
import { connectionRow, exposeStatus } from '../../node/status-endpoint.js';
import { parseCommandArgs, stringOption } from '../args.js';
import { SUBFLOW_OPTION_SPECS, subflowOptions } from '../subflow-options.js';
import { UsageError } from '../usage-error.js';
import { untilStopSignal } from '../stop-signal.js';

export const summary = 'userspace MPTCP server on one or more ports (echo, discard or stdout)';
export const usage = `usage: mptcp serve --port P[,P…] [--host H] [--mode echo|discard|stdout]
                   [--scheduler S] [--congestion CC] [--controller C] [--announce ID=ADDR:PORT,…] [--json]
  --port        ports to listen on (comma-separated; 0 for an ephemeral port)
  --host        address to listen on (default 127.0.0.1)
  --mode        echo (default): send back what arrives; discard; stdout: print it
  --scheduler   minrtt (default), roundrobin, redundant, blest, ecf
  --congestion  TCP congestion control of every subflow (Linux), e.g. cubic; default: the system's
  --controller  a path-manager controller for each connection (see mptcp pm run --help)
  --announce    addresses to announce with ADD_ADDR, e.g. 1=127.0.0.1:9001
Prints one JSON line per event with --json. Stops on SIGINT/SIGTERM.`;

export function parsePorts(raw: string | undefined): number[] {
  if (raw === undefined) throw new UsageError('--port is required');
  const ports = raw.split(',').map((p) => Number(p.trim()));
  if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) {
    throw new UsageError(`--port takes port numbers (0-65535), got '${raw}'`);
  }
  return ports;
}

function parseAnnounce(raw: string | undefined): Array<{ addressId: number; address: string; port: number }> {
  if (raw === undefined) return [];
  return raw.split(',').map((item) => {
    const m = /^(\d+)=(.+):(\d+)$/.exec(item.trim());
    if (!m) throw new UsageError(`--announce takes ID=ADDRESS:PORT, got '${item}'`);
    return { addressId: Number(m[1]), address: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]) };
  });
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      mode: { type: 'string' },
      ...SUBFLOW_OPTION_SPECS,
      controller: { type: 'string' },
      announce: { type: 'string' },
      json: { type: 'boolean' },
    },
    0,
  );
  const ports = parsePorts(stringOption(values, 'port'));
  const host = stringOption(values, 'host') ?? '127.0.0.1';
  const mode = stringOption(values, 'mode') ?? 'echo';
  if (!['echo', 'discard', 'stdout'].includes(mode))
    throw new UsageError(`--mode must be echo, discard or stdout`);
  const { scheduler, congestion } = subflowOptions(values);
  const controllerSpec = stringOption(values, 'controller');
  await enableKernelTcpInfo(); // mptcp status then shows each subflow's kernel cwnd and RTO (Linux)
  const driver = controllerSpec ? await makeDriver(controllerSpec, values.json === true) : undefined;
  const json = values.json === true;
  const log = (o: Record<string, unknown>) => {
    if (json) console.log(JSON.stringify({ t: new Date().toISOString(), ...o }));
    else if (mode !== 'stdout') console.error(Object.values(o).join(' '));
  };
  const server = createServer({
    ...(scheduler ? { scheduler } : {}),
    ...(congestion ? { congestionControl: congestion } : {}),
    announce: parseAnnounce(stringOption(values, 'announce')),
  });
  server.on('connection', (s: MptcpSocket) => {
    log({ event: 'connection', multipath: s.multipath, remote: `${s.remoteAddress}:${s.remotePort}` });
    driver?.attach(s);
    s.on('subflow', (sf: { id: number; remoteAddress?: string; remotePort?: number }) =>
      log({ event: 'subflow-established', id: sf.id, remote: `${sf.remoteAddress}:${sf.remotePort}` }),
    );
    s.on('subflowClosed', (e: { subflowId: number; reason: string }) =>
      log({ event: 'subflow-closed', id: e.subflowId, reason: e.reason }),
    );
    s.on('error', (err: Error) => log({ event: 'error', message: err.message }));
    s.on('close', () => log({ event: 'closed' }));
    if (mode === 'echo') s.pipe(s);
    else if (mode === 'stdout') s.pipe(process.stdout, { end: false });
    else s.resume();
    if (mode !== 'echo') s.on('end', () => s.end());
  });
  server.on('refused', (r: { reason: string }) => log({ event: 'join-refused', reason: r.reason }));
  server.listen(ports.map((port) => ({ port, host })));
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  log({
    event: 'listening',
    addresses: server
      .addresses()
      .map((a) => `${a.address}:${a.port}`)
      .join(','),
  });
  const status = exposeStatus(() => ({
    pid: process.pid,
    command: 'serve',
    ...(scheduler ? { scheduler } : {}),
    ...(controllerSpec ? { controller: controllerSpec } : {}),
    connections: [...server.connections].map((s) => connectionRow('server', s)),
  }));
  await untilStopSignal();
  status.close();
  driver?.stop();
  for (const s of server.connections) s.destroy();
  server.close();
  return 0;
}

/** A userspace path-manager driver for `--controller`. */
export async function makeDriver(spec: string, json: boolean) {
  const { controllerByName } = await import('../../pm/registry.js');
  const { UserspacePmDriver } = await import('../../pm/userspace-driver.js');
  let controller: ReturnType<typeof controllerByName>;
  try {
    controller = controllerByName(spec);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return new UserspacePmDriver(controller, {
    log: (entry) => {
      if (json) console.log(JSON.stringify({ pm: entry }));
      else console.error(`pm: ${JSON.stringify(entry)}`);
    },
  });
}
