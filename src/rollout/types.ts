import type { RolloutSpec } from './spec.js';

/** Where a rollout stands; SUCCEEDED and ROLLED_BACK are final. */
export type Phase = 'PROGRESSING' | 'PAUSED' | 'SUCCEEDED' | 'ROLLED_BACK';
export const PHASES: readonly Phase[] = ['PROGRESSING', 'PAUSED', 'SUCCEEDED', 'ROLLED_BACK'];
export const isActive = (p: Phase): boolean => p === 'PROGRESSING' || p === 'PAUSED';

/** The figures of one arm over one interval. */
export interface ArmFigures {
  requests: number;
  errors: number;
  /** Percent of requests that failed. */
  errorRate: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** One analysis run: what it saw and what it decided. */
export interface AnalysisRun {
  at: number;
  /** Index into spec.steps of the step analysed, and its weight. */
  step: number;
  weight: number;
  outcome: 'passed' | 'failed' | 'inconclusive';
  baseline: ArmFigures;
  candidate: ArmFigures;
  /** Mirrored rows compared and the percent whose prediction differed (null: none compared). */
  mirroredRows: number;
  disagreement: number | null;
  /** From the drift monitor, when it monitors the versions: realised accuracy over labelled predictions, and the candidate's dataset drift. */
  monitor?: MonitorFigures;
  /** The checks that failed, each naming its metric and figures. */
  failedChecks: string[];
  note?: string;
}

/** A rollout as stored: its spec and its state. */
export interface Rollout {
  id: string;
  spec: RolloutSpec;
  phase: Phase;
  stepIndex: number;
  /** The candidate's share of routed traffic now (percent). */
  weight: number;
  failures: number;
  baselineVersion: string;
  candidateVersion: string;
  /** The alias that moves to the candidate on promotion. */
  promoteAlias: string;
  /** Why it ended (or was paused), when it did. */
  reason?: string;
  /**
   * The interval now being counted (every gateway adds its traffic to it in the store) and
   * when it began; absent in rollouts stored before pooled counting (read as 0 and updatedAt).
   */
  window?: number;
  windowStartedAt?: number;
  /** The most recent analysis runs, oldest first (at most 100 kept). */
  runs: AnalysisRun[];
  createdAt: number;
  updatedAt: number;
}

/** What the drift monitor says of both versions (null: not monitored, or no labels yet). */
export interface MonitorFigures {
  baselineAccuracy: number | null;
  candidateAccuracy: number | null;
  baselineLabelled: number;
  candidateLabelled: number;
  candidateDrift: boolean | null;
}
