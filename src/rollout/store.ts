import type { SqlDb, SqlRunner } from '../registry/db/db.js';
import { alreadyExists, doesNotExist } from '../registry/errors.js';
import { appendAudit, findModel } from '../registry/store/mutation.js';
import { RolloutWindow, type WindowCounts } from './arm-stats.js';
import { type Phase, type Rollout, isActive } from './types.js';

interface RolloutRow {
  id: string;
  state_json: string;
  [k: string]: unknown;
}

const MAX_RUNS = 100;

/**
 * Rollouts in the registry's database (table `rollouts`, migration 2): every change is one
 * transaction that also writes its audit entry, so state survives restarts and every gateway
 * on one Postgres sees the same rollouts.
 */
export class RolloutStore {
  constructor(private readonly db: SqlDb) {}

  /** Stores a new rollout; refused when the model already has an active one. */
  async create(who: string, r: Rollout): Promise<void> {
    await this.db.tx(async (t) => {
      const open = await t.get<{ id: string }>(`SELECT id FROM rollouts WHERE model_name = ? AND phase IN ('PROGRESSING', 'PAUSED')`, [r.spec.model]);
      if (open) throw alreadyExists(`model '${r.spec.model}' already has an active rollout (${open.id}); abort or finish it first`);
      await t.run('INSERT INTO rollouts (id, model_name, phase, state_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)', [
        r.id, r.spec.model, r.phase, JSON.stringify(r), r.createdAt, r.updatedAt,
      ]);
      await audit(t, who, r, 'rollout_created', { rollout: r.id, spec: r.spec, weight: r.weight });
    });
  }

  async get(id: string): Promise<Rollout> {
    const row = await this.db.get<RolloutRow>('SELECT id, state_json FROM rollouts WHERE id = ?', [id]);
    if (!row) throw doesNotExist(`no rollout with id '${id}'`);
    return JSON.parse(row.state_json) as Rollout;
  }

  /** Rollouts, newest first; of one model when named; only active ones when asked. */
  async list(opts: { model?: string; active?: boolean } = {}): Promise<Rollout[]> {
    const where: string[] = [];
    const params: string[] = [];
    if (opts.model) {
      where.push('model_name = ?');
      params.push(opts.model);
    }
    if (opts.active) where.push(`phase IN ('PROGRESSING', 'PAUSED')`);
    const rows = await this.db.all<RolloutRow>(
      `SELECT id, state_json FROM rollouts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT 1000`,
      params,
    );
    return rows.map((r) => JSON.parse(r.state_json) as Rollout);
  }

  /**
   * Changes one rollout in one transaction: `change` gets the current state (row locked on
   * Postgres) and returns the new one, or undefined to leave it; the audit entry it names is
   * written in the same transaction.
   */
  async update(who: string, id: string, change: (r: Rollout, pooled: () => Promise<RolloutWindow>) => Change | undefined | Promise<Change | undefined>): Promise<Rollout> {
    return this.db.tx(async (t) => {
      const lock = t.dialect === 'postgres' ? ' FOR UPDATE' : '';
      const row = await t.get<RolloutRow>(`SELECT id, state_json FROM rollouts WHERE id = ?${lock}`, [id]);
      if (!row) throw doesNotExist(`no rollout with id '${id}'`);
      const current = JSON.parse(row.state_json) as Rollout;
      const out = await change(current, () => pooledTraffic(t, id, current.window ?? 0));
      if (!out) return current;
      const now = Date.now();
      const next = { ...out.next, runs: out.next.runs.slice(-MAX_RUNS), updatedAt: now };
      // A phase change or a finished analysis starts a new interval: what was counted so far is dropped.
      if (out.newWindow || next.phase !== current.phase) {
        next.window = (current.window ?? 0) + 1;
        next.windowStartedAt = now;
        await t.run('DELETE FROM rollout_traffic WHERE rollout_id = ? AND window_no < ?', [id, next.window]);
      }
      await t.run('UPDATE rollouts SET phase = ?, state_json = ?, updated_at = ?, traffic_window = ? WHERE id = ?', [next.phase, JSON.stringify(next), next.updatedAt, next.window ?? 0, id]);
      await audit(t, who, next, out.action, { rollout: id, phase: next.phase, weight: next.weight, ...out.detail });
      return next;
    });
  }

  /**
   * Stores this gateway's counts for a rollout's interval `window` (replacing what it stored
   * before for it). Refused, returning the interval now counted, when the driving gateway has
   * moved on (or the rollout ended: -1); the caller then counts the same traffic in the new one.
   */
  async addTraffic(id: string, window: number, owner: string, counts: WindowCounts): Promise<{ stored: true } | { stored: false; window: number }> {
    return this.db.tx(async (t) => {
      // Shares the row lock with update(): an interval is never summed while a gateway adds to it.
      const lock = t.dialect === 'postgres' ? ' FOR SHARE' : '';
      const row = await t.get<{ phase: Phase; traffic_window: number | string }>(`SELECT phase, traffic_window FROM rollouts WHERE id = ?${lock}`, [id]);
      if (!row || !isActive(row.phase)) return { stored: false as const, window: -1 };
      const current = Number(row.traffic_window);
      if (current !== window) return { stored: false as const, window: current };
      await t.run(
        `INSERT INTO rollout_traffic (rollout_id, window_no, owner, counts_json, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (rollout_id, window_no, owner) DO UPDATE SET counts_json = excluded.counts_json, updated_at = excluded.updated_at`,
        [id, window, owner, JSON.stringify(counts), Date.now()],
      );
      return { stored: true as const };
    });
  }

  /**
   * Takes or renews the lease to drive a rollout: true when `owner` holds it until `until`.
   * One process drives each rollout; another takes over only once the lease has run out.
   */
  async lease(id: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
    const changed = await this.db.run(
      `UPDATE rollouts SET driver = ?, lease_until = ? WHERE id = ? AND phase IN ('PROGRESSING', 'PAUSED') AND (driver = ? OR driver IS NULL OR lease_until < ?)`,
      [owner, now + ttlMs, id, owner, now],
    );
    return changed === 1;
  }

  /** Gives a lease back (on stop) so another process can take over at once. */
  async release(id: string, owner: string): Promise<void> {
    await this.db.run('UPDATE rollouts SET lease_until = 0 WHERE id = ? AND driver = ?', [id, owner]);
  }

  /** Which process holds a rollout's lease now, if any. */
  async driver(id: string, now: number): Promise<string | undefined> {
    const r = await this.db.get<{ driver: string | null; lease_until: number }>('SELECT driver, lease_until FROM rollouts WHERE id = ?', [id]);
    return r?.driver && Number(r.lease_until) >= now ? r.driver : undefined;
  }
}

/** What update()'s callback returns: the new state, its audit entry, and whether a new interval begins. */
export interface Change {
  next: Rollout;
  action: string;
  detail: Record<string, unknown>;
  newWindow?: boolean;
}

/** The sum of every gateway's counts for one interval of a rollout. */
async function pooledTraffic(t: SqlRunner, id: string, window: number): Promise<RolloutWindow> {
  const rows = await t.all<{ counts_json: string }>('SELECT counts_json FROM rollout_traffic WHERE rollout_id = ? AND window_no = ?', [id, window]);
  const w = new RolloutWindow();
  for (const r of rows) w.add(JSON.parse(r.counts_json) as WindowCounts);
  return w;
}

async function audit(t: SqlRunner, who: string, r: Rollout, action: string, detail: Record<string, unknown>): Promise<void> {
  const model = await findModel(t, r.spec.model);
  await appendAudit({ t, who, now: Date.now() }, { action, model: model ?? { id: null, name: r.spec.model }, version: Number(r.candidateVersion), after: detail });
}

export type { Phase };
export { isActive };
