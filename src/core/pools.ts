import type { ProviderSpec } from '../config/model-config.js';
import { WorkerPool } from './pool.js';
import type { PoolProvider } from './repository.js';

/**
 * Lays out worker pools: CPU models share one pool sized to the cores; a model whose
 * first provider is a GPU gets a pool of its own, one worker (one session) per instance,
 * so GPU batches never wait behind CPU work and take no CPU model's threads.
 */
export class PoolLayout implements PoolProvider {
  readonly cpu: WorkerPool;
  private readonly gpu = new Map<string, { pool: WorkerPool; users: number }>();

  constructor(
    cpuThreads: number,
    private readonly memoryLimitMb = 0,
  ) {
    this.cpu = new WorkerPool({ threads: cpuThreads, name: 'cpu', memoryLimitMb });
  }

  poolFor(model: string, providers: ProviderSpec[], instances: number): WorkerPool {
    if (providers[0]?.name === 'cpu' || providers.length === 0) return this.cpu;
    let g = this.gpu.get(model);
    if (!g) {
      g = { pool: new WorkerPool({ threads: Math.max(1, instances), name: `${providers[0].name}:${model}`, memoryLimitMb: this.memoryLimitMb }), users: 0 };
      this.gpu.set(model, g);
    }
    g.users++;
    return g.pool;
  }

  releasePool(model: string, pool: WorkerPool): void {
    const g = this.gpu.get(model);
    if (!g || g.pool !== pool) return;
    if (--g.users === 0) {
      this.gpu.delete(model);
      void pool.close();
    }
  }

  /** Every pool with its size and busy workers (for metrics). */
  all(): WorkerPool[] {
    return [this.cpu, ...[...this.gpu.values()].map((g) => g.pool)];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((p) => p.close()));
  }
}
