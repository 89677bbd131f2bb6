import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Row, SqlDb, SqlRunner, SqlValue } from './db.js';

/**
 * The embedded store: one better-sqlite3 connection in WAL mode. better-sqlite3 is
 * synchronous, so every use (reads too) goes through one queue: an async transaction can
 * never interleave with another request's statements on the shared connection. Other
 * processes on the same file are kept out by `BEGIN IMMEDIATE` and a busy timeout.
 */
export class SqliteDb implements SqlDb {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database.Database;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly runner: SqlRunner;

  constructor(readonly file: string) {
    if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('synchronous = NORMAL');
    const db = this.db;
    this.runner = {
      dialect: 'sqlite',
      all: async <T extends Row>(sql: string, params: readonly SqlValue[] = []) => db.prepare(sql).all(...params) as T[],
      get: async <T extends Row>(sql: string, params: readonly SqlValue[] = []) => db.prepare(sql).get(...params) as T | undefined,
      run: async (sql: string, params: readonly SqlValue[] = []) => db.prepare(sql).run(...params).changes,
    };
  }

  /** Runs `fn` alone on the connection (nothing else starts until it settles). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.exclusive(() => this.runner.all<T>(sql, params));
  }
  get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.exclusive(() => this.runner.get<T>(sql, params));
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.exclusive(() => this.runner.run(sql, params));
  }

  tx<T>(fn: (t: SqlRunner) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(this.runner);
        this.db.exec('COMMIT');
        return out;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  readView<T>(fn: (t: SqlRunner) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      this.db.exec('BEGIN');
      try {
        return await fn(this.runner);
      } finally {
        if (this.db.inTransaction) this.db.exec('COMMIT');
      }
    });
  }

  // Other processes on the same file see changes through the generation poll.
  async notifyChange(): Promise<void> {}

  async listen(): Promise<() => Promise<void>> {
    return async () => {};
  }

  isUniqueViolation(err: unknown): boolean {
    const code = (err as { code?: string }).code;
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  }

  async close(): Promise<void> {
    await this.exclusive(async () => this.db.close());
  }
}
