import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { unavailable } from '../protocol/errors.js';
import type { OnlineStore, RowWrite, StoredRow, ViewLookup } from './online-store.js';

/** Schema versions, applied in order at open (PRAGMA user_version holds the last one applied). */
const MIGRATIONS = [
  `CREATE TABLE online_rows (
     project TEXT NOT NULL, view TEXT NOT NULL, entity_key TEXT NOT NULL,
     event_ts INTEGER NOT NULL, written_ts INTEGER NOT NULL, row_values TEXT NOT NULL,
     PRIMARY KEY (project, view, entity_key)) WITHOUT ROWID;
   CREATE TABLE materializations (
     project TEXT NOT NULL, view TEXT NOT NULL, until_ts INTEGER NOT NULL, updated_ts INTEGER NOT NULL,
     PRIMARY KEY (project, view));`,
];

/** Largest number of keys per IN (...) list (SQLite's default variable limit is 32766). */
const IN_CHUNK = 500;

/** The embedded online store: one SQLite file, one row per project, view and entity key. */
export class SqliteOnlineStore implements OnlineStore {
  readonly kind = 'sqlite';
  readonly describe: string;
  private readonly db: Database.Database;
  private readonly selects = new Map<number, Database.Statement>();
  private readonly upsert: Database.Statement;

  constructor(
    readonly path: string,
    private readonly project: string,
  ) {
    this.describe = `sqlite (${path})`;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 5000');
      this.migrate();
    } catch (err) {
      throw unavailable(`online store ${this.describe} cannot be opened: ${(err as Error).message}`);
    }
    // Keep the newer row: an older event never overwrites a newer one (re-runs are idempotent).
    this.upsert = this.db.prepare(
      `INSERT INTO online_rows (project, view, entity_key, event_ts, written_ts, row_values) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (project, view, entity_key) DO UPDATE SET event_ts = excluded.event_ts, written_ts = excluded.written_ts, row_values = excluded.row_values
       WHERE excluded.event_ts >= online_rows.event_ts`,
    );
  }

  private migrate(): void {
    const at = this.db.pragma('user_version', { simple: true }) as number;
    for (let v = at; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  private select(n: number): Database.Statement {
    let s = this.selects.get(n);
    if (!s) {
      s = this.db.prepare(`SELECT entity_key, event_ts, row_values FROM online_rows WHERE project = ? AND view = ? AND entity_key IN (${new Array(n).fill('?').join(',')})`);
      this.selects.set(n, s);
    }
    return s;
  }

  async read(lookups: readonly ViewLookup[]): Promise<(StoredRow | undefined)[][]> {
    return this.guard(() =>
      lookups.map((l) => {
        const found = new Map<string, StoredRow>();
        for (let i = 0; i < l.entityKeys.length; i += IN_CHUNK) {
          const keys = l.entityKeys.slice(i, i + IN_CHUNK);
          const rows = this.select(keys.length).all(this.project, l.view, ...keys) as { entity_key: string; event_ts: number; row_values: string }[];
          for (const r of rows) found.set(r.entity_key, { eventTs: r.event_ts, values: JSON.parse(r.row_values) });
        }
        return l.entityKeys.map((k) => found.get(k));
      }),
    );
  }

  async write(view: string, _joinKeys: readonly string[], rows: readonly RowWrite[]): Promise<number> {
    const now = Date.now();
    return this.guard(() =>
      this.db.transaction(() => {
        let changed = 0;
        for (const r of rows) changed += this.upsert.run(this.project, view, r.entityKey, r.eventTs, now, JSON.stringify(r.values)).changes;
        return changed;
      })(),
    );
  }

  async materializedUntil(view: string): Promise<number | undefined> {
    const row = this.guard(() => this.db.prepare('SELECT until_ts FROM materializations WHERE project = ? AND view = ?').get(this.project, view) as { until_ts: number } | undefined);
    return row?.until_ts;
  }

  async setMaterializedUntil(view: string, endMs: number): Promise<void> {
    this.guard(() =>
      this.db
        .prepare('INSERT INTO materializations (project, view, until_ts, updated_ts) VALUES (?, ?, ?, ?) ON CONFLICT (project, view) DO UPDATE SET until_ts = excluded.until_ts, updated_ts = excluded.updated_ts')
        .run(this.project, view, endMs, Date.now()),
    );
  }

  async ping(): Promise<void> {
    this.guard(() => this.db.prepare('SELECT 1').get());
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** A failing file (locked, removed, disk full) is the store being unavailable, named. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw unavailable(`online store ${this.describe} failed: ${(err as Error).message}`);
    }
  }
}
