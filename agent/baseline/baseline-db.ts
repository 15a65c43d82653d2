// The baseline on disk: SQLite (better-sqlite3) in WAL mode with
// synchronous=NORMAL, so a checkpoint is one transaction that either lands
// whole or not at all, and a crash (kill -9) loses at most the checkpoints
// since the last WAL sync, never the file's integrity. The schema version
// lives in user_version.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Protocol } from '../schema/flow.js';
import type { GraphNode } from './graph-node.js';
import type { StatsJson } from './traffic-stats.js';

export const BASELINE_SCHEMA_VERSION = 2;

export class BaselineDbError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'BaselineDbError';
  }
}

export interface EdgeJson extends StatsJson {
  source: GraphNode;
  destination: GraphNode;
  port: number;
  protocol: Protocol;
  tls: boolean;
  endpointOverflow: number;
}

export interface EdgeRow {
  key: string;
  json: EdgeJson;
  latency: Uint8Array;
  size: Uint8Array;
  history: Uint8Array;
}

export interface EndpointRow {
  edgeKey: string;
  endpoint: string;
  json: StatsJson;
  latency: Uint8Array;
  size: Uint8Array;
  history: Uint8Array;
}

export interface StoredEdge {
  key: string;
  data: string;
  latency?: Uint8Array;
  size?: Uint8Array;
  history?: Uint8Array;
}

export interface StoredEndpoint {
  edgeKey: string;
  endpoint: string;
  data: string;
  latency?: Uint8Array;
  size?: Uint8Array;
  history?: Uint8Array;
}

/** An anomaly as the engine keeps it (its record as JSON), so a restart can still accept it. */
export interface AnomalyRow {
  id: string;
  edgeKey: string;
  data: string;
}

export interface CheckpointBatch {
  edges: EdgeRow[];
  endpoints: EndpointRow[];
  deletedEdges: string[];
  deletedEndpoints: [edgeKey: string, endpoint: string][];
  meta?: Map<string, string> | undefined;
  anomalies?: AnomalyRow[];
  deletedAnomalies?: string[];
}

export class BaselineDb {
  readonly #db: Database.Database;
  readonly #write: (batch: CheckpointBatch) => void;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#migrate();
    const upsertEdge = this.#db.prepare(
      'INSERT INTO edges (key, data, latency, size, history) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT(key) DO UPDATE SET data = excluded.data, latency = excluded.latency, size = excluded.size, history = excluded.history',
    );
    const upsertEndpoint = this.#db.prepare(
      'INSERT INTO endpoints (edge_key, endpoint, data, latency, size, history) VALUES (?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT(edge_key, endpoint) DO UPDATE SET data = excluded.data, latency = excluded.latency, size = excluded.size, history = excluded.history',
    );
    const deleteEdge = this.#db.prepare('DELETE FROM edges WHERE key = ?');
    const deleteEdgeEndpoints = this.#db.prepare('DELETE FROM endpoints WHERE edge_key = ?');
    const deleteEndpoint = this.#db.prepare('DELETE FROM endpoints WHERE edge_key = ? AND endpoint = ?');
    const upsertAnomaly = this.#db.prepare(
      'INSERT INTO anomalies (id, edge_key, data) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET edge_key = excluded.edge_key, data = excluded.data',
    );
    const deleteAnomaly = this.#db.prepare('DELETE FROM anomalies WHERE id = ?');
    const setMeta = this.#db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    // Deletions first: an edge dropped (relearn) and seen again since is written fresh.
    this.#write = this.#db.transaction((batch: CheckpointBatch) => {
      for (const key of batch.deletedEdges) {
        deleteEdge.run(key);
        deleteEdgeEndpoints.run(key);
      }
      for (const [edgeKey, endpoint] of batch.deletedEndpoints) deleteEndpoint.run(edgeKey, endpoint);
      for (const r of batch.edges) upsertEdge.run(r.key, JSON.stringify(r.json), r.latency, r.size, r.history);
      for (const r of batch.endpoints) upsertEndpoint.run(r.edgeKey, r.endpoint, JSON.stringify(r.json), r.latency, r.size, r.history);
      if (batch.meta) for (const [k, v] of batch.meta) setMeta.run(k, v);
      for (const id of batch.deletedAnomalies ?? []) deleteAnomaly.run(id);
      for (const r of batch.anomalies ?? []) upsertAnomaly.run(r.id, r.edgeKey, r.data);
    });
  }

  #migrate(): void {
    const version = this.#db.pragma('user_version', { simple: true }) as number;
    if (version > BASELINE_SCHEMA_VERSION) {
      throw new BaselineDbError(
        'FLOWSCOPE_ERR_BASELINE_VERSION',
        `baseline database has schema version ${version}, newer than this agent's ${BASELINE_SCHEMA_VERSION} (fix: upgrade flowscope or move the file away)`,
      );
    }
    // One step per version, each in its own transaction: an interrupted upgrade resumes where it stopped.
    const steps: Record<number, string> = {
      1: `
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE edges (key TEXT PRIMARY KEY, data TEXT NOT NULL, latency BLOB, size BLOB, history BLOB);
        CREATE TABLE endpoints (
          edge_key TEXT NOT NULL, endpoint TEXT NOT NULL, data TEXT NOT NULL, latency BLOB, size BLOB, history BLOB,
          PRIMARY KEY (edge_key, endpoint)
        );`,
      2: 'CREATE TABLE anomalies (id TEXT PRIMARY KEY, edge_key TEXT NOT NULL, data TEXT NOT NULL);',
    };
    for (let next = version + 1; next <= BASELINE_SCHEMA_VERSION; next++) {
      this.#db.exec(`BEGIN; ${steps[next]} PRAGMA user_version = ${next}; COMMIT;`);
    }
  }

  readMeta(): Map<string, string> {
    const rows = this.#db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[];
    return new Map(rows.map((r) => [r.key, r.value]));
  }

  readEdges(): StoredEdge[] {
    return (this.#db.prepare('SELECT key, data, latency, size, history FROM edges').all() as StoredEdge[]).map(nullsToUndefined);
  }

  readAnomalies(): AnomalyRow[] {
    return this.#db.prepare('SELECT id, edge_key AS edgeKey, data FROM anomalies').all() as AnomalyRow[];
  }

  readEndpoints(): StoredEndpoint[] {
    const rows = this.#db.prepare('SELECT edge_key AS edgeKey, endpoint, data, latency, size, history FROM endpoints').all() as StoredEndpoint[];
    return rows.map(nullsToUndefined);
  }

  write(batch: CheckpointBatch): void {
    this.#write(batch);
  }

  close(): void {
    this.#db.close();
  }
}

function nullsToUndefined<T extends object>(row: T): T {
  for (const [k, v] of Object.entries(row)) if (v === null) delete (row as Record<string, unknown>)[k];
  return row;
}
