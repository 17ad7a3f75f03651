#!/usr/bin/env node
/**
 * Builds the optional native parts (native/*.c) into build/native/ with the system C compiler
 * ($CC, else cc, gcc or clang). Optional: where there is no compiler (or not Linux) it says so and
 * exits 0, and the code that would load them uses its JS path (src/pm/native-reflex.ts).
 * Part of `npm run build` (and so of `npm ci`, `npm test` and `npm run bench`).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const LIBS = [{ source: 'native/pm-reflex.c', output: 'build/native/libmptcp-pm-reflex.so' }];

function compilers() {
  return [process.env.CC, 'cc', 'gcc', 'clang'].filter((c) => typeof c === 'string' && c.length > 0);
}

function upToDate(source, output) {
  try {
    return statSync(output).mtimeMs >= statSync(source).mtimeMs;
  } catch {
    return false;
  }
}

if (process.platform !== 'linux') {
  console.log('native: not Linux, nothing to build (the JS paths are used)');
  process.exit(0);
}
for (const { source, output } of LIBS) {
  const src = join(root, source);
  const out = join(root, output);
  if (upToDate(src, out)) continue;
  mkdirSync(dirname(out), { recursive: true });
  let built = false;
  const tried = [];
  for (const cc of compilers()) {
    const r = spawnSync(cc, ['-O2', '-Wall', '-shared', '-fPIC', '-pthread', '-o', out, src], {
      encoding: 'utf8',
    });
    if (r.error) {
      tried.push(`${cc}: ${r.error.code ?? r.error.message}`);
      continue;
    }
    if (r.status === 0) {
      built = true;
      if (r.stderr.trim()) console.warn(r.stderr.trim());
      break;
    }
    tried.push(`${cc}: exit ${r.status}: ${r.stderr.trim().split('\n').slice(0, 5).join(' | ')}`);
  }
  console.log(
    built
      ? `native: built ${output}`
      : `native: could not build ${output} (${tried.join('; ')}): the JS path is used instead`,
  );
}
