/**
 * Network-namespace helper for tests and the lab: builds small topologies with iproute2.
 *
 * Contract:
 * - Every command runs through execFileSync/spawn with an argument array (never a shell string).
 * - Every namespace and host-side link created here is recorded in a cleanup registry and removed by
 *   `cleanupAll()`, on process exit, and on SIGINT/SIGTERM. Names carry a per-run prefix
 *   `<prefix>-<pid>-<n>` so parallel runs never collide and leftovers are attributable.
 * - `netnsAvailable()` answers by creating and deleting a probe namespace (cached for the process).
 * - `withNetns(name, fn)` runs `fn` synchronously with the calling thread switched into the namespace
 *   (setns(2) through koffi) and always switches back; sockets created synchronously inside stay there.
 *   Anything `fn` starts asynchronously (dns.lookup, libuv thread pool work) runs outside the namespace.
 */
import { type ChildProcess, execFile, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { errno, errnoName, libcFunction, NativeCallError } from '../native/libc.js';

/** Linux limit on interface names (IFNAMSIZ - 1). */
export const IFNAME_MAX_CHARS = 15;
/** Upper bound on captured output of one command (bytes). */
export const EXEC_MAX_BUFFER_BYTES = 16 * 1024 * 1024;
/** Default time limit of one synchronous command (ms). */
export const EXEC_TIMEOUT_MS = 30_000;
const CLONE_NEWNET = 0x40000000;

export class NetnsError extends Error {
  override readonly name = 'NetnsError';
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type Availability = { ok: true } | { ok: false; reason: string };

let counter = 0;
let availability: Availability | undefined;

/** Runs a program synchronously with an argument array; never throws on a non-zero exit. */
export function run(cmd: string, args: readonly string[], timeoutMs = EXEC_TIMEOUT_MS): ExecResult {
  try {
    const stdout = execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: EXEC_MAX_BUFFER_BYTES,
      timeout: timeoutMs,
    });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number | null; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.status === 'number' ? e.status : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr || e.message,
    };
  }
}

/** Runs a program without blocking the event loop; resolves (never rejects) with its exit status. */
export function runAsync(
  cmd: string,
  args: readonly string[],
  timeoutMs = EXEC_TIMEOUT_MS,
): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args as string[],
      { encoding: 'utf8', maxBuffer: EXEC_MAX_BUFFER_BYTES, timeout: timeoutMs },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        const code =
          typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
        resolve({ code, stdout, stderr: stderr || err.message });
      },
    );
  });
}

function must(cmd: string, args: readonly string[]): string {
  const r = run(cmd, args);
  if (r.code !== 0) throw new NetnsError(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** A unique name `<prefix>-<pid>-<n>`. */
export function uniqueName(prefix = 'mptcp'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/** A unique interface name of at most 15 characters, for links that live in the host namespace. */
export function uniqueIfName(tag = 'v'): string {
  counter += 1;
  const name = `${tag}${process.pid.toString(36)}${counter.toString(36)}`;
  if (name.length > IFNAME_MAX_CHARS) throw new NetnsError(`interface name '${name}' too long`);
  return name;
}

// ---- cleanup registry -------------------------------------------------------------------------

const cleanups = new Map<string, () => void>();
let hooksInstalled = false;

function onSignal(signal: NodeJS.Signals): void {
  cleanupAll();
  process.off(signal, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanupAll);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function register(key: string, fn: () => void): void {
  installHooks();
  cleanups.set(key, fn);
}

/** Removes every namespace and link created by this process (newest first). Safe to call twice. */
export function cleanupAll(): void {
  const entries = [...cleanups.entries()].reverse();
  cleanups.clear();
  for (const [, fn] of entries) {
    try {
      fn();
    } catch {
      // best effort: keep removing the rest
    }
  }
}

// ---- availability -----------------------------------------------------------------------------

/** Whether this process can create network namespaces (root + working `ip netns`); cached. */
export function netnsAvailable(): Availability {
  if (availability) return availability;
  if (process.platform !== 'linux') {
    availability = { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  } else if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    availability = { ok: false, reason: 'network namespaces need root (run the tests as root)' };
  } else {
    const probe = uniqueName('mptcp-probe');
    const add = run('ip', ['netns', 'add', probe]);
    if (add.code !== 0) {
      availability = {
        ok: false,
        reason: `'ip netns add' failed: ${add.stderr.trim() || `status ${add.code}`}`,
      };
    } else {
      const del = run('ip', ['netns', 'del', probe]);
      availability =
        del.code === 0 ? { ok: true } : { ok: false, reason: `'ip netns del' failed: ${del.stderr.trim()}` };
    }
  }
  return availability;
}

// ---- namespaces -------------------------------------------------------------------------------

export class Netns {
  private deleted = false;

  private constructor(readonly name: string) {}

  /** Creates a namespace `<prefix>-<pid>-<n>` with its loopback up; registered for cleanup. */
  static create(prefix = 'mptcp'): Netns {
    const name = uniqueName(prefix);
    must('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    register(`netns:${name}`, () => ns.delete());
    must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** `ip netns exec NAME cmd args…`, synchronously (blocks the event loop: not for talking to in-process servers). */
  exec(cmd: string, args: readonly string[] = [], timeoutMs = EXEC_TIMEOUT_MS): ExecResult {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], timeoutMs);
  }

  /** Like exec, without blocking the event loop. */
  execAsync(cmd: string, args: readonly string[] = [], timeoutMs = EXEC_TIMEOUT_MS): Promise<ExecResult> {
    return runAsync('ip', ['netns', 'exec', this.name, cmd, ...args], timeoutMs);
  }

  /** Spawns `cmd` inside the namespace. */
  spawn(cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** Runs `fn` synchronously with this thread inside the namespace. */
  with<T>(fn: () => T): T {
    return withNetns(this.name, fn);
  }

  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    cleanups.delete(`netns:${this.name}`);
    run('ip', ['netns', 'del', this.name]);
  }
}

type NsRef = Netns | string | null;

function nsName(ns: NsRef): string | null {
  return ns === null ? null : typeof ns === 'string' ? ns : ns.name;
}

function ipArgs(ns: NsRef, args: string[]): string[] {
  const name = nsName(ns);
  return name === null ? args : ['-n', name, ...args];
}

function checkIfName(name: string): void {
  if (name.length === 0 || name.length > IFNAME_MAX_CHARS) {
    throw new NetnsError(`interface name '${name}' must have 1..${IFNAME_MAX_CHARS} characters`);
  }
}

/**
 * Creates a veth pair: `ifA` in `nsA`, `ifB` in `nsB` (null = the host namespace). Both ends are brought up.
 * Links inside a namespace vanish with it; a host-side end is registered for cleanup.
 */
export function vethPair(nsA: NsRef, ifA: string, nsB: NsRef, ifB: string): void {
  checkIfName(ifA);
  checkIfName(ifB);
  const a = nsName(nsA);
  const b = nsName(nsB);
  const args = ['link', 'add', ifA];
  if (a !== null) args.push('netns', a);
  args.push('type', 'veth', 'peer', 'name', ifB);
  if (b !== null) args.push('netns', b);
  must('ip', args);
  if (a === null) register(`link::${ifA}`, () => run('ip', ['link', 'del', ifA]));
  else if (b === null) register(`link::${ifB}`, () => run('ip', ['link', 'del', ifB]));
  linkUp(nsA, ifA);
  linkUp(nsB, ifB);
}

/** Adds an address (`10.0.0.1/24`, `fd00::1/64`; IPv6 without duplicate-address detection). */
export function addAddress(ns: NsRef, ifname: string, cidr: string): void {
  const extra = cidr.includes(':') ? ['nodad'] : [];
  must('ip', ipArgs(ns, ['addr', 'add', cidr, 'dev', ifname, ...extra]));
}

export function linkUp(ns: NsRef, ifname: string): void {
  must('ip', ipArgs(ns, ['link', 'set', ifname, 'up']));
}

export function linkDown(ns: NsRef, ifname: string): void {
  must('ip', ipArgs(ns, ['link', 'set', ifname, 'down']));
}

/** Runs `ip …` in the namespace and returns its stdout (throws NetnsError on failure). */
export function ip(ns: NsRef, args: readonly string[]): string {
  return must('ip', ipArgs(ns, [...args]));
}

/** Sets a sysctl inside the namespace (`net.mptcp.enabled`, `1`). */
export function sysctl(ns: NsRef, key: string, value: string | number): void {
  const name = nsName(ns);
  const args = ['-qw', `${key}=${value}`];
  if (name === null) must('sysctl', args);
  else must('ip', ['netns', 'exec', name, 'sysctl', ...args]);
}

// ---- setns ------------------------------------------------------------------------------------

/**
 * Runs `fn` synchronously with the calling thread switched into network namespace `name`
 * (a name under /var/run/netns, or a Netns), then switches back, even when `fn` throws.
 */
export function withNetns<T>(name: string | Netns, fn: () => T): T {
  const nsname = typeof name === 'string' ? name : name.name;
  const setns = libcFunction('int setns(int, int)');
  const original = openSync('/proc/thread-self/ns/net', 'r');
  let target: number | undefined;
  try {
    target = openSync(`/var/run/netns/${nsname}`, 'r');
    if (setns(target, CLONE_NEWNET) !== 0) {
      throw new NativeCallError('setns', errno(), `into network namespace ${nsname}`);
    }
    let result: { value: T } | { error: unknown };
    try {
      result = { value: fn() };
    } catch (error) {
      result = { error };
    }
    if (setns(original, CLONE_NEWNET) !== 0) {
      // Continuing in the wrong namespace would silently misroute every later socket.
      throw new NetnsError(`setns back to the original network namespace failed: ${errnoName(errno())}`);
    }
    if ('error' in result) throw result.error;
    return result.value;
  } finally {
    if (target !== undefined) closeSync(target);
    closeSync(original);
  }
}
