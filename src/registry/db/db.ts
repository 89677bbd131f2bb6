/** The small SQL surface the registry store needs, written once for SQLite and PostgreSQL. */

export type Dialect = 'sqlite' | 'postgres';
export type SqlValue = string | number | null;
export type Row = Record<string, unknown>;

/** Runs statements; SQL uses `?` placeholders whatever the dialect. */
export interface SqlRunner {
  readonly dialect: Dialect;
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Returns the number of rows changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

/** A database: one transaction per mutation, a consistent read view, change notices across processes. */
export interface SqlDb extends SqlRunner {
  /** Runs `fn` in one write transaction: all of it commits, or none of it. */
  tx<T>(fn: (t: SqlRunner) => Promise<T>): Promise<T>;
  /** Runs `fn` on one consistent snapshot of the database (reads only). */
  readView<T>(fn: (t: SqlRunner) => Promise<T>): Promise<T>;
  /** Inside a transaction: tells other processes, once it commits, that the registry changed. */
  notifyChange(t: SqlRunner, model: string): Promise<void>;
  /** Calls `onNotice` when another process commits a change (Postgres LISTEN); returns a stop function. */
  listen(onNotice: () => void): Promise<() => Promise<void>>;
  /** Whether an error is a unique-constraint violation. */
  isUniqueViolation(err: unknown): boolean;
  close(): Promise<void>;
}
