// A small lab of "services" for the detection scenario: each host is a network
// namespace on a private bridge (198.18.10.0/24, the benchmarking range) and
// each service runs as a real process in its own cgroup, so identity can name
// it from its cgroup path. Everything is torn down by `close()`.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { cgroup2Mount } from '../../dist/agent/identity/cgroup-ids.js';

const BRIDGE = 'fsev-br';
const SUBNET = '198.18.10';
const CGROUP_ROOT = `${cgroupV2Root()}/flowscope-eval`;

/**
 * Where cgroup v2 is mounted; mounted at /sys/fs/cgroup/unified when the host
 * has only v1 hierarchies (then /sys/fs/cgroup is a tmpfs holding them).
 */
function cgroupV2Root() {
  const mounted = cgroup2Mount();
  if (mounted) return mounted;
  mkdirSync('/sys/fs/cgroup/unified', { recursive: true });
  execFileSync('mount', ['-t', 'cgroup2', 'none', '/sys/fs/cgroup/unified']);
  return '/sys/fs/cgroup/unified';
}

function ip(...args) {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function tryIp(...args) {
  try {
    ip(...args);
  } catch {
    // Already gone.
  }
}

export class Lab {
  /** @type {Map<string, { ns: string, address: string, cgroup: string }>} */
  hosts = new Map();
  /** @type {import('node:child_process').ChildProcess[]} */
  children = [];

  /** Creates the bridge (removing a stale lab first) and the cgroup root. */
  static create() {
    const lab = new Lab();
    lab.#destroyStale();
    ip('link', 'add', BRIDGE, 'type', 'bridge');
    ip('addr', 'add', `${SUBNET}.254/24`, 'dev', BRIDGE);
    ip('link', 'set', BRIDGE, 'up');
    mkdirSync(CGROUP_ROOT, { recursive: true });
    return lab;
  }

  /** A host `name` at 198.18.10.`index`, with a cgroup of its own. */
  addHost(name, index) {
    const ns = `fsev-${name}`;
    const address = `${SUBNET}.${index}`;
    const outer = `fsev-${name}-o`.slice(0, 15);
    ip('netns', 'add', ns);
    ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('link', 'set', outer, 'master', BRIDGE);
    ip('link', 'set', outer, 'up');
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    const cgroup = `${CGROUP_ROOT}/${name}`;
    mkdirSync(cgroup, { recursive: true });
    const host = { ns, address, cgroup };
    this.hosts.set(name, host);
    return host;
  }

  /**
   * Runs `command args…` on host `name`, inside its cgroup. The process moves
   * itself into the cgroup before exec, so every child it makes is there too.
   */
  spawn(name, command, args, options = {}) {
    const host = this.#host(name);
    // Into the cgroup first: `ip netns exec` mounts a sysfs of its own, without the cgroup tree.
    const child = spawn('sh', ['-c', `echo $$ > ${host.cgroup}/cgroup.procs && exec ip netns exec ${host.ns} "$0" "$@"`, command, ...args], {
      stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    child.stderrText = '';
    child.stderr.on('data', (d) => {
      child.stderrText = (child.stderrText + d.toString()).slice(-4000);
    });
    this.children.push(child);
    return child;
  }

  /** Runs a command on host `name` to completion; resolves with its exit code and output. */
  run(name, command, args, timeoutMs = 30_000) {
    const child = this.spawn(name, command, args, { stdout: 'pipe' });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d.toString();
    });
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        this.children.splice(this.children.indexOf(child), 1);
        resolve({ code, stdout, stderr: child.stderrText });
      });
    });
  }

  address(name) {
    return this.#host(name).address;
  }

  async close() {
    for (const child of this.children) child.kill('SIGTERM');
    await Promise.all(this.children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    this.children = [];
    this.#destroyStale();
  }

  #host(name) {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no lab host ${name}`);
    return host;
  }

  /** Removes every namespace, link and cgroup a lab (this one or a crashed one) made. */
  #destroyStale() {
    let names = [];
    try {
      names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]).filter((n) => n?.startsWith('fsev-'));
    } catch {
      // No namespaces.
    }
    for (const ns of names) {
      killCgroup(`${CGROUP_ROOT}/${ns.slice('fsev-'.length)}`);
      tryIp('netns', 'del', ns);
    }
    tryIp('link', 'del', BRIDGE);
    if (existsSync(CGROUP_ROOT)) {
      for (const entry of readdirSafe(CGROUP_ROOT)) killCgroup(`${CGROUP_ROOT}/${entry}`);
      try {
        rmdirSync(CGROUP_ROOT);
      } catch {
        // Still busy; the next lab reuses it.
      }
    }
  }
}

function readdirSafe(dir) {
  try {
    return execFileSync('find', [dir, '-mindepth', '1', '-maxdepth', '1', '-type', 'd', '-printf', '%f\\n'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function killCgroup(dir) {
  if (!existsSync(dir)) return;
  try {
    writeFileSync(`${dir}/cgroup.kill`, '1');
  } catch {
    for (const pid of readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Gone.
      }
    }
  }
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch {
      execFileSync('sleep', ['0.05']);
    }
  }
}
