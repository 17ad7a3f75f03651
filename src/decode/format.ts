/** Human-readable rendering of a DecodeResult (the default output of `mptcp decode`). Pure. */
import type { DecodedConnection, DecodedSubflow, DecodeResult } from './model.js';

function subflowLine(sf: DecodedSubflow): string {
  let verdict: string = sf.join;
  if (sf.join !== 'initial') {
    verdict = `join ${sf.join}`;
    if (sf.hmac) verdict += ` (SYN/ACK HMAC ${sf.hmac.synAck}, ACK HMAC ${sf.hmac.ack})`;
    verdict += `, token ${sf.token}`;
  }
  const flags = [sf.backup ? 'backup' : '', sf.reset ? 'reset' : ''].filter(Boolean).join(', ');
  return (
    `  subflow ${sf.src} -> ${sf.dst}  ${verdict}${flags ? `  [${flags}]` : ''}\n` +
    `    bytes ${sf.bytes} (${sf.bytesSrcToDst} ->, ${sf.bytesDstToSrc} <-), mappings ${sf.mappings.checked} checked, ${sf.mappings.mismatched} mismatched`
  );
}

function connectionText(c: DecodedConnection, n: number): string[] {
  const lines: string[] = [];
  const side = (role: 'client' | 'server'): string => {
    const k = c.keys[role];
    if (k === undefined) return `${role} key not seen`;
    return `${role} key ${k} (token ${c.tokens[role === 'client' || c.keys.client === undefined ? 0 : 1]})`;
  };
  lines.push(
    `connection ${n}: MPTCP v${c.version}${c.fallback ? ', fell back to TCP' : ''}${c.checksums ? ', DSS checksums' : ''}`,
  );
  lines.push(`  ${side('client')}`);
  lines.push(`  ${side('server')}`);
  for (const sf of c.subflows) lines.push(subflowLine(sf));
  for (const a of c.addAddrs) {
    const addr = a.port !== undefined ? `${a.address} port ${a.port}` : a.address;
    lines.push(
      `  ADD_ADDR${a.echo ? ' echo' : ''} from ${a.from}: id ${a.addressId} ${addr}${a.echo ? '' : `, HMAC ${a.hmac}`}`,
    );
  }
  for (const r of c.removeAddrs) lines.push(`  REMOVE_ADDR from ${r.from}: ids ${r.addressIds.join(', ')}`);
  for (const sf of c.subflows) {
    for (const p of sf.prio)
      lines.push(`  MP_PRIO from ${p.from} on ${sf.src} -> ${sf.dst}: backup ${p.backup}`);
  }
  lines.push(`  DATA_FIN: ${c.dataFin ? `from ${c.dataFinFrom.join(' and ')}` : 'not seen'}`);
  if (c.fastclose) lines.push('  MP_FASTCLOSE seen');
  if (c.mpFail > 0) lines.push(`  MP_FAIL seen ${c.mpFail} times`);
  lines.push(
    `  DSS mappings: ${c.mappings.checked} checked, ${c.mappings.mismatched} mismatched` +
      (c.mappings.unmappedSegments ? `, ${c.mappings.unmappedSegments} unmapped segments` : ''),
  );
  if (c.checksums || c.dssChecksums.verified + c.dssChecksums.failed > 0) {
    lines.push(`  DSS checksums: ${c.dssChecksums.verified} verified, ${c.dssChecksums.failed} failed`);
  }
  for (const p of c.problems) lines.push(`    ${p}`);
  return lines;
}

export function formatDecodeResult(r: DecodeResult): string {
  const lines: string[] = [];
  r.connections.forEach((c, i) => {
    lines.push(...connectionText(c, i + 1));
  });
  if (r.connections.length === 0) lines.push('no MPTCP connection found');
  for (const j of r.unmatchedJoins) lines.push(`MP_JOIN to unknown token ${j.token}: ${j.src} -> ${j.dst}`);
  const s = r.stats;
  lines.push(`${s.packets} packets, ${s.tcpSegments} TCP segments, ${s.mptcpSegments} with MPTCP options`);
  if (s.truncatedBytes > 0) {
    lines.push(
      `warning: ${s.truncatedBytes} bytes cut by the capture's snap length: mappings cannot all be checked`,
    );
  }
  if (s.untrackedSegments > 0)
    lines.push(`${s.untrackedSegments} MPTCP segments of subflows whose SYN was not captured`);
  return lines.join('\n');
}
