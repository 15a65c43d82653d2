#!/usr/bin/env node
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
