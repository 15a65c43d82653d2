#!/usr/bin/env node
// V8's heap defaults are sized for throughput; the agent allocates fast and
// keeps little (a live heap of ~30 MB), so they would let the young generation
// grow to 32 MB and dead objects pile up in the old one to several times the
// live size. The collector reads these flags as it sizes the heap, so set here
// they hold whatever the command line: the young generation keeps its initial
// size while modules load (the agent then lets it grow to its working size,
// agent/cli/agent-command.ts), and the old one is collected once it grows by
// half. A young collection finds ~60 KB alive: the main thread does it
// alone, without waking helper threads that the traced workload keeps busy
// on the same cores. Measured at 10,000 req/s in docs/performance.md.
import v8 from 'node:v8';

v8.setFlagsFromString('--semi-space-growth-factor=1');
v8.setFlagsFromString('--heap-growing-percent=50');
v8.setFlagsFromString('--no-parallel-scavenge');

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
