import type { ProviderSpec } from '../config/model-config.js';
import { WorkerPool } from './worker-pool.js';

/** Where versions run: the shared CPU pool, or a pool of its own for each GPU model version. */
export interface PoolProvider {
  /** A GPU pool is never shared: each loaded copy of a version gets its own. */
  poolFor(model: string, version: string, providers: ProviderSpec[], instances: number): WorkerPool;
  /** Closes a version's own pool (the shared CPU pool stays). */
  releasePool(pool: WorkerPool): void;
}

/**
 * Lays out worker pools: CPU models share one pool sized to the cores; a model version whose
 * first provider is a GPU gets a pool of its own, one worker (one session) per instance,
 * so GPU batches never wait behind CPU work and take no CPU model's threads, and a canary of
 * a GPU model never shares its baseline's pool.
 */
export class PoolLayout implements PoolProvider {
  readonly cpu: WorkerPool;
  private readonly gpu = new Set<WorkerPool>();

  constructor(
    cpuThreads: number,
    private readonly memoryLimitMb = 0,
  ) {
    this.cpu = new WorkerPool({ threads: cpuThreads, name: 'cpu', memoryLimitMb });
  }

  poolFor(model: string, version: string, providers: ProviderSpec[], instances: number): WorkerPool {
    if (providers[0]?.name === 'cpu' || providers.length === 0) return this.cpu;
    // Named by model (`cuda:resnet`); while another copy holds that name, by version too.
    const short = `${providers[0].name}:${model}`;
    const taken = (n: string) => [...this.gpu].some((p) => p.name === n);
    let name = taken(short) ? `${short}/${version}` : short;
    for (let i = 2; taken(name); i++) name = `${short}/${version}#${i}`;
    const pool = new WorkerPool({ threads: Math.max(1, instances), name, memoryLimitMb: this.memoryLimitMb });
    this.gpu.add(pool);
    return pool;
  }

  releasePool(pool: WorkerPool): void {
    if (!this.gpu.delete(pool)) return;
    void pool.close();
  }

  /** Every pool with its size and busy workers (for metrics). */
  all(): WorkerPool[] {
    return [this.cpu, ...this.gpu];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((p) => p.close()));
  }
}
