/**
 * Forward values of every tensor op on small hand-computed inputs, shape errors and index
 * checks. Each body runs on every backend (`forEachBackend`: CPU with TypeScript kernels, CPU
 * with native kernels, CUDA when present), in a tidy scope, under the leak check, and every op
 * call is checked on its own (`checkedOps`): an op that leaves a storage alive fails, naming it.
 */

import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import * as ops from "../../lib/tensor/ops.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { forEachBackend } from "../helpers/backends.ts";
import { checkedOps } from "../helpers/checked_ops.ts";
import { assertClose } from "../helpers/numeric.ts";

/** Every op under the per-call leak check: a leak fails naming the op. */
const {
  abs,
  add,
  affine,
  batchNorm,
  concatCols,
  div,
  exp,
  gate,
  gatherRows,
  linear,
  log,
  matmul,
  mean,
  mseLoss,
  mul,
  neg,
  parameter,
  scatterAddRows,
  segmentExpand,
  segmentMean,
  segmentSum,
  sigmoid,
  sliceCols,
  softplus,
  sqrt,
  square,
  sub,
  sum,
  sumRows,
  tensor,
  zeros,
} = checkedOps(ops);

const f32 = (b: Backend, v: number[], shape?: number[]) =>
  tensor(b, new Float32Array(v), shape ?? [v.length]);
const i32 = (b: Backend, v: number[]) => tensor(b, new Int32Array(v));
const vals = (t: Tensor) => Array.from(t.toArray());

/** Asserts `fn` throws a RangeError whose message contains every string of `parts`. */
function throwsRange(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof RangeError, `expected RangeError, got ${e}`);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    return true;
  });
}

// --- creation -------------------------------------------------------------------------

forEachBackend("tensor, zeros and parameter hold their values and shapes", (b) => {
  const t = f32(b, [1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual(t.shape, [2, 3]);
  assert.equal(t.rows, 2);
  assert.equal(t.cols, 3);
  assert.deepEqual(vals(t), [1, 2, 3, 4, 5, 6]);
  assert.equal(t.requiresGrad, false);
  assert.deepEqual(vals(zeros(b, [2, 2])), [0, 0, 0, 0]);
  const p = parameter(b, new Float32Array([0.5, -1]), [2]);
  assert.equal(p.requiresGrad, true);
  assert.deepEqual(vals(p), [0.5, -1]);
  p.dispose();
  const idx = i32(b, [3, -1]);
  assert.equal(idx.dtype, "int32");
  assert.deepEqual(vals(idx), [3, -1]);
  assert.equal(f32(b, [7]).item(), 7);
});

// --- dense ----------------------------------------------------------------------------

forEachBackend("matmul: all four transpose combinations", (b) => {
  const a = f32(b, [1, 2, 3, 4, 5, 6], [2, 3]);
  const m = f32(b, [7, 8, 9, 10, 11, 12], [3, 2]);
  const ab = matmul(a, m);
  assert.deepEqual(ab.shape, [2, 2]);
  assert.deepEqual(vals(ab), [58, 64, 139, 154]);
  const ata = matmul(a, a, true, false);
  assert.deepEqual(ata.shape, [3, 3]);
  assert.deepEqual(vals(ata), [17, 22, 27, 22, 29, 36, 27, 36, 45]);
  const aat = matmul(a, a, false, true);
  assert.deepEqual(aat.shape, [2, 2]);
  assert.deepEqual(vals(aat), [14, 32, 32, 77]);
  // Aᵀ·Bᵀ = (B·A)ᵀ
  const atbt = matmul(a, m, true, true);
  assert.deepEqual(atbt.shape, [3, 3]);
  assert.deepEqual(vals(atbt), [39, 49, 59, 54, 68, 82, 69, 87, 105]);
});

forEachBackend("linear: PyTorch weight layout, bias, and an inputOffset column block", (b) => {
  const x = f32(b, [1, 2, 3, 4], [2, 2]);
  const w = f32(b, [1, 0, 0, 1, 1, 1], [3, 2]);
  const bias = f32(b, [10, 20, 30]);
  const y = linear(x, w, bias);
  assert.deepEqual(y.shape, [2, 3]);
  assert.deepEqual(vals(y), [11, 22, 33, 13, 24, 37]);
  assert.deepEqual(vals(linear(x, w, null)), [1, 2, 3, 3, 4, 7]);
  // W [2, 3]; x [2, 2] uses columns 1..2 of W.
  const w2 = f32(b, [1, 2, 3, 4, 5, 6], [2, 3]);
  const x2 = f32(b, [1, 1, 2, -1], [2, 2]);
  assert.deepEqual(vals(linear(x2, w2, null, 1)), [5, 11, 1, 4]);
  assert.deepEqual(vals(linear(x2, w2, f32(b, [1, 2]), 1)), [6, 13, 2, 6]);
});

// --- element-wise ---------------------------------------------------------------------

forEachBackend("add/sub/mul/div: hand-computed broadcasts", (b) => {
  const a = f32(b, [1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual(vals(add(a, f32(b, [10, 20, 30]))), [11, 22, 33, 14, 25, 36]);
  assert.deepEqual(vals(add(a, f32(b, [10, 20, 30], [1, 3]))), [11, 22, 33, 14, 25, 36]);
  assert.deepEqual(vals(div(a, f32(b, [2, 4], [2, 1]))), [0.5, 1, 1.5, 1, 1.25, 1.5]);
  assert.deepEqual(vals(mul(a, f32(b, [2]))), [2, 4, 6, 8, 10, 12]);
  assert.deepEqual(vals(sub(a, f32(b, [1, 1, 1, 1, 1, 1], [2, 3]))), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(vals(sub(a, f32(b, [1, 2, 3]))), [0, 0, 0, 3, 3, 3]);
  assert.deepEqual(vals(mul(a, f32(b, [-1, 2], [2, 1]))), [-1, -2, -3, 8, 10, 12]);
  assert.deepEqual(vals(div(f32(b, [1, 2, 3]), f32(b, [4]))), [0.25, 0.5, 0.75]);
});

forEachBackend("add/sub/mul/div: every op in every broadcast mode against a float64 loop", (b) => {
  const rows = 3, cols = 4;
  const av = Array.from({ length: rows * cols }, (_, i) => (i % 5) - 1.5 + i / 8);
  const a = f32(b, av, [rows, cols]);
  const operands: [string, number[], number[], (r: number, c: number) => number][] = [
    [
      "none",
      Array.from({ length: 12 }, (_, i) => 0.5 + i / 4),
      [rows, cols],
      (r, c) => r * cols + c,
    ],
    ["row", [1.5, -2, 0.25, 4], [cols], (_r, c) => c],
    ["col", [2, -0.5, 8], [rows, 1], (r) => r],
    ["scalar", [-1.25], [1], () => 0],
  ];
  const fns: [string, (x: Tensor, y: Tensor) => Tensor, (x: number, y: number) => number][] = [
    ["add", add, (x, y) => x + y],
    ["sub", sub, (x, y) => x - y],
    ["mul", mul, (x, y) => x * y],
    ["div", div, (x, y) => x / y],
  ];
  for (const [mode, bv, shape, at] of operands) {
    const t = f32(b, bv, shape);
    for (const [name, fn, ref] of fns) {
      const expected: number[] = [];
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) expected.push(ref(av[r * cols + c], bv[at(r, c)]));
      }
      const out = fn(a, t);
      assert.deepEqual(out.shape, [rows, cols]);
      assertClose(vals(out), expected, 1e-6, 1e-6, `${name} ${mode}`);
    }
  }
});

forEachBackend("sigmoid: values and extremes without overflow", (b) => {
  const y = vals(sigmoid(f32(b, [0, 2, -2, 100, -100, 1000, -1000])));
  assertClose(y.slice(0, 3), [0.5, 0.8807970779778823, 0.11920292202211755], 1e-6, 0);
  assert.equal(y[3], 1);
  assert.ok(y[4] >= 0 && y[4] < 1e-40, `sigmoid(-100) = ${y[4]}`);
  assert.equal(y[5], 1);
  assert.equal(y[6], 0);
});

forEachBackend("softplus: values, PyTorch's threshold 20, stable for large |x|", (b) => {
  const y = vals(softplus(f32(b, [0, 1, -1, 19, 20, 20.5, 21, 1000, -30, -100, -1000])));
  // ln 2, ln(1 + e), ln(1 + 1/e)
  assertClose(y.slice(0, 3), [Math.LN2, 1.3132616875182228, 0.31326168751822286], 1e-6, 0);
  assertClose([y[3]], [19.000000005602796], 1e-7, 0); // log1p(e^19)
  assert.equal(y[4], 20); // log1p(e^20) = 20 + 2e-9, 20 in float32
  assert.equal(y[5], 20.5); // above the threshold: x itself
  assert.equal(y[6], 21);
  assert.equal(y[7], 1000); // no exp overflow
  assertClose([y[8]], [9.357622968840175e-14], 1e-5, 0); // e^-30 (not 0: log1p, not log(1+·))
  assert.ok(y[9] >= 0 && y[9] < 1e-40 && Number.isFinite(y[9]), `softplus(-100) = ${y[9]}`);
  assert.equal(y[10], 0);
});

forEachBackend("exp, log, neg, square, sqrt, abs, affine", (b) => {
  const x = f32(b, [1, 4, 0.25]);
  assertClose(vals(exp(x)), [Math.E, Math.exp(4), Math.exp(0.25)], 1e-6, 0);
  assertClose(vals(log(x)), [0, Math.log(4), -Math.log(4)], 1e-6, 1e-7);
  assert.deepEqual(vals(sqrt(x)), [1, 2, 0.5]);
  const y = f32(b, [-3, 0, 2.5], [1, 3]);
  assert.deepEqual(vals(neg(y)), [3, -0, -2.5]);
  assert.deepEqual(vals(square(y)), [9, 0, 6.25]);
  assert.deepEqual(vals(abs(y)), [3, 0, 2.5]);
  const z = affine(y, 2, 1);
  assert.deepEqual(z.shape, [1, 3]);
  assert.deepEqual(vals(z), [-5, 1, 6]);
  assert.deepEqual(vals(affine(y, -0.5)), [1.5, 0, -1.25]); // −0 + 0 = +0
});

// --- feature blocks ---------------------------------------------------------------------

forEachBackend("concatCols and sliceCols", (b) => {
  const p = f32(b, [1, 2, 3, 4], [2, 2]);
  const q = f32(b, [5, 6], [2, 1]);
  const c = concatCols([p, q, p]);
  assert.deepEqual(c.shape, [2, 5]);
  assert.deepEqual(vals(c), [1, 2, 5, 1, 2, 3, 4, 6, 3, 4]);
  const s = sliceCols(c, 1, 4);
  assert.deepEqual(s.shape, [2, 3]);
  assert.deepEqual(vals(s), [2, 5, 1, 4, 6, 3]);
  assert.deepEqual(sliceCols(c, 2, 2).shape, [2, 0]);
});

forEachBackend("concatCols of wide and narrow blocks (the CPU copies them differently)", (b) => {
  // 70 columns go through a typed-array copy per row, 3 through an element loop.
  const rows = 5, wide = 70, narrow = 3;
  const w = Array.from({ length: rows * wide }, (_, i) => i);
  const n = Array.from({ length: rows * narrow }, (_, i) => -1 - i);
  const c = concatCols([f32(b, w, [rows, wide]), f32(b, n, [rows, narrow])]);
  const expected: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < wide; j++) expected.push(w[r * wide + j]);
    for (let j = 0; j < narrow; j++) expected.push(n[r * narrow + j]);
  }
  assert.deepEqual(vals(c), expected);
  assert.deepEqual(vals(sliceCols(c, wide - 1, wide + 2)), [
    69,
    -1,
    -2,
    139,
    -4,
    -5,
    209,
    -7,
    -8,
    279,
    -10,
    -11,
    349,
    -13,
    -14,
  ]);
});

// --- graph ------------------------------------------------------------------------------

forEachBackend("gatherRows with repeated indices (2-D and 1-D)", (b) => {
  const x = f32(b, [1, 2, 3, 4, 5, 6], [3, 2]);
  const g = gatherRows(x, i32(b, [2, 0, 2, 1]));
  assert.deepEqual(g.shape, [4, 2]);
  assert.deepEqual(vals(g), [5, 6, 1, 2, 5, 6, 3, 4]);
  const v = gatherRows(f32(b, [10, 20, 30]), i32(b, [1, 1]));
  assert.deepEqual(v.shape, [2]);
  assert.deepEqual(vals(v), [20, 20]);
});

forEachBackend("scatterAddRows with collisions and untouched rows", (b) => {
  const x = f32(b, [1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
  const s = scatterAddRows(x, i32(b, [2, 0, 2, 2]), 4);
  assert.deepEqual(s.shape, [4, 2]);
  assert.deepEqual(vals(s), [3, 4, 0, 0, 1 + 5 + 7, 2 + 6 + 8, 0, 0]);
});

forEachBackend("segmentSum / segmentMean over CSR offsets, with an empty segment", (b) => {
  const x = f32(b, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [5, 2]);
  const offsets = i32(b, [0, 2, 2, 5]);
  const s = segmentSum(x, offsets);
  assert.deepEqual(s.shape, [3, 2]);
  assert.deepEqual(vals(s), [4, 6, 0, 0, 21, 24]);
  assert.deepEqual(vals(segmentMean(x, offsets)), [2, 3, 0, 0, 7, 8]);
  assert.deepEqual(vals(segmentSum(f32(b, [1, 2, 3]), i32(b, [0, 1, 3]))), [1, 5]);
});

forEachBackend("segmentExpand repeats each segment's row", (b) => {
  const x = f32(b, [1, 2, 3, 4, 5, 6], [3, 2]);
  const e = segmentExpand(x, i32(b, [0, 2, 2, 3]), 3);
  assert.deepEqual(e.shape, [3, 2]);
  assert.deepEqual(vals(e), [1, 2, 1, 2, 5, 6]);
});

// --- reductions -------------------------------------------------------------------------

forEachBackend("sumRows, sum, mean", (b) => {
  const x = f32(b, [1, 2, 3, 4, 5, 6], [2, 3]);
  const s = sumRows(x);
  assert.deepEqual(s.shape, [3]);
  assert.deepEqual(vals(s), [5, 7, 9]);
  assert.deepEqual(sum(x).shape, [1]);
  assert.equal(sum(x).item(), 21);
  assert.equal(mean(x).item(), 3.5);
});

// --- fused model ops --------------------------------------------------------------------

forEachBackend("gate: sigmoid(f)·softplus(c) on z = [f | c], incl. c above the threshold", (b) => {
  const z = f32(b, [0, 2, 0, 1, 100, -1, 30, 0, -100, 0, -100, 25], [3, 4]);
  const y = gate(z);
  assert.deepEqual(y.shape, [3, 2]);
  const v = vals(y);
  const sp1 = 1.3132616875182228, sg2 = 0.8807970779778823, sgm1 = 0.2689414213699951;
  assertClose(v.slice(0, 2), [0.5 * Math.LN2, sg2 * sp1], 1e-6, 0);
  assertClose(v.slice(2, 4), [30, sgm1 * Math.LN2], 1e-6, 0);
  assert.ok(Math.abs(v[4]) < 1e-40 && Math.abs(v[5] - 0.5 * 25) < 1e-6, `${v}`);
});

forEachBackend("batchNorm with batch statistics and with running statistics", (b) => {
  const x = f32(b, [1, 10, 3, 20], [2, 2]);
  const gamma = f32(b, [1, 2]), beta = f32(b, [0, 1]);
  // Batch statistics: mean [2, 15], biased variance [1, 25].
  const m = zeros(b, [2]), v = zeros(b, [2]);
  b.columnMoments(x.storage, m.storage, v.storage, 2, 2);
  assert.deepEqual(vals(m), [2, 15]);
  assert.deepEqual(vals(v), [1, 25]);
  assertClose(vals(batchNorm(x, gamma, beta, m, v, 0, true)), [-1, -1, 1, 3], 1e-6, 1e-6);
  const eps = 1e-5;
  assertClose(
    vals(batchNorm(x, gamma, beta, m, v, eps, true)),
    [
      -1 / Math.sqrt(1 + eps),
      1 - 10 / Math.sqrt(25 + eps),
      1 / Math.sqrt(1 + eps),
      1 + 10 / Math.sqrt(25 + eps),
    ],
    1e-6,
    1e-6,
  );
  // Running statistics: mean [0, 0], variance [4, 1].
  const rm = f32(b, [0, 0]), rv = f32(b, [4, 1]);
  assert.deepEqual(vals(batchNorm(x, gamma, beta, rm, rv, 0, false)), [0.5, 21, 1.5, 41]);
});

forEachBackend("mseLoss", (b) => {
  const l = mseLoss(f32(b, [1, 2, 3]), f32(b, [1, 0, 0]));
  assert.deepEqual(l.shape, [1]);
  assertClose([l.item()], [13 / 3], 1e-6, 0);
  // Same element count in another shape is accepted.
  assertClose([mseLoss(f32(b, [1, 2], [2, 1]), f32(b, [0, 0])).item()], [2.5], 1e-6, 0);
});

// --- shape errors -------------------------------------------------------------------------

forEachBackend("shape errors are RangeErrors that name the shapes", (b) => {
  const a = f32(b, [1, 2, 3, 4, 5, 6], [2, 3]);
  throwsRange(() => matmul(a, a), "matmul", "[2, 3]");
  throwsRange(() => matmul(a, f32(b, [1, 2, 3])), "[3]");
  throwsRange(() => add(a, f32(b, [1, 2])), "cannot broadcast [2] to [2, 3]");
  throwsRange(() => mul(a, f32(b, [1, 2, 3], [3, 1])), "[3, 1]", "[2, 3]");
  throwsRange(() => sub(f32(b, [1, 2]), a), "[2, 3]", "[2]");
  throwsRange(() => linear(a, f32(b, [1, 2, 3, 4], [2, 2]), null), "[2, 3]", "[2, 2]");
  throwsRange(() => linear(a, f32(b, new Array(8).fill(0), [2, 4]), null, 2), "[2, 4]", "2");
  throwsRange(() => linear(a, f32(b, [1, 2, 3], [1, 3]), f32(b, [1, 2])), "bias", "[2]");
  throwsRange(() => concatCols([a, f32(b, [1, 2, 3], [3, 1])]), "[2, 3] ‖ [3, 1]");
  throwsRange(() => concatCols([]), "concatCols");
  throwsRange(() => sliceCols(a, 2, 4), "2..4", "[2, 3]");
  throwsRange(() => sliceCols(a, 2, 1), "2..1");
  throwsRange(() => gate(a), "gate", "[2, 3]");
  throwsRange(
    () => batchNorm(a, f32(b, [1, 1]), f32(b, [0, 0, 0]), zeros(b, [3]), zeros(b, [3]), 0, true),
    "batchNorm",
    "[2]",
  );
  throwsRange(() => mseLoss(a, f32(b, [1, 2])), "[2, 3]", "[2]");
  throwsRange(() => scatterAddRows(a, i32(b, [0, 1, 1]), 2), "3 indices", "2 rows");
  throwsRange(() => segmentExpand(a, i32(b, [0, 2]), 2), "2 rows", "1 segments");
  throwsRange(() => tensor(b, new Float32Array(5), [2, 3]), "5", "[2, 3]");
  throwsRange(() => zeros(b, [2, 2, 2]), "[2, 2, 2]");
  throwsRange(() => zeros(b, [-1]), "[-1]");
  throwsRange(() => a.item(), "6 elements");
});

forEachBackend("index tensors must be int32 and in range; float ops reject int32", (b) => {
  const x = f32(b, [1, 2, 3, 4, 5, 6], [3, 2]);
  const fIdx = f32(b, [0, 1]);
  assert.throws(
    () => gatherRows(x, fIdx),
    (e: unknown) => e instanceof TypeError && /int32/.test(e.message),
  );
  assert.throws(() => scatterAddRows(f32(b, [1, 2]), fIdx, 2), TypeError);
  assert.throws(() => segmentSum(x, f32(b, [0, 3])), TypeError);
  assert.throws(() => segmentExpand(x, fIdx, 3), TypeError);
  assert.throws(
    () => matmul(i32(b, [1]), x),
    (e: unknown) => e instanceof TypeError && /float32/.test(e.message),
  );
  assert.throws(() => add(x, i32(b, [1, 2])), TypeError);
  throwsRange(() => gatherRows(x, i32(b, [0, 3])), "index[1] = 3", "[0, 3)");
  throwsRange(() => gatherRows(x, i32(b, [-1])), "index[0] = -1");
  throwsRange(() => scatterAddRows(f32(b, [1, 2], [2, 1]), i32(b, [0, 5]), 2), "index[1] = 5");
  throwsRange(() => segmentSum(x, i32(b, [0, 2, 4])), "offsets[2] = 4");
  throwsRange(() => segmentMean(x, i32(b, [0, 2, 1])), "offsets[2] = 1");
  throwsRange(() => segmentExpand(f32(b, [1, 2], [2, 1]), i32(b, [0, 2, 5]), 3), "offsets[2] = 5");
});
