import pg from 'pg';
import type { Row, SqlDb, SqlRunner, SqlValue } from './db.js';

/** The channel every registry mutation notifies on commit. */
export const NOTIFY_CHANNEL = 'infergate_registry';

const INT8 = 20;
const NUMERIC = 1700;
// Per-pool type parsers (not pg's global ones, which other stores in the process may rely on):
// BIGINT timestamps and counters fit a double exactly for any realistic value.
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 || oid === NUMERIC ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** Turns `?` placeholders into `$1, $2, ...` (the registry's SQL never has `?` in literals). */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function runnerOn(client: pg.Pool | pg.PoolClient): SqlRunner {
  return {
    dialect: 'postgres',
    all: async <T extends Row>(sql: string, params: readonly SqlValue[] = []) =>
      (await client.query(numberedPlaceholders(sql), params as SqlValue[])).rows as T[],
    get: async <T extends Row>(sql: string, params: readonly SqlValue[] = []) =>
      (await client.query(numberedPlaceholders(sql), params as SqlValue[])).rows[0] as T | undefined,
    run: async (sql: string, params: readonly SqlValue[] = []) =>
      (await client.query(numberedPlaceholders(sql), params as SqlValue[])).rowCount ?? 0,
  };
}

/** The shared store: a `pg` pool; transactions on one pooled client; LISTEN on a client of its own. */
export class PostgresDb implements SqlDb {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly runner: SqlRunner;

  constructor(
    readonly url: string,
    private readonly log: (msg: string) => void = () => {},
  ) {
    this.pool = new pg.Pool({ connectionString: url, max: 5, types: TYPES });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    this.pool.on('error', (err) => this.log(`registry database connection error: ${err.message}`));
    this.runner = runnerOn(this.pool);
  }

  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.runner.all<T>(sql, params);
  }
  get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.runner.get<T>(sql, params);
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.runner.run(sql, params);
  }

  private async onClient<T>(begin: string, fn: (t: SqlRunner) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query(begin);
      try {
        const out = await fn(runnerOn(client));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    } finally {
      client.release();
    }
  }

  tx<T>(fn: (t: SqlRunner) => Promise<T>): Promise<T> {
    return this.onClient('BEGIN', fn);
  }

  readView<T>(fn: (t: SqlRunner) => Promise<T>): Promise<T> {
    return this.onClient('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn);
  }

  async notifyChange(t: SqlRunner, model: string): Promise<void> {
    // Delivered to listeners when (and only if) the transaction commits.
    await t.get('SELECT pg_notify(?, ?) AS sent', [NOTIFY_CHANNEL, model.slice(0, 1000)]);
  }

  async listen(onNotice: () => void): Promise<() => Promise<void>> {
    let stopped = false;
    let client: pg.Client | undefined;
    let retry: NodeJS.Timeout | undefined;
    const connect = async (): Promise<void> => {
      const c = new pg.Client({ connectionString: this.url, types: TYPES });
      c.on('notification', (msg) => {
        if (msg.channel === NOTIFY_CHANNEL) onNotice();
      });
      const lost = (why: string) => {
        if (stopped || client !== c) return;
        client = undefined;
        this.log(`registry LISTEN connection lost (${why}); reconnecting, polling meanwhile`);
        c.end().catch(() => {});
        retry = setTimeout(() => void connect().catch(() => {}), 1000);
        retry.unref();
      };
      c.on('error', (err) => lost(err.message));
      c.on('end', () => lost('closed'));
      client = c;
      try {
        await c.connect();
        await c.query(`LISTEN ${NOTIFY_CHANNEL}`);
        // Changes made while no connection listened are caught by this extra notice.
        onNotice();
      } catch (err) {
        lost((err as Error).message);
        throw err;
      }
    };
    await connect();
    return async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    };
  }

  isUniqueViolation(err: unknown): boolean {
    return (err as { code?: string }).code === '23505';
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
