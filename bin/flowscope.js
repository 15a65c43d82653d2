#!/usr/bin/env node
// The agent allocates fast and keeps little (its live heap is ~30 MB), so V8's
// defaults, sized for throughput, would let the young generation grow to 32 MB
// and dead objects pile up in the old one to twice the live size. The collector
// reads both flags as it sizes the heap, so they work set here, whatever the
// command line; set before anything is loaded, the young generation stays at
// its initial size. Measured at 10,000 req/s: RSS 201 MB -> 125 MB
// (docs/performance.md). CLI commands are short-lived and do not mind.
import v8 from 'node:v8';

v8.setFlagsFromString('--semi-space-growth-factor=1');
v8.setFlagsFromString('--heap-growing-percent=25');

import('../dist/agent/cli/main.js')
  .then((m) => m.main(process.argv.slice(2)))
  .catch((err) => {
    if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
      console.error('flowscope: not built yet (fix: run `npm run build` or `bash packaging/setup.sh`)');
    } else {
      console.error(`flowscope: ${err && err.message ? err.message : err}`);
    }
    process.exit(1);
  });
