/**
 * Lazy access to the C library through koffi (an FFI library that ships prebuilt binaries in its npm
 * package, so `npm ci` needs no compiler). Modules declare the functions they need with
 * `libcFunction('int socket(int, int, int)')`; declarations are cached by signature.
 *
 * Nothing here blocks: callers must only declare non-blocking calls (or use koffi's `.async`).
 */
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';

const require = createRequire(import.meta.url);

// biome-ignore lint/suspicious/noExplicitAny: koffi's function objects are untyped.
type NativeFunction = (...args: any[]) => any;

interface Koffi {
  load(path: string): { func(signature: string): NativeFunction };
  errno(): number;
  // biome-ignore lint/suspicious/noExplicitAny: koffi types are loose.
  [key: string]: any;
}

let koffiModule: Koffi | undefined;
let libcHandle: { func(signature: string): NativeFunction } | undefined;
const cache = new Map<string, NativeFunction>();

/** The koffi module itself (loaded on first use). */
export function koffi(): Koffi {
  koffiModule ??= require('koffi') as Koffi;
  return koffiModule;
}

/** Declares (once) and returns a libc function by its C prototype. */
export function libcFunction(signature: string): NativeFunction {
  let fn = cache.get(signature);
  if (!fn) {
    libcHandle ??= koffi().load('libc.so.6');
    fn = libcHandle.func(signature);
    cache.set(signature, fn);
  }
  return fn;
}

/** The calling thread's errno after the last native call. */
export function errno(): number {
  return koffi().errno();
}

/** Symbolic name of an errno value ("EPERM"), or "E<n>" when unknown. */
export function errnoName(code: number): string {
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === code) return name;
  return `E${code}`;
}

/** An error from a native call, carrying errno and its name like Node's system errors. */
export class NativeCallError extends Error {
  override readonly name = 'NativeCallError';
  readonly code: string;
  constructor(
    readonly syscall: string,
    readonly errno: number,
    detail?: string,
  ) {
    super(`${syscall} failed: ${errnoName(errno)}${detail ? ` (${detail})` : ''}`);
    this.code = errnoName(errno);
  }
}
