/**
 * Regression metrics on the original target scale (R², MAE, RMSE, as the FACGCNN paper's tables
 * report) and the mean ± standard error summary used across seeds. All sums are float64 whatever
 * the input.
 * @module
 */

/**
 * Anything indexable by position with numbers: `number[]`, `Float32Array`, `Float64Array`.
 */
export type Numbers = ArrayLike<number>;

function checkPair(targets: Numbers, predictions: Numbers): number {
  if (targets.length !== predictions.length) {
    throw new RangeError(
      `targets (${targets.length}) and predictions (${predictions.length}) differ in length`,
    );
  }
  return targets.length;
}

/**
 * Mean absolute error `Σ|t − p| / n`; NaN for empty input.
 *
 * @example
 * ```ts
 * import { mae } from "@facgcnn/toolkit";
 * console.log(mae([1, 2, 3], [1, 2.5, 2])); // 0.5
 * ```
 */
export function mae(targets: Numbers, predictions: Numbers): number {
  const n = checkPair(targets, predictions);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(targets[i] - predictions[i]);
  return n === 0 ? NaN : s / n;
}

/**
 * Root mean squared error `sqrt(Σ(t − p)² / n)`; NaN for empty input.
 *
 * @example
 * ```ts
 * import { rmse } from "@facgcnn/toolkit";
 * console.log(rmse([0, 0], [3, 4])); // 3.535…
 * ```
 */
export function rmse(targets: Numbers, predictions: Numbers): number {
  const n = checkPair(targets, predictions);
  let s = 0;
  for (let i = 0; i < n; i++) s += (targets[i] - predictions[i]) ** 2;
  return n === 0 ? NaN : Math.sqrt(s / n);
}

/**
 * Coefficient of determination `1 − SS_res / SS_tot` with `SS_tot = Σ(t − mean t)²`.
 * Can be negative (worse than predicting the mean). NaN when the targets are constant
 * (SS_tot = 0; scikit-learn would force 1 or 0 there, we prefer an honest "undefined") or
 * empty.
 *
 * @example
 * ```ts
 * import { r2 } from "@facgcnn/toolkit";
 * console.log(r2([1, 2, 3], [1, 2, 3])); // 1
 * ```
 */
export function r2(targets: Numbers, predictions: Numbers): number {
  const n = checkPair(targets, predictions);
  if (n === 0) return NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += targets[i];
  mean /= n;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    ssRes += (targets[i] - predictions[i]) ** 2;
    ssTot += (targets[i] - mean) ** 2;
  }
  return ssTot === 0 ? NaN : 1 - ssRes / ssTot;
}

/**
 * The three test metrics of the paper's tables, plus the sample count.
 *
 * @example
 * ```ts
 * import { type RegressionMetrics, regressionMetrics } from "@facgcnn/toolkit";
 * const m: RegressionMetrics = regressionMetrics([1, 2, 3], [1.1, 2, 2.9]);
 * console.log(m.mae, m.rmse, m.r2, m.n);
 * ```
 */
export interface RegressionMetrics {
  /** Mean absolute error. */
  mae: number;
  /** Root mean squared error. */
  rmse: number;
  /** Coefficient of determination. */
  r2: number;
  /** Number of values. */
  n: number;
}

/**
 * MAE, RMSE and R² in one call.
 *
 * @example
 * ```ts
 * import { regressionMetrics } from "@facgcnn/toolkit";
 * const { mae, rmse, r2 } = regressionMetrics([1, 2, 3, 4], [1.1, 1.9, 3.2, 3.9]);
 * ```
 */
export function regressionMetrics(targets: Numbers, predictions: Numbers): RegressionMetrics {
  return {
    mae: mae(targets, predictions),
    rmse: rmse(targets, predictions),
    r2: r2(targets, predictions),
    n: checkPair(targets, predictions),
  };
}

/**
 * Mean and standard error of a set of values (e.g. one metric over seeds).
 *
 * @example
 * ```ts
 * import { type MeanStdErr, meanStdErr } from "@facgcnn/toolkit";
 * const m: MeanStdErr = meanStdErr([1, 2, 3]);
 * console.log(m.mean, m.stderr, m.n); // 2 0.577… 3
 * ```
 */
export interface MeanStdErr {
  /** Arithmetic mean. */
  mean: number;
  /** Sample standard deviation (n − 1) / sqrt(n); NaN when n < 2 (undefined, not 0). */
  stderr: number;
  /** Number of values. */
  n: number;
}

/**
 * Mean ± standard error, `stderr = s / sqrt(n)` with the sample standard deviation `s`
 * (divisor n − 1), as the paper reports over 5 seeds. With one value the spread is unknown,
 * so `stderr` is NaN rather than a misleading 0; with none, `mean` is NaN too.
 *
 * @example
 * ```ts
 * import { meanStdErr } from "@facgcnn/toolkit";
 * const { mean, stderr } = meanStdErr([0.081, 0.085, 0.089]); // over seeds
 * ```
 */
export function meanStdErr(values: Numbers): MeanStdErr {
  const n = values.length;
  if (n === 0) return { mean: NaN, stderr: NaN, n };
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  if (n < 2) return { mean, stderr: NaN, n };
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { mean, stderr: Math.sqrt(ss / (n - 1)) / Math.sqrt(n), n };
}

/**
 * Formats `mean ± stderr` with `digits` decimals, e.g. `"0.085 ± 0.002"`. A NaN stderr
 * (a single seed) prints the mean alone; a NaN mean prints `"n/a"`.
 *
 * @example
 * ```ts
 * import { formatMeanStdErr, meanStdErr } from "@facgcnn/toolkit";
 * console.log(formatMeanStdErr(meanStdErr([0.081, 0.085, 0.089]))); // "0.085 ± 0.002"
 * ```
 */
export function formatMeanStdErr(m: { mean: number; stderr: number }, digits = 3): string {
  if (!Number.isFinite(m.mean)) return Number.isNaN(m.mean) ? "n/a" : String(m.mean);
  const mean = m.mean.toFixed(digits);
  return Number.isNaN(m.stderr) ? mean : `${mean} ± ${m.stderr.toFixed(digits)}`;
}

/**
 * Two-class metrics, as CGCNN reports them for classification.
 *
 * @example
 * ```ts
 * import { type ClassificationMetrics, classificationMetrics } from "@facgcnn/toolkit";
 * const m: ClassificationMetrics = classificationMetrics([0, 1, 1], [0.2, 0.9, 0.4]);
 * console.log(m.accuracy, m.auc);
 * ```
 */
export interface ClassificationMetrics {
  /** Fraction of structures whose predicted class (P(class 1) ≥ 0.5) is the label. */
  accuracy: number;
  /** True positives / predicted positives (NaN when nothing is predicted positive). */
  precision: number;
  /** True positives / actual positives (NaN when there are no positives). */
  recall: number;
  /** Harmonic mean of precision and recall (NaN when either is NaN or both are 0). */
  f1: number;
  /** Area under the ROC curve of P(class 1) (ties count ½; NaN with one class only). */
  auc: number;
  /** Number of structures. */
  n: number;
}

/**
 * Accuracy, precision, recall and F1 at P(class 1) ≥ 0.5 (CGCNN takes the arg-max of two
 * probabilities, the same rule), and the ROC AUC as the Mann–Whitney statistic: the fraction
 * of (positive, negative) pairs ranked correctly, ties counting ½.
 *
 * @example
 * ```ts
 * import { classificationMetrics } from "@facgcnn/toolkit";
 * const m = classificationMetrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.8]);
 * console.log(m); // accuracy 0.5, precision 0.5, recall 0.5, f1 0.5, auc 0.75, n 4
 * ```
 */
export function classificationMetrics(
  labels: Numbers,
  probabilities: Numbers,
): ClassificationMetrics {
  const n = checkPair(labels, probabilities);
  let tp = 0, fp = 0, fn = 0, tn = 0;
  const pos: number[] = [], neg: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new RangeError(`label ${i} is ${y}, expected 0 or 1`);
    const p = probabilities[i];
    const predicted = p >= 0.5 ? 1 : 0;
    if (y === 1) {
      pos.push(p);
      if (predicted === 1) tp++;
      else fn++;
    } else {
      neg.push(p);
      if (predicted === 1) fp++;
      else tn++;
    }
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : NaN;
  const recall = tp + fn > 0 ? tp / (tp + fn) : NaN;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : NaN;
  // AUC by sorting: for each positive, count negatives below it (ties ½). O(n log n).
  let auc = NaN;
  if (pos.length > 0 && neg.length > 0) {
    const sorted = Float64Array.from(neg).sort();
    const below = (p: number, strict: boolean) => {
      let lo = 0, hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (strict ? sorted[mid] < p : sorted[mid] <= p) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    let wins = 0;
    for (const p of pos) {
      const less = below(p, true), lessOrEqual = below(p, false);
      wins += less + 0.5 * (lessOrEqual - less);
    }
    auc = wins / (pos.length * neg.length);
  }
  return { accuracy: (tp + tn) / n, precision, recall, f1, auc, n };
}
