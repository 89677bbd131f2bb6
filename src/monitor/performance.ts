/**
 * Realised model quality from joined labels, and a label-free estimate from the predicted
 * probabilities (confidence-based, as NannyML's CBPE: the mean top-class probability).
 * Classification metrics follow scikit-learn's defaults: binary precision/recall for class 1,
 * macro averages beyond two classes, 0 where a ratio has nothing to divide by.
 */

export interface ClassificationMetrics {
  task: 'classification';
  labelled_rows: number;
  accuracy: number | null;
  roc_auc: number | null;
  precision: number | null;
  recall: number | null;
  /** Mean top-class probability over the live window; null when it holds no prediction. */
  estimated_accuracy: number | null;
  estimated_rows: number;
}

export interface RegressionMetrics {
  task: 'regression';
  labelled_rows: number;
  mean_error: number | null;
  mean_absolute_error: number | null;
  mean_squared_error: number | null;
  root_mean_squared_error: number | null;
  r2: number | null;
}

/** Scores per class of one prediction row: width 1 is P(class 1) of a binary model. */
export function classScores(p: Float64Array): { classes: number; predicted: number; top: number } {
  if (p.length === 1) {
    const p1 = p[0];
    return { classes: 2, predicted: p1 > 0.5 ? 1 : 0, top: Math.max(p1, 1 - p1) };
  }
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return { classes: p.length, predicted: best, top: p[best] };
}

/** Area under the ROC curve of scores for the positive rows against the negative ones (ties count half). */
export function rocAuc(scores: number[], positive: boolean[]): number | null {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  // Mann-Whitney U from average ranks.
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && scores[order[j]] === scores[order[i]]) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if (positive[order[k]]) {
        rankSumPos += avgRank;
        nPos++;
      }
    }
    i = j;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Classification metrics over (prediction, label) pairs; labels are class indices. */
export function classificationMetrics(rows: { p: Float64Array; label: number }[], estimate: { sum: number; rows: number }): ClassificationMetrics {
  const n = rows.length;
  const base: ClassificationMetrics = {
    task: 'classification', labelled_rows: n, accuracy: null, roc_auc: null, precision: null, recall: null,
    estimated_accuracy: estimate.rows > 0 ? estimate.sum / estimate.rows : null, estimated_rows: estimate.rows,
  };
  if (n === 0) return base;
  const classes = classScores(rows[0].p).classes;
  const predicted = rows.map((r) => classScores(r.p).predicted);
  let correct = 0;
  for (let i = 0; i < n; i++) if (predicted[i] === rows[i].label) correct++;
  const score = (r: { p: Float64Array }, c: number) => (r.p.length === 1 ? (c === 1 ? r.p[0] : 1 - r.p[0]) : r.p[c]);
  const prf = (c: number) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < n; i++) {
      const isPred = predicted[i] === c;
      const isTrue = rows[i].label === c;
      if (isPred && isTrue) tp++;
      else if (isPred) fp++;
      else if (isTrue) fn++;
    }
    return { precision: tp + fp ? tp / (tp + fp) : 0, recall: tp + fn ? tp / (tp + fn) : 0 };
  };
  if (classes === 2) {
    const { precision, recall } = prf(1);
    return {
      ...base, accuracy: correct / n, precision, recall,
      roc_auc: rocAuc(rows.map((r) => score(r, 1)), rows.map((r) => r.label === 1)),
    };
  }
  // Macro averages over the classes present among labels or predictions (scikit-learn's label set).
  const present = [...new Set([...predicted, ...rows.map((r) => r.label)])].sort((a, b) => a - b);
  const per = present.map(prf);
  const aucs = present.map((c) => rocAuc(rows.map((r) => score(r, c)), rows.map((r) => r.label === c))).filter((a): a is number => a !== null);
  return {
    ...base, accuracy: correct / n,
    precision: per.reduce((s, x) => s + x.precision, 0) / per.length,
    recall: per.reduce((s, x) => s + x.recall, 0) / per.length,
    roc_auc: aucs.length ? aucs.reduce((s, x) => s + x, 0) / aucs.length : null,
  };
}

/** Regression metrics over (prediction, label) pairs. */
export function regressionMetrics(rows: { p: Float64Array; label: number }[]): RegressionMetrics {
  const n = rows.length;
  if (n === 0) {
    return { task: 'regression', labelled_rows: 0, mean_error: null, mean_absolute_error: null, mean_squared_error: null, root_mean_squared_error: null, r2: null };
  }
  let me = 0;
  let mae = 0;
  let mse = 0;
  let mean = 0;
  for (const r of rows) {
    const e = r.p[0] - r.label;
    me += e;
    mae += Math.abs(e);
    mse += e * e;
    mean += r.label;
  }
  mean /= n;
  let ssTot = 0;
  for (const r of rows) ssTot += (r.label - mean) ** 2;
  return {
    task: 'regression', labelled_rows: n, mean_error: me / n, mean_absolute_error: mae / n, mean_squared_error: mse / n,
    root_mean_squared_error: Math.sqrt(mse / n), r2: ssTot > 0 ? 1 - mse / ssTot : null,
  };
}
