// Runs the real agent (`bin/flowscope.js agent --flows-out -`) as a child
// process and collects the flows it prints.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Flow } from '../../agent/schema/flow.js';
import { waitFor } from './wait.mjs';

const bin = fileURLToPath(new URL('../../bin/flowscope.js', import.meta.url));

export class AgentProcess {
  readonly flows: Flow[] = [];
  readonly logs: Record<string, unknown>[] = [];
  stderr = '';
  #child: ChildProcess | undefined;
  #exited: Promise<number | null> | undefined;
  /** The agent's HTTP port, for its status when a wait fails. */
  #statusPort: number | undefined;

  static async start(args: string[] = []): Promise<AgentProcess> {
    const agent = new AgentProcess();
    await agent.#start(args);
    return agent;
  }

  get pid(): number {
    return this.#child!.pid!;
  }

  async #start(args: string[]): Promise<void> {
    // Listen on a free loopback port unless told otherwise, so that a failed
    // wait can show the agent's counters (losses, gaps, decode errors).
    const listen = args.includes('--listen') ? [] : ['--listen', '127.0.0.1:0'];
    const child = spawn(process.execPath, [bin, 'agent', '--flows-out', '-', ...listen, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FLOWSCOPE_LOG_LEVEL: 'info' },
    });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.trim() !== '') this.flows.push(JSON.parse(line) as Flow);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderr += `${line}\n`;
      try {
        const log = JSON.parse(line) as Record<string, unknown>;
        this.logs.push(log);
        if (log.msg === 'HTTP port listening') this.#statusPort = Number(String(log.address).split(':').pop());
      } catch {
        // Not a log record (a one-line error): kept in stderr.
      }
    });
    let exitCode: number | null | undefined;
    void this.#exited.then((code) => (exitCode = code));
    await waitFor('the agent to start capturing', () => {
      if (exitCode !== undefined) throw new Error(`agent exited with ${exitCode} before capturing:\n${this.stderr}`);
      return this.logs.some((l) => l.msg === 'capture started');
    }, 30_000);
  }

  /** Flows whose server port is `port`. */
  flowsTo(port: number): Flow[] {
    return this.flows.filter((f) => f.destination.port === port);
  }

  async waitForFlows(what: string, port: number, count: number, timeoutMs = 15_000): Promise<Flow[]> {
    try {
      return await waitFor(`${count} ${what} flows to port ${port}`, () => {
        const got = this.flowsTo(port);
        return got.length >= count ? got : undefined;
      }, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await this.#diagnosis(port)}`, { cause: err });
    }
  }

  /** What the agent saw, for a wait that failed: flows per side and its counters. */
  async #diagnosis(port: number): Promise<string> {
    const got = this.flowsTo(port);
    // Flows with issues first: they are the likeliest clue.
    const sides = [...got.filter((f) => f.issues?.length), ...got.filter((f) => !f.issues?.length)]
      .map((f) => `${f.observedAt} ${f.http?.method} ${f.http?.path} ${f.http?.status} ${f.issues?.join(',') ?? ''}`);
    let status = 'agent status unavailable (no HTTP port)';
    if (this.#statusPort) {
      try {
        const res = await fetch(`http://127.0.0.1:${this.#statusPort}/v1/status`, { signal: AbortSignal.timeout(5_000) });
        const { events, flows, conntrack, decodeErrors, unpairedResponses, kernelLosses, malformedRecords, outputDropped } = await res.json() as Record<string, unknown>;
        status = `agent status: ${JSON.stringify({ events, flows, conntrack, decodeErrors, unpairedResponses, kernelLosses, malformedRecords, outputDropped })}`;
      } catch (err) {
        status = `agent status unavailable: ${(err as Error).message}`;
      }
    }
    const shown = sides.length > 40 ? [...sides.slice(0, 40), `… ${sides.length - 40} more`] : sides;
    return `got ${got.length} flows (CLIENT ${got.filter((f) => f.observedAt === 'CLIENT').length}, SERVER ${got.filter((f) => f.observedAt === 'SERVER').length}):\n${shown.join('\n')}\n${status}`;
  }

  async stop(): Promise<number | null> {
    if (!this.#child) return null;
    this.#child.kill('SIGTERM');
    return this.#exited!;
  }
}
