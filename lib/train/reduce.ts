/**
 * Statistics of a data-parallel run computed over every process's part of the data, from
 * float64 sums all-reduced across processes (two rounds where a mean is needed first, so the
 * centred sums do not cancel). With one process they equal the ordinary computation.
 * @module
 */

import type { Communicator } from "../distributed/communicator.ts";
import type { RegressionMetrics } from "./metrics.ts";
import { Normalizer } from "./normalizer.ts";

type Numbers = ArrayLike<number>;

/** Target mean and sample standard deviation over all processes (as `Normalizer.fit`). */
export function reducedNormalizer(comm: Communicator, targets: Numbers): Normalizer {
  const s = new Float64Array(2);
  for (let i = 0; i < targets.length; i++) s[0] += targets[i];
  s[1] = targets.length;
  comm.allreduceSum(s);
  const n = s[1];
  if (n === 0) throw new RangeError("Normalizer.fit needs at least one target");
  const mean = s[0] / n;
  const ss = new Float64Array(1);
  for (let i = 0; i < targets.length; i++) ss[0] += (targets[i] - mean) ** 2;
  comm.allreduceSum(ss);
  const std = n > 1 ? Math.sqrt(ss[0] / (n - 1)) : 0;
  return new Normalizer(mean, std > 0 ? std : 1);
}

/** MAE, RMSE and R² over every process's (targets, predictions). */
export function reducedMetrics(
  comm: Communicator,
  targets: Numbers,
  predictions: Numbers,
): RegressionMetrics {
  if (targets.length !== predictions.length) {
    throw new RangeError(`${targets.length} targets but ${predictions.length} predictions`);
  }
  // [n, Σt, Σ|t − p|, Σ(t − p)²]
  const s = new Float64Array(4);
  for (let i = 0; i < targets.length; i++) {
    const e = targets[i] - predictions[i];
    s[1] += targets[i];
    s[2] += Math.abs(e);
    s[3] += e * e;
  }
  s[0] = targets.length;
  comm.allreduceSum(s);
  const n = s[0];
  if (n === 0) return { mae: NaN, rmse: NaN, r2: NaN, n: 0 };
  const mean = s[1] / n;
  const tot = new Float64Array(1);
  for (let i = 0; i < targets.length; i++) tot[0] += (targets[i] - mean) ** 2;
  comm.allreduceSum(tot);
  return {
    mae: s[2] / n,
    rmse: Math.sqrt(s[3] / n),
    r2: tot[0] === 0 ? NaN : 1 - s[3] / tot[0],
    n,
  };
}

/** Mean of |t − c| over every process's targets (the mean-predictor baseline). */
export function reducedMeanAbsDeviation(comm: Communicator, targets: Numbers, c: number): number {
  const s = new Float64Array(2);
  for (let i = 0; i < targets.length; i++) s[0] += Math.abs(targets[i] - c);
  s[1] = targets.length;
  comm.allreduceSum(s);
  return s[0] / s[1];
}
