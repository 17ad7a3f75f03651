#!/usr/bin/env node
import { main } from '../build/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`mptcp: ${err?.message ?? err}`);
    process.exitCode = 1;
  },
);
