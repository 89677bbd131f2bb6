import type { Feature, ReferenceProfile } from './profile.js';
import { isMissingString } from './skew.js';
import { type ColumnKind, STAT_TESTS, type Sample, type StatTestName, defaultStatTest, runStatTest, uniqueCount } from './stats/tests.js';
import type { LiveWindow } from './window.js';

/** One feature's verdict, as GET .../drift reports it. */
export interface FeatureDrift {
  name: string;
  kind: ColumnKind;
  stattest: StatTestName;
  /** D for ks, chi-square for chisquare, z for z, the distance for the others; null without live values. */
  statistic: number | null;
  /** null for distance tests (and without live values). */
  p_value: number | null;
  threshold: number;
  drift_detected: boolean;
  /** Live values the test saw (NaN, infinities and missing values dropped). */
  live_values: number;
}

/** A version's drift report: per feature, and for the dataset (Evidently's share rule). */
export interface DriftReport {
  model_name: string;
  model_version: string;
  reference_rows: number;
  window_rows: number;
  dataset_drift: boolean;
  drift_share: number;
  share_of_drifted_features: number;
  number_of_drifted_features: number;
  features: FeatureDrift[];
  computed_at: string;
}

/** The live values of one feature from the window, cleaned as Evidently cleans a column. */
export function liveSample(f: Feature, window: LiveWindow): Sample {
  const col = f.input.offset + f.position;
  return f.input.readAs === 'bytes' ? window.stringColumn(col, isMissingString) : window.numericColumn(col);
}

/** One feature's test on its live sample. */
export function featureDrift(f: Feature, live: Sample): FeatureDrift {
  const ref = f.reference;
  const stattest = f.override.stattest ?? defaultStatTest(f.kind, ref.length, uniqueCount(ref, live));
  const threshold = f.override.threshold ?? STAT_TESTS[stattest].defaultThreshold;
  if (live.length === 0) {
    return { name: f.name, kind: f.kind, stattest, statistic: null, p_value: null, threshold, drift_detected: false, live_values: 0 };
  }
  const r = runStatTest(stattest, ref, live, f.kind, threshold);
  return {
    name: f.name, kind: f.kind, stattest, statistic: finiteOrNull(r.statistic), p_value: r.pValue === null ? null : finiteOrNull(r.pValue),
    threshold, drift_detected: r.driftDetected, live_values: live.length,
  };
}

/** JSON has no infinities or NaN: an infinite statistic (a new category in chi-square) is reported as the largest double. */
function finiteOrNull(x: number | null): number | null {
  if (x === null || Number.isNaN(x)) return null;
  if (x === Infinity) return Number.MAX_VALUE;
  if (x === -Infinity) return -Number.MAX_VALUE;
  return x;
}

/** The live values of every feature, copied out of the window at one instant. */
export interface LiveSnapshot {
  rows: number;
  samples: Sample[];
}

export function snapshot(profile: ReferenceProfile, window: LiveWindow): LiveSnapshot {
  return { rows: window.size, samples: profile.features.map((f) => liveSample(f, window)) };
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Runs every feature's test on a snapshot against the reference, one feature per event-loop
 * turn: an exact KS test on a large window takes milliseconds, and requests must not wait
 * behind all of them at once.
 */
export async function computeDrift(model: string, version: string, profile: ReferenceProfile, live: LiveSnapshot, driftShare: number): Promise<DriftReport> {
  const features: FeatureDrift[] = [];
  for (let i = 0; i < profile.features.length; i++) {
    if (i > 0) await nextTurn();
    features.push(featureDrift(profile.features[i], live.samples[i]));
  }
  return driftReport(model, version, profile, live.rows, features, driftShare);
}

/** The same, all at once (tests and tools that own the thread). */
export function computeDriftNow(model: string, version: string, profile: ReferenceProfile, live: LiveSnapshot, driftShare: number): DriftReport {
  const features = profile.features.map((f, i) => featureDrift(f, live.samples[i]));
  return driftReport(model, version, profile, live.rows, features, driftShare);
}

function driftReport(model: string, version: string, profile: ReferenceProfile, rows: number, features: FeatureDrift[], driftShare: number): DriftReport {
  const drifted = features.filter((f) => f.drift_detected).length;
  const share = features.length ? drifted / features.length : 0;
  return {
    model_name: model,
    model_version: version,
    reference_rows: profile.rows,
    window_rows: rows,
    dataset_drift: rows > 0 && share >= driftShare,
    drift_share: driftShare,
    share_of_drifted_features: share,
    number_of_drifted_features: drifted,
    features,
    computed_at: new Date().toISOString(),
  };
}
