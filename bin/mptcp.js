#!/usr/bin/env node
import { main } from '../build/src/cli/main.js';

// A finished command exits even if a library left a handle behind (long-running commands such as
// serve, monitor or lab up return only when they are told to stop). Output is flushed first.
function exit(code) {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(exit, (err) => {
  console.error(`mptcp: ${err?.message ?? err}`);
  exit(1);
});
