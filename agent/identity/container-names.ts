// Container names from the runtimes' own state on disk, so a container outside
// Kubernetes is named as its owner named it (`docker run --name web`) rather
// than by a short id: docker keeps one config.v2.json per container, podman one
// containers.json for all. Read once per container id (a bounded first lookup,
// like /proc), remembered including "no name", capped.
import { readFileSync, statSync } from 'node:fs';
import type { ContainerRuntime } from './cgroup-path.js';

export interface ContainerNameOptions {
  /** docker's data root. Default /var/lib/docker. */
  dockerRoot?: string;
  /** podman's (containers/storage) graph root. Default /var/lib/containers/storage. */
  podmanRoot?: string;
  maxEntries?: number;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

export class ContainerNames {
  readonly #dockerRoot: string;
  readonly #podmanRoot: string;
  readonly #maxEntries: number;
  readonly #names = new Map<string, string | null>();
  #podmanMtimeMs = -1;
  #podmanNames = new Map<string, string>();

  constructor(options: ContainerNameOptions = {}) {
    this.#dockerRoot = options.dockerRoot ?? '/var/lib/docker';
    this.#podmanRoot = options.podmanRoot ?? '/var/lib/containers/storage';
    this.#maxEntries = options.maxEntries ?? 4096;
  }

  /** The container's name, or undefined when the runtime's state does not give one. */
  nameOf(id: string, runtime: ContainerRuntime | undefined): string | undefined {
    const known = this.#names.get(id);
    if (known !== undefined) return known ?? undefined;
    let name: string | undefined;
    if (runtime === 'docker' || runtime === undefined) name = this.#docker(id);
    if (name === undefined && (runtime === 'podman' || runtime === undefined)) name = this.#podman(id);
    if (this.#names.size >= this.#maxEntries) this.#names.delete(this.#names.keys().next().value!);
    this.#names.set(id, name ?? null);
    return name;
  }

  #docker(id: string): string | undefined {
    const config = readJson(`${this.#dockerRoot}/containers/${id}/config.v2.json`) as { Name?: unknown } | undefined;
    const name = typeof config?.Name === 'string' ? config.Name.replace(/^\//, '') : '';
    return name === '' ? undefined : name;
  }

  #podman(id: string): string | undefined {
    const path = `${this.#podmanRoot}/overlay-containers/containers.json`;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch {
      return undefined;
    }
    if (mtimeMs !== this.#podmanMtimeMs) {
      this.#podmanMtimeMs = mtimeMs;
      this.#podmanNames = new Map();
      const list = readJson(path);
      if (Array.isArray(list)) {
        for (const c of list as { id?: unknown; names?: unknown }[]) {
          const first = Array.isArray(c?.names) ? c.names[0] : undefined;
          if (typeof c?.id === 'string' && typeof first === 'string' && first !== '') this.#podmanNames.set(c.id, first);
        }
      }
    }
    return this.#podmanNames.get(id);
  }
}
