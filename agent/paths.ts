// Files the agent needs at run time, resolved from the package root so that the
// source tree (tests) and the compiled tree (dist/) find the same files.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'agent'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`flowscope package root not found above ${start}`);
    dir = parent;
  }
}

export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

export const paths = {
  flowProto: join(packageRoot, 'agent', 'schema', 'flowscope.proto'),
  bpfObject: join(packageRoot, 'bpf', 'build', 'flowscope.bpf.o'),
  nativeLibrary: join(packageRoot, 'native', 'build', 'libflowscope.so'),
};
