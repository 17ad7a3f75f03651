/**
 * `mptcp decode <file> [--json]`: reconstructs the MPTCP connections of a pcap/pcapng capture (keys,
 * tokens, subflows with their MP_JOIN HMAC verdicts, ADD_ADDR/REMOVE_ADDR, bytes per subflow,
 * DATA_FIN, DSS mapping checks) and prints them as text or as JSON (src/decode/model.ts).
 *
 * Exit status: 0 decoded; 1 the file cannot be read or is not a capture this reader understands
 * (one line: `mptcp decode: <file>: <reason> at offset N`); 2 usage error.
 */
import { readFile } from 'node:fs/promises';
import { decodeCapture, formatDecodeResult } from '../../decode/index.js';
import { PcapError } from '../../pcap/errors.js';
import { parseCommandArgs } from '../args.js';
import { UsageError } from '../usage-error.js';

export const summary = 'decode MPTCP connections from a pcap/pcapng capture (keys, tokens, joins, HMACs)';

export const usage = `usage: mptcp decode <file> [--json]

  <file>   a pcap or pcapng capture (Ethernet, Linux cooked v1/v2 or raw IP; IPv4 and IPv6)
  --json   print the result as JSON instead of text`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, 1);
  const file = positionals[0];
  if (file === undefined) throw new UsageError('missing <file>');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    console.error(`mptcp decode: ${file}: ${e.code ?? e.message} at offset 0`);
    return 1;
  }
  let result: ReturnType<typeof decodeCapture>;
  try {
    result = decodeCapture(bytes);
  } catch (err) {
    if (err instanceof PcapError) {
      console.error(`mptcp decode: ${file}: ${err.message} at offset ${err.offset}`);
      return 1;
    }
    throw err;
  }
  console.log(values.json ? JSON.stringify(result, null, 2) : formatDecodeResult(result));
  return 0;
}
