import assert from "node:assert/strict";
import {
  formatMeanStdErr,
  mae,
  meanStdErr,
  r2,
  regressionMetrics,
  rmse,
} from "../../lib/train/metrics.ts";

const close = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

// Hand-computed: t = [1, 2, 3, 4], p = [1.5, 2, 2, 5]; errors 0.5, 0, −1, 1.
// MAE = 2.5/4 = 0.625; MSE = (0.25 + 0 + 1 + 1)/4 = 0.5625 → RMSE 0.75;
// mean t = 2.5, SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5, SS_res = 2.25 → R² = 0.55.
const t = [1, 2, 3, 4];
const p = [1.5, 2, 2, 5];

Deno.test("mae, rmse, r2 against hand-computed values", () => {
  close(mae(t, p), 0.625);
  close(rmse(t, p), 0.75);
  close(r2(t, p), 0.55);
  const m = regressionMetrics(new Float32Array(t), new Float64Array(p));
  close(m.mae, 0.625);
  close(m.rmse, 0.75);
  close(m.r2, 0.55);
  assert.equal(m.n, 4);
});

Deno.test("r2: perfect is 1, mean predictor is 0, worse is negative, constant targets NaN", () => {
  close(r2(t, t), 1);
  close(r2(t, [2.5, 2.5, 2.5, 2.5]), 0);
  // Predicting −t: SS_res = Σ(2t)² = 4·30 = 120, SS_tot = 5 → 1 − 24 = −23.
  close(r2(t, t.map((x) => -x)), -23);
  assert.ok(Number.isNaN(r2([3, 3, 3], [3, 3, 3])));
  assert.ok(Number.isNaN(mae([], [])));
});

Deno.test("length mismatch throws", () => {
  assert.throws(() => mae([1, 2], [1]), /differ in length/);
});

Deno.test("meanStdErr: sample std over sqrt(n)", () => {
  // values 2, 4, 4, 4, 5, 5, 7, 9: mean 5, Σ(x−5)² = 32, s = sqrt(32/7), stderr = s/sqrt(8).
  const m = meanStdErr([2, 4, 4, 4, 5, 5, 7, 9]);
  close(m.mean, 5);
  close(m.stderr, Math.sqrt(32 / 7) / Math.sqrt(8));
  assert.equal(m.n, 8);
  const one = meanStdErr([0.3]);
  assert.equal(one.mean, 0.3);
  assert.ok(Number.isNaN(one.stderr));
  assert.ok(Number.isNaN(meanStdErr([]).mean));
});

Deno.test("formatMeanStdErr", () => {
  assert.equal(formatMeanStdErr({ mean: 0.0851, stderr: 0.00219 }), "0.085 ± 0.002");
  assert.equal(formatMeanStdErr({ mean: -671.2, stderr: 12.34 }, 1), "-671.2 ± 12.3");
  assert.equal(formatMeanStdErr({ mean: 0.5, stderr: NaN }), "0.500");
  assert.equal(formatMeanStdErr({ mean: NaN, stderr: NaN }), "n/a");
});
