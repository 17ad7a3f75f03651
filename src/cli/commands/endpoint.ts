/**
 * `mptcp endpoint add|del|change|show|flush`: endpoints of the kernel's in-kernel path manager over
 * generic netlink, with the syntax of `ip mptcp endpoint` (iproute2). Acts on the network namespace
 * the process runs in (use `ip netns exec NS mptcp endpoint …`).
 */
import { parseCommandArgs } from '../args.js';
import { UsageError } from '../usage-error.js';
import { ifIndexToName, ifNameToIndex } from '../../netlink/ifname.js';
import { type AddEndpointOptions, type MptcpEndpoint, MptcpPmClient } from '../../netlink/mptcp-pm-client.js';
import {
  addressBytes,
  type EndpointFlagName,
  endpointFlagNames,
  MPTCP_PM_ADDR_FLAG,
  PmAddressError,
} from '../../netlink/mptcp-pm.js';

export const summary = 'manage kernel MPTCP path-manager endpoints (like ip mptcp endpoint)';
export const usage = `usage: mptcp endpoint add ADDR [port PORT] [dev IFNAME] [id ID] [signal] [subflow] [backup] [fullmesh] [--json]
       mptcp endpoint del id ID [ADDR] [--json]
       mptcp endpoint change id ID [backup|nobackup] [fullmesh|nofullmesh] [--json]
       mptcp endpoint show [id ID] [--json]
       mptcp endpoint flush [--json]

Acts on the current network namespace; changes need CAP_NET_ADMIN.`;

export type EndpointCommand =
  | { action: 'add'; endpoint: AddEndpointOptions; dev?: string }
  | { action: 'del'; id: number; addr?: string }
  | { action: 'change'; id: number; set: EndpointFlagName[]; clear: EndpointFlagName[] }
  | { action: 'show'; id?: number }
  | { action: 'flush' };

function parseNumber(what: string, raw: string | undefined, max: number): number {
  if (raw === undefined) throw new UsageError(`'${what}' needs a value`);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(n) || n > max)
    throw new UsageError(`${what} must be an integer 0..${max}, got '${raw}'`);
  return n;
}

function parseAddr(raw: string): string {
  try {
    addressBytes(raw);
  } catch (err) {
    if (err instanceof PmAddressError) throw new UsageError(err.message);
    throw err;
  }
  return raw;
}

const FLAG_WORDS = new Set<string>(Object.keys(MPTCP_PM_ADDR_FLAG).filter((f) => f !== 'implicit'));

/** Parses the words after `endpoint` (iproute2 syntax). Throws UsageError. */
export function parseEndpointCommand(words: readonly string[]): EndpointCommand {
  const [verb, ...rest] = words;
  let id: number | undefined;
  let port: number | undefined;
  let dev: string | undefined;
  let addr: string | undefined;
  const flags: EndpointFlagName[] = [];
  const changes: EndpointFlagName[] = [];
  let backupOff = false;
  let fullmeshOff = false;
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (w === 'id') id = parseNumber('id', rest[++i], 255);
    else if (w === 'port') port = parseNumber('port', rest[++i], 65535);
    else if (w === 'dev') {
      dev = rest[++i];
      if (dev === undefined) throw new UsageError(`'dev' needs an interface name`);
    } else if (FLAG_WORDS.has(w)) flags.push(w as EndpointFlagName);
    else if (w === 'nobackup') backupOff = true;
    else if (w === 'nofullmesh') fullmeshOff = true;
    else if (addr === undefined && !/^[a-z]+$/.test(w)) addr = parseAddr(w);
    else throw new UsageError(`unexpected argument '${w}'`);
  }
  switch (verb) {
    case 'add': {
      if (addr === undefined) throw new UsageError('endpoint add needs an address');
      if (backupOff || fullmeshOff) throw new UsageError('nobackup/nofullmesh only apply to change');
      const endpoint: AddEndpointOptions = { addr, flags };
      if (id !== undefined) endpoint.id = id;
      if (port !== undefined) endpoint.port = port;
      return dev === undefined ? { action: 'add', endpoint } : { action: 'add', endpoint, dev };
    }
    case 'del':
    case 'delete':
      if (id === undefined) throw new UsageError('endpoint del needs id ID');
      if (flags.length > 0 || port !== undefined || dev !== undefined)
        throw new UsageError('endpoint del takes only id ID [ADDR]');
      return addr === undefined ? { action: 'del', id } : { action: 'del', id, addr };
    case 'change':
      if (id === undefined) throw new UsageError('endpoint change needs id ID');
      for (const f of flags) {
        if (f !== 'backup' && f !== 'fullmesh') throw new UsageError(`endpoint change cannot set '${f}'`);
        changes.push(f);
      }
      if (!backupOff && !fullmeshOff && changes.length === 0)
        throw new UsageError('endpoint change needs backup|nobackup|fullmesh|nofullmesh');
      return {
        action: 'change',
        id,
        set: changes,
        clear: [...(backupOff ? ['backup' as const] : []), ...(fullmeshOff ? ['fullmesh' as const] : [])],
      };
    case 'show':
    case 'list':
      if (addr !== undefined || flags.length > 0) throw new UsageError('endpoint show takes only [id ID]');
      return id === undefined ? { action: 'show' } : { action: 'show', id };
    case 'flush':
      if (rest.length > 0) throw new UsageError('endpoint flush takes no arguments');
      return { action: 'flush' };
    case undefined:
      throw new UsageError('missing action: add, del, change, show or flush');
    default:
      throw new UsageError(`unknown action '${verb}'`);
  }
}

/** One line like `ip mptcp endpoint show`: `10.0.0.1 port 80 id 1 signal backup dev eth0`. */
export function formatEndpoint(ep: MptcpEndpoint): string {
  let line = ep.addr;
  if (ep.port) line += ` port ${ep.port}`;
  line += ` id ${ep.id}`;
  const names = endpointFlagNames(ep.flags);
  if (names.length > 0) line += ` ${names.join(' ')}`;
  if (ep.ifindex) line += ` dev ${ifIndexToName(ep.ifindex) ?? `if${ep.ifindex}`}`;
  return line;
}

function endpointJson(ep: MptcpEndpoint): Record<string, unknown> {
  const out: Record<string, unknown> = { address: ep.addr, id: ep.id, flags: endpointFlagNames(ep.flags) };
  if (ep.port) out.port = ep.port;
  if (ep.ifindex) out.dev = ifIndexToName(ep.ifindex) ?? ep.ifindex;
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
  const json = values.json === true;
  const cmd = parseEndpointCommand(positionals);
  if (cmd.action === 'add' && cmd.dev !== undefined) {
    const idx = ifNameToIndex(cmd.dev);
    if (idx === undefined) throw new UsageError(`no interface '${cmd.dev}'`);
    cmd.endpoint.ifindex = idx;
  }
  const client = await MptcpPmClient.open();
  try {
    switch (cmd.action) {
      case 'add':
        await client.addEndpoint(cmd.endpoint);
        break;
      case 'del':
        await client.deleteEndpoint(cmd.id, cmd.addr);
        break;
      case 'change': {
        const current = await client.getEndpoint(cmd.id);
        let flags = current.flags & (MPTCP_PM_ADDR_FLAG.backup | MPTCP_PM_ADDR_FLAG.fullmesh);
        for (const f of cmd.set) flags |= MPTCP_PM_ADDR_FLAG[f];
        for (const f of cmd.clear) flags &= ~MPTCP_PM_ADDR_FLAG[f];
        await client.setFlags({ id: cmd.id }, flags);
        break;
      }
      case 'show': {
        const eps = cmd.id === undefined ? await client.dumpEndpoints() : [await client.getEndpoint(cmd.id)];
        if (json) console.log(JSON.stringify(eps.map(endpointJson)));
        else for (const ep of eps) console.log(formatEndpoint(ep));
        return 0;
      }
      case 'flush':
        await client.flushEndpoints();
        break;
    }
    if (json) console.log(JSON.stringify({ ok: true, action: cmd.action }));
    return 0;
  } finally {
    await client.close();
  }
}
