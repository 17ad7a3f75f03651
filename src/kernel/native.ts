/**
 * The few libc calls kernel MPTCP sockets need, declared through koffi (src/native/libc.ts).
 *
 * Why koffi and not a C++ addon: koffi ships prebuilt binaries for every platform inside its npm
 * package, so installing `mptcp` needs no compiler, no node-gyp and no Python; the calls here are a
 * handful of plain syscalls that koffi binds at runtime.
 *
 * Every call here is non-blocking: socket/bind/listen/setsockopt/getsockopt/dup3/close never wait
 * on the network (connect is left to libuv). Failures throw NativeCallError carrying errno.
 */
import { errno, koffi, libcFunction, NativeCallError } from '../native/libc.js';

function fn(signature: string) {
  return libcFunction(signature);
}

export function sysSocket(domain: number, type: number, protocol: number): number {
  const fd = fn('int socket(int, int, int)')(domain, type, protocol) as number;
  if (fd < 0) throw new NativeCallError('socket', errno());
  return fd;
}

export function sysClose(fd: number): void {
  fn('int close(int)')(fd);
}

export function sysBind(fd: number, addr: Buffer): void {
  if ((fn('int bind(int, const void *, uint32_t)')(fd, addr, addr.length) as number) !== 0) {
    throw new NativeCallError('bind', errno());
  }
}

export function sysListen(fd: number, backlog: number): void {
  if ((fn('int listen(int, int)')(fd, backlog) as number) !== 0) throw new NativeCallError('listen', errno());
}

/** dup3(oldfd, newfd, O_CLOEXEC): makes `newfd` refer to `oldfd`'s socket. */
export function sysDup3(oldfd: number, newfd: number, flags: number): void {
  if ((fn('int dup3(int, int, int)')(oldfd, newfd, flags) as number) < 0)
    throw new NativeCallError('dup3', errno());
}

export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  if ((fn('int setsockopt(int, int, int, const void *, uint32_t)')(fd, level, name, b, 4) as number) !== 0) {
    throw new NativeCallError('setsockopt', errno(), `level ${level} name ${name}`);
  }
}

/** getsockopt into `buf` (in/out: the kernel may read it first); returns the bytes written, or -errno. */
export function getsockoptRaw(fd: number, level: number, name: number, buf: Buffer): number {
  const len = [buf.length];
  const rc = fn('int getsockopt(int, int, int, _Inout_ void *, _Inout_ uint32_t *)')(
    fd,
    level,
    name,
    buf,
    len,
  );
  if ((rc as number) !== 0) return -errno();
  return len[0]!;
}

/** The address of a Buffer's memory, for structs that carry user pointers (MPTCP_FULL_INFO). */
export function bufferAddress(buf: Buffer): bigint {
  return (koffi().address as (b: Buffer) => bigint)(buf);
}

const SIOCGSKNS = 0x894c;
const CLONE_NEWNET = 0x40000000;
const O_RDONLY_CLOEXEC = 0o2000000;

/**
 * Runs `fn` with the calling thread in the network namespace of socket `fd` (ioctl SIOCGSKNS +
 * setns), then switches back. Used to make a replacement socket where the original one lives, even
 * when the original was made inside withNetns and we are now in a callback outside it.
 * Where SIOCGSKNS is not permitted, `fn` runs in the current namespace.
 */
export function inSocketNamespace<T>(fd: number, fn: () => T): T {
  const ioctl = libcFunction('int ioctl(int, unsigned long, ...)');
  const nsfd = ioctl(fd, SIOCGSKNS) as number;
  if (nsfd < 0) return fn();
  const open = libcFunction('int open(const char *, int)');
  const setns = libcFunction('int setns(int, int)');
  const original = open('/proc/thread-self/ns/net', O_RDONLY_CLOEXEC) as number;
  try {
    if (original < 0 || (setns(nsfd, CLONE_NEWNET) as number) !== 0) return fn();
    let result: { value: T } | { error: unknown };
    try {
      result = { value: fn() };
    } catch (error) {
      result = { error };
    }
    if ((setns(original, CLONE_NEWNET) as number) !== 0) throw new NativeCallError('setns', errno(), 'back');
    if ('error' in result) throw result.error;
    return result.value;
  } finally {
    if (original >= 0) sysClose(original);
    sysClose(nsfd);
  }
}
