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

  static async start(args: string[] = []): Promise<AgentProcess> {
    const agent = new AgentProcess();
    await agent.#start(args);
    return agent;
  }

  get pid(): number {
    return this.#child!.pid!;
  }

  async #start(args: string[]): Promise<void> {
    const child = spawn(process.execPath, [bin, 'agent', '--flows-out', '-', '--listen', 'off', ...args], {
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
        this.logs.push(JSON.parse(line) as Record<string, unknown>);
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
    return waitFor(`${count} ${what} flows to port ${port}`, () => {
      const got = this.flowsTo(port);
      return got.length >= count ? got : undefined;
    }, timeoutMs);
  }

  async stop(): Promise<number | null> {
    if (!this.#child) return null;
    this.#child.kill('SIGTERM');
    return this.#exited!;
  }
}
