import type { Dialect, SqlDb, SqlRunner } from './db.js';

/** One schema step; applied once, in order, recorded in registry_schema. */
interface Migration {
  version: number;
  name: string;
  sql: (d: Dialect) => string[];
}

const serial = (d: Dialect) => (d === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT');

// The audit log is append-only in the database itself, not only by convention.
function appendOnly(d: Dialect): string[] {
  if (d === 'sqlite') {
    return [
      `CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`,
      `CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`,
    ];
  }
  return [
    `CREATE FUNCTION infergate_audit_log_append_only() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$ LANGUAGE plpgsql`,
    `CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION infergate_audit_log_append_only()`,
  ];
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'registered models, versions, tags, aliases, approvals, audit log',
    sql: (d) => [
      // generation: bumped by every mutation; pollers compare it, and locking its row first
      // orders all writers (no deadlocks, and version numbers are allocated one at a time).
      `CREATE TABLE registry_meta (id INTEGER PRIMARY KEY CHECK (id = 1), generation BIGINT NOT NULL)`,
      `INSERT INTO registry_meta (id, generation) VALUES (1, 0)`,
      `CREATE TABLE registered_models (
        id ${serial(d)},
        name TEXT NOT NULL UNIQUE,
        description TEXT,
        creation_time BIGINT NOT NULL,
        last_updated_time BIGINT NOT NULL,
        last_version INTEGER NOT NULL DEFAULT 0
      )`,
      `CREATE TABLE registered_model_tags (
        model_id BIGINT NOT NULL REFERENCES registered_models(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (model_id, key)
      )`,
      `CREATE TABLE model_versions (
        model_id BIGINT NOT NULL REFERENCES registered_models(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        creation_time BIGINT NOT NULL,
        last_updated_time BIGINT NOT NULL,
        user_id TEXT,
        current_stage TEXT NOT NULL,
        description TEXT,
        source TEXT NOT NULL,
        run_id TEXT,
        run_link TEXT,
        status TEXT NOT NULL,
        status_message TEXT,
        servable INTEGER NOT NULL,
        not_servable_reason TEXT,
        artifact_digest TEXT,
        model_sha256 TEXT,
        model_size BIGINT,
        has_config INTEGER NOT NULL DEFAULT 0,
        signature TEXT,
        model_card TEXT,
        approval_status TEXT NOT NULL,
        approval_user TEXT,
        approval_time BIGINT,
        approval_comment TEXT,
        PRIMARY KEY (model_id, version)
      )`,
      `CREATE TABLE model_version_tags (
        model_id BIGINT NOT NULL,
        version INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (model_id, version, key),
        FOREIGN KEY (model_id, version) REFERENCES model_versions(model_id, version) ON DELETE CASCADE
      )`,
      `CREATE TABLE registered_model_aliases (
        model_id BIGINT NOT NULL REFERENCES registered_models(id) ON DELETE CASCADE,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (model_id, alias),
        FOREIGN KEY (model_id, version) REFERENCES model_versions(model_id, version) ON DELETE CASCADE
      )`,
      `CREATE TABLE audit_log (
        id ${serial(d)},
        at BIGINT NOT NULL,
        who TEXT NOT NULL,
        action TEXT NOT NULL,
        model_id BIGINT,
        model_name TEXT NOT NULL,
        version INTEGER,
        before_json TEXT,
        after_json TEXT
      )`,
      `CREATE INDEX audit_log_by_name ON audit_log (model_name, id)`,
      `CREATE INDEX audit_log_by_model ON audit_log (model_id, id)`,
      `CREATE INDEX model_versions_by_run ON model_versions (run_id)`,
      ...appendOnly(d),
    ],
  },
  {
    version: 2,
    name: 'rollouts (issue 13): one row per rollout, its state as JSON, and the driving lease',
    sql: () => [
      `CREATE TABLE rollouts (
        id TEXT PRIMARY KEY,
        model_name TEXT NOT NULL,
        phase TEXT NOT NULL,
        state_json TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        driver TEXT,
        lease_until BIGINT NOT NULL DEFAULT 0
      )`,
      `CREATE INDEX rollouts_by_model ON rollouts (model_name, phase)`,
    ],
  },
  {
    version: 3,
    name: "rollout traffic (issue 13): each gateway's counts per rollout interval, summed by the driving gateway",
    sql: () => [
      `ALTER TABLE rollouts ADD COLUMN traffic_window BIGINT NOT NULL DEFAULT 0`,
      `CREATE TABLE rollout_traffic (
        rollout_id TEXT NOT NULL,
        window_no BIGINT NOT NULL,
        owner TEXT NOT NULL,
        counts_json TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (rollout_id, window_no, owner)
      )`,
    ],
  },
];

/** The schema version this build expects. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

async function applied(t: SqlRunner): Promise<number> {
  const row = await t.get<{ v: number | null }>('SELECT MAX(version) AS v FROM registry_schema');
  return Number(row?.v ?? 0);
}

/**
 * Brings the schema up to date at startup, each step in its own transaction. Concurrent
 * starters on one Postgres are serialised by an advisory lock; on SQLite by BEGIN IMMEDIATE.
 * A database newer than this build is refused rather than misread.
 */
export async function migrate(db: SqlDb): Promise<{ from: number; to: number }> {
  let from = -1;
  for (const m of MIGRATIONS) {
    await db.tx(async (t) => {
      if (db.dialect === 'postgres') await t.get(`SELECT pg_advisory_xact_lock(742001) AS locked`);
      await t.run(`CREATE TABLE IF NOT EXISTS registry_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
      const current = await applied(t);
      if (from < 0) from = current;
      if (current > SCHEMA_VERSION) {
        throw new Error(`registry database schema is version ${current}, newer than this infergate (${SCHEMA_VERSION}); upgrade infergate`);
      }
      if (current >= m.version) return;
      for (const stmt of m.sql(db.dialect)) await t.run(stmt);
      await t.run('INSERT INTO registry_schema (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, Date.now()]);
    });
  }
  return { from: Math.max(from, 0), to: SCHEMA_VERSION };
}
