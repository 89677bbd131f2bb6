/** What the share rule reads of a model version: its queue and how many batches it can run at once. */
export interface LoadView {
  readonly depth: { readonly queued: number; readonly inFlight: number };
  readonly slots: number;
}

/** Default share of a version's worker slots that background work keeps while interactive requests wait. */
export const DEFAULT_BACKGROUND_SHARE = 0.5;

/**
 * Keeps background work (batch jobs) from starving interactive requests on one model version.
 *
 * Background requests are full batches (max_batch_size rows), so each is one queued request
 * or one running batch. Whatever the version has queued or running beyond the background's
 * own outstanding requests is interactive work. While there is none, background work keeps
 * every slot busy and one request queued behind them (slots + 1 outstanding). While there
 * is some, it holds at most `share` of the slots (at least one, so a job always progresses):
 * interactive requests get the rest, and since background work only ever waits for its own
 * requests to finish, it needs no timer. One gate per version, shared by every job.
 */
export class BackgroundShare {
  private outstanding = 0;
  private readonly waiters: (() => void)[] = [];
  /** For tests and the jobs API: what the rule did. */
  readonly stats = { submitted: 0, submittedWhileInteractive: 0, maxOutstandingWhileInteractive: 0 };

  constructor(
    private readonly view: () => LoadView,
    readonly share = DEFAULT_BACKGROUND_SHARE,
  ) {
    if (!(share > 0 && share <= 1)) throw new Error(`background share must be > 0 and <= 1, got ${share}`);
  }

  /** Whether interactive requests are queued or running on the version. */
  interactive(): boolean {
    const d = this.view().depth;
    return d.queued + d.inFlight > this.outstanding;
  }

  /** Background requests allowed outstanding now (for a job whose share is `share`). */
  limit(share = this.share): number {
    const slots = Math.max(1, this.view().slots);
    return this.interactive() ? Math.max(1, Math.floor(share * slots)) : slots + 1;
  }

  /** Background requests sent and not yet answered. */
  get inFlight(): number {
    return this.outstanding;
  }

  /** Waits until one more background request may be sent (by a job keeping `share`), and counts it as outstanding. */
  async acquire(share = this.share): Promise<void> {
    while (this.outstanding >= this.limit(share)) await new Promise<void>((r) => this.waiters.push(r));
    const interactive = this.interactive();
    this.outstanding++;
    this.stats.submitted++;
    if (interactive) {
      this.stats.submittedWhileInteractive++;
      this.stats.maxOutstandingWhileInteractive = Math.max(this.stats.maxOutstandingWhileInteractive, this.outstanding);
    }
  }

  /** A background request was answered: waiters look again. */
  release(): void {
    this.outstanding--;
    const w = this.waiters.splice(0);
    for (const r of w) r();
  }
}

const gates = new WeakMap<object, BackgroundShare>();

/** The one gate of a model version, shared by every job on it. */
export function backgroundShareOf(key: object, view: () => LoadView): BackgroundShare {
  let g = gates.get(key);
  if (!g) {
    g = new BackgroundShare(view);
    gates.set(key, g);
  }
  return g;
}
