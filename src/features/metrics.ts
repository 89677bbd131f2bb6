import { Counter, Gauge, Histogram, type Registry, type RegistryContentType } from 'prom-client';

const LOOKUP_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** The online feature store's metrics (labels: store kind, view name; both bounded by the definitions). */
export class FeatureMetrics {
  readonly lookupDuration: Histogram<'store'>;
  readonly cacheHits: Counter;
  readonly cacheMisses: Counter;
  readonly notFound: Counter<'view'>;
  readonly outsideMaxAge: Counter<'view'>;
  readonly rowsMaterialized: Counter<'view'>;
  readonly rowsPushed: Counter<'view'>;
  readonly lastMaterialized: Gauge<'view'>;
  readonly storeErrors: Counter<'store'>;

  constructor(registry: Registry<RegistryContentType>) {
    const registers = [registry];
    this.lookupDuration = new Histogram({ name: 'infergate_feature_lookup_duration_seconds', help: 'Time one batched online-store read took (cache misses only), seconds', labelNames: ['store'], buckets: LOOKUP_BUCKETS, registers });
    this.cacheHits = new Counter({ name: 'infergate_feature_cache_hits_total', help: 'Entity rows served from the online feature cache', registers });
    this.cacheMisses = new Counter({ name: 'infergate_feature_cache_misses_total', help: 'Entity rows the online feature cache did not hold (read from the store)', registers });
    const hits = this.cacheHits;
    const misses = this.cacheMisses;
    new Gauge({
      name: 'infergate_feature_cache_hit_ratio', help: 'Cache hits / (hits + misses) since start', registers,
      async collect() {
        const h = (await hits.get()).values[0]?.value ?? 0;
        const m = (await misses.get()).values[0]?.value ?? 0;
        this.set(h + m === 0 ? 0 : h / (h + m));
      },
    });
    this.notFound = new Counter({ name: 'infergate_feature_not_found_total', help: 'Entity rows looked up and not found, per feature view', labelNames: ['view'], registers });
    this.outsideMaxAge = new Counter({ name: 'infergate_feature_outside_max_age_total', help: 'Entity rows served older than their view\'s ttl (OUTSIDE_MAX_AGE), per feature view', labelNames: ['view'], registers });
    this.rowsMaterialized = new Counter({ name: 'infergate_feature_rows_materialized_total', help: 'Rows written to the online store by materialization, per feature view', labelNames: ['view'], registers });
    this.rowsPushed = new Counter({ name: 'infergate_feature_rows_pushed_total', help: 'Rows written to the online store through /push, per feature view', labelNames: ['view'], registers });
    this.lastMaterialized = new Gauge({ name: 'infergate_feature_last_materialized_timestamp_seconds', help: 'End of the last materialization per feature view, Unix seconds', labelNames: ['view'], registers });
    this.storeErrors = new Counter({ name: 'infergate_feature_store_errors_total', help: 'Online store operations that failed (store unavailable)', labelNames: ['store'], registers });
  }
}
