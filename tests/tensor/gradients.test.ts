/**
 * Finite-difference gradient tests: for every differentiable op, the analytic gradient of
 * L = Σ w ⊙ op(inputs) (float32 autograd) is compared with central differences of a float64
 * reference of the op written here with plain loops. Each body runs on every backend
 * (`forEachBackend`), under its leak check.
 */

import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import * as ops from "../../lib/tensor/ops.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { noGrad, tidy } from "../../lib/tensor/scope.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { forEachBackend } from "../helpers/backends.ts";
import { checkedOps } from "../helpers/checked_ops.ts";
import { assertClose, seededRng, uniform } from "../helpers/numeric.ts";

/** Every op under the per-call leak check: a leak in a forward pass fails naming the op. */
const T = checkedOps(ops);

type F64 = Float64Array;

// --- float64 references (row-major, plain loops) ----------------------------------------

/** `op(a)·op(b)` with `a` stored `[ar, ac]`, `b` stored `[br, bc]`. */
function mm64(
  a: F64,
  ar: number,
  ac: number,
  b: F64,
  br: number,
  bc: number,
  tA: boolean,
  tB: boolean,
) {
  const m = tA ? ac : ar, k = tA ? ar : ac, n = tB ? br : bc;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        s += (tA ? a[p * ac + i] : a[i * ac + p]) * (tB ? b[j * bc + p] : b[p * bc + j]);
      }
      out[i * n + j] = s;
    }
  }
  return out;
}

/** `x·W[:, off:off+k]ᵀ + bias` with W `[outF, inF]`. */
function linear64(
  x: F64,
  rows: number,
  k: number,
  w: F64,
  outF: number,
  inF: number,
  bias: F64 | null,
  off: number,
) {
  const out = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias[o] : 0;
      for (let p = 0; p < k; p++) s += x[r * k + p] * w[o * inF + off + p];
      out[r * outF + o] = s;
    }
  }
  return out;
}

/** `a ∘ b` with b broadcast as `mode` over `[rows, cols]`. */
function binary64(
  f: (x: number, y: number) => number,
  a: F64,
  b: F64,
  rows: number,
  cols: number,
  mode: string,
) {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const bi = mode === "none" ? r * cols + c : mode === "row" ? c : mode === "col" ? r : 0;
      out[r * cols + c] = f(a[r * cols + c], b[bi]);
    }
  }
  return out;
}

const map64 = (x: F64, f: (v: number) => number) => x.map(f);
const softplus64 = (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v)));
const sigmoid64 = (v: number) => 1 / (1 + Math.exp(-v));

function gather64(x: F64, cols: number, index: number[]) {
  const out = new Float64Array(index.length * cols);
  index.forEach((s, i) => {
    for (let c = 0; c < cols; c++) out[i * cols + c] = x[s * cols + c];
  });
  return out;
}

function scatter64(x: F64, cols: number, index: number[], nOut: number) {
  const out = new Float64Array(nOut * cols);
  index.forEach((d, i) => {
    for (let c = 0; c < cols; c++) out[d * cols + c] += x[i * cols + c];
  });
  return out;
}

function segment64(x: F64, cols: number, offsets: number[], mean: boolean) {
  const n = offsets.length - 1;
  const out = new Float64Array(n * cols);
  for (let s = 0; s < n; s++) {
    const len = offsets[s + 1] - offsets[s];
    for (let r = offsets[s]; r < offsets[s + 1]; r++) {
      for (let c = 0; c < cols; c++) out[s * cols + c] += x[r * cols + c] / (mean ? len : 1);
    }
  }
  return out;
}

function expand64(x: F64, cols: number, offsets: number[]) {
  const n = offsets.length - 1;
  const out = new Float64Array(offsets[n] * cols);
  for (let s = 0; s < n; s++) {
    for (let r = offsets[s]; r < offsets[s + 1]; r++) {
      for (let c = 0; c < cols; c++) out[r * cols + c] = x[s * cols + c];
    }
  }
  return out;
}

function sumRows64(x: F64, rows: number, cols: number) {
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += x[r * cols + c];
  return out;
}

function concat64(parts: [F64, number][], rows: number) {
  const cols = parts.reduce((s, [, c]) => s + c, 0);
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let at = 0;
    for (const [p, c] of parts) {
      for (let j = 0; j < c; j++) out[r * cols + at + j] = p[r * c + j];
      at += c;
    }
  }
  return out;
}

function slice64(x: F64, rows: number, cols: number, start: number, end: number) {
  const w = end - start;
  const out = new Float64Array(rows * w);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < w; j++) out[r * w + j] = x[r * cols + start + j];
  }
  return out;
}

function gate64(z: F64, rows: number, cols: number) {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      out[r * cols + j] = sigmoid64(z[2 * r * cols + j]) * softplus64(z[2 * r * cols + cols + j]);
    }
  }
  return out;
}

/** Batch norm; `stats` null means the batch's own biased statistics. */
function bn64(
  x: F64,
  rows: number,
  cols: number,
  gamma: F64,
  beta: F64,
  stats: [F64, F64] | null,
  eps: number,
) {
  let mean: F64, variance: F64;
  if (stats) [mean, variance] = stats;
  else {
    mean = sumRows64(x, rows, cols).map((s) => s / rows);
    variance = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) variance[c] += (x[r * cols + c] - mean[c]) ** 2 / rows;
    }
  }
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      out[r * cols + c] = (x[r * cols + c] - mean[c]) / Math.sqrt(variance[c] + eps) * gamma[c] +
        beta[c];
    }
  }
  return out;
}

const sum64 = (x: F64) => x.reduce((s, v) => s + v, 0);

// --- the check ---------------------------------------------------------------------------

interface Input {
  shape: number[];
  data: F64;
}

let seedCounter = 1;

/** A differentiable input with float32-representable values uniform in `[lo, hi)`. */
function input(shape: number[], lo = -1, hi = 1): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: uniform(seededRng(1000 + seedCounter++), n, lo, hi) };
}

/** Input with given values (rounded to float32). */
function given(shape: number[], values: number[]): Input {
  return { shape, data: Float64Array.from(values, Math.fround) };
}

/**
 * Checks the forward value and the gradient of every input of `forward` against the float64
 * `reference` by central differences of L = Σ w ⊙ op.
 */
function gradCheck(
  b: Backend,
  inputs: Input[],
  forward: (ps: Tensor[]) => Tensor,
  reference: (xs: F64[]) => F64,
  { rtol = 1e-3, atol = 1e-4, seed = 7 } = {},
): void {
  const params = inputs.map((i) => T.parameter(b, Float32Array.from(i.data), i.shape));
  try {
    tidy(() => {
      const out = forward(params);
      const xs = inputs.map((i) => i.data.slice());
      const ref = reference(xs);
      assertClose(out.toArray(), ref, 1e-5, 1e-5, "forward");
      const w = uniform(seededRng(seed), out.size, -1, 1);
      const wT = T.tensor(b, Float32Array.from(w), out.shape);
      T.sum(T.mul(out, wT)).backward();
      const loss = (v: F64[]) => {
        const y = reference(v);
        let s = 0;
        for (let i = 0; i < y.length; i++) s += w[i] * y[i];
        return s;
      };
      inputs.forEach((inp, k) => {
        const numeric = new Float64Array(inp.data.length);
        for (let j = 0; j < numeric.length; j++) {
          const x0 = xs[k][j];
          const h = 1e-6 * Math.max(1, Math.abs(x0));
          xs[k][j] = x0 + h;
          const lp = loss(xs);
          xs[k][j] = x0 - h;
          const lm = loss(xs);
          xs[k][j] = x0;
          numeric[j] = (lp - lm) / (2 * h);
        }
        const grad = params[k].grad;
        assert.ok(grad !== null, `input ${k} got no gradient`);
        assert.deepEqual(grad.shape, params[k].shape, `input ${k}: gradient shape`);
        const scale = numeric.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
        assertClose(grad.toArray(), numeric, rtol, atol * scale, `d/d(input ${k})`);
      });
    });
  } finally {
    for (const p of params) p.dispose();
  }
}

/**
 * Registers a gradient test on every backend; `forEachBackend`'s leak check fails it when the
 * op's forward or backward pass leaves a storage alive.
 */
function gradTest(name: string, fn: (b: Backend) => void): void {
  forEachBackend(`grad: ${name}`, fn);
}

const f32 = (b: Backend, v: ArrayLike<number>, shape: number[]) =>
  T.tensor(b, Float32Array.from(v), shape);
const i32 = (b: Backend, v: number[]) => T.tensor(b, new Int32Array(v));

// --- dense --------------------------------------------------------------------------------

for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]]) {
  gradTest(`matmul transA=${tA} transB=${tB}`, (b) => {
    const m = 3, k = 4, n = 5;
    const aShape = tA ? [k, m] : [m, k], bShape = tB ? [n, k] : [k, n];
    gradCheck(
      b,
      [input(aShape), input(bShape)],
      ([a, x]) => T.matmul(a, x, tA, tB),
      ([a, x]) => mm64(a, aShape[0], aShape[1], x, bShape[0], bShape[1], tA, tB),
    );
  });
}

gradTest("linear with bias", (b) => {
  gradCheck(
    b,
    [input([4, 3]), input([5, 3]), input([5])],
    ([x, w, bias]) => T.linear(x, w, bias),
    ([x, w, bias]) => linear64(x, 4, 3, w, 5, 3, bias, 0),
  );
});

gradTest("linear without bias", (b) => {
  gradCheck(
    b,
    [input([4, 3]), input([2, 3])],
    ([x, w]) => T.linear(x, w, null),
    ([x, w]) => linear64(x, 4, 3, w, 2, 3, null, 0),
  );
});

gradTest("linear on an inputOffset column block (rest of W gets 0)", (b) => {
  gradCheck(
    b,
    [input([4, 2]), input([3, 6]), input([3])],
    ([x, w, bias]) => T.linear(x, w, bias, 3),
    ([x, w, bias]) => linear64(x, 4, 2, w, 3, 6, bias, 3),
  );
});

// --- element-wise ---------------------------------------------------------------------------

const BINARY: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
  ["add", T.add, (x, y) => x + y],
  ["sub", T.sub, (x, y) => x - y],
  ["mul", T.mul, (x, y) => x * y],
  ["div", T.div, (x, y) => x / y],
];
const MODES: [string, number[]][] = [["none", [3, 4]], ["row", [4]], ["col", [3, 1]], ["scalar", [
  1,
]]];

for (const [name, op, f] of BINARY) {
  for (const [mode, bShape] of MODES) {
    gradTest(`${name} broadcast=${mode}`, (b) => {
      // Divisors in [0.5, 2): away from 0.
      const rhs = name === "div" ? input(bShape, 0.5, 2) : input(bShape);
      gradCheck(
        b,
        [input([3, 4]), rhs],
        ([x, y]) => op(x, y),
        ([x, y]) => binary64(f, x, y, 3, 4, mode),
      );
    });
  }
}

gradTest("row broadcast of a [1, cols] operand", (b) => {
  gradCheck(
    b,
    [input([3, 4]), input([1, 4])],
    ([x, y]) => T.mul(x, y),
    ([x, y]) => binary64((p, q) => p * q, x, y, 3, 4, "row"),
  );
});

gradTest("mul(x, x): one tensor as both operands", (b) => {
  gradCheck(b, [input([2, 3])], ([x]) => T.mul(x, x), ([x]) => x.map((v) => v * v));
});

const UNARY: [string, (x: Tensor) => Tensor, (v: number) => number, number, number][] = [
  ["sigmoid", T.sigmoid, sigmoid64, -4, 4],
  ["softplus", T.softplus, softplus64, -4, 4],
  ["exp", T.exp, Math.exp, -2, 2],
  ["log", T.log, Math.log, 0.2, 3],
  ["neg", T.neg, (v) => -v, -2, 2],
  ["square", T.square, (v) => v * v, -2, 2],
  ["sqrt", T.sqrt, Math.sqrt, 0.2, 3],
  ["abs", T.abs, Math.abs, 0.1, 2], // sign flipped below: both branches, away from the kink
];

for (const [name, op, f, lo, hi] of UNARY) {
  gradTest(`unary ${name}`, (b) => {
    const x = input([3, 4], lo, hi);
    if (name === "abs") x.data.forEach((v, i) => (x.data[i] = i % 2 ? -v : v));
    gradCheck(b, [x], ([t]) => op(t), ([v]) => map64(v, f));
  });
}

gradTest("softplus on both sides of the threshold 20 and for large negative x", (b) => {
  const x = given([8], [-40, -25, -5, 19, 19.5, 20.5, 25, 60]);
  gradCheck(b, [x], ([t]) => T.softplus(t), ([v]) => map64(v, softplus64));
});

gradTest("affine", (b) => {
  gradCheck(
    b,
    [input([2, 3])],
    ([x]) => T.affine(x, -1.75, 0.5),
    ([x]) => x.map((v) => -1.75 * v + 0.5),
  );
});

// --- feature blocks ---------------------------------------------------------------------------

gradTest("concatCols (with one part used twice)", (b) => {
  gradCheck(
    b,
    [input([3, 2]), input([3, 1])],
    ([p, q]) => T.concatCols([p, q, p]),
    ([p, q]) => concat64([[p, 2], [q, 1], [p, 2]], 3),
  );
});

gradTest("sliceCols", (b) => {
  gradCheck(b, [input([3, 5])], ([x]) => T.sliceCols(x, 1, 4), ([x]) => slice64(x, 3, 5, 1, 4));
});

// --- graph ------------------------------------------------------------------------------------

gradTest("gatherRows with repeated indices (one row unused)", (b) => {
  const index = [2, 0, 2, 3, 2];
  gradCheck(
    b,
    [input([4, 3])],
    ([x]) => T.gatherRows(x, i32(b, index)),
    ([x]) => gather64(x, 3, index),
  );
});

gradTest("scatterAddRows with collisions", (b) => {
  const index = [1, 1, 0, 1, 3];
  gradCheck(
    b,
    [input([5, 2])],
    ([x]) => T.scatterAddRows(x, i32(b, index), 4),
    ([x]) => scatter64(x, 2, index, 4),
  );
});

for (const meanMode of [false, true]) {
  gradTest(`segment${meanMode ? "Mean" : "Sum"} with an empty segment`, (b) => {
    const offsets = [0, 2, 2, 5, 6];
    gradCheck(
      b,
      [input([6, 3])],
      ([x]) => (meanMode ? T.segmentMean : T.segmentSum)(x, i32(b, offsets)),
      ([x]) => segment64(x, 3, offsets, meanMode),
    );
  });
}

gradTest("segmentExpand with an empty segment", (b) => {
  const offsets = [0, 2, 2, 5];
  gradCheck(
    b,
    [input([3, 2])],
    ([x]) => T.segmentExpand(x, i32(b, offsets), 5),
    ([x]) => expand64(x, 2, offsets),
  );
});

// --- reductions -------------------------------------------------------------------------------

gradTest("sumRows", (b) => {
  gradCheck(b, [input([3, 4])], ([x]) => T.sumRows(x), ([x]) => sumRows64(x, 3, 4));
});

gradTest("sum", (b) => {
  gradCheck(b, [input([3, 4])], ([x]) => T.sum(x), ([x]) => Float64Array.of(sum64(x)));
});

gradTest("mean", (b) => {
  gradCheck(b, [input([3, 4])], ([x]) => T.mean(x), ([x]) => Float64Array.of(sum64(x) / 12));
});

// --- fused model ops --------------------------------------------------------------------------

gradTest("gate, with c values above 20", (b) => {
  const z = input([3, 8], -3, 3);
  // c half of row 0 and 2: two entries past the threshold, one far negative.
  z.data[4] = 25;
  z.data[5] = 21.5;
  z.data[2 * 8 + 6] = 30;
  z.data[2 * 8 + 7] = -30;
  gradCheck(b, [z], ([t]) => T.gate(t), ([v]) => gate64(v, 3, 4));
});

gradTest("batchNorm with batch statistics", (b) => {
  const rows = 6, cols = 3, eps = 1e-5;
  gradCheck(
    b,
    [input([rows, cols], -2, 2), input([cols], 0.5, 1.5), input([cols])],
    ([x, gamma, beta]) => {
      const m = T.zeros(b, [cols]), v = T.zeros(b, [cols]);
      b.columnMoments(x.storage, m.storage, v.storage, rows, cols);
      return T.batchNorm(x, gamma, beta, m, v, eps, true);
    },
    ([x, gamma, beta]) => bn64(x, rows, cols, gamma, beta, null, eps),
  );
});

gradTest("batchNorm with running statistics", (b) => {
  const rows = 5, cols = 3, eps = 1e-5;
  const rm = [0.1, -0.3, 0.5], rv = [0.8, 1.7, 0.4];
  gradCheck(
    b,
    [input([rows, cols], -2, 2), input([cols], 0.5, 1.5), input([cols])],
    ([x, gamma, beta]) =>
      T.batchNorm(x, gamma, beta, f32(b, rm, [cols]), f32(b, rv, [cols]), eps, false),
    ([x, gamma, beta]) =>
      bn64(x, rows, cols, gamma, beta, [
        Float64Array.from(rm, Math.fround),
        Float64Array.from(rv, Math.fround),
      ], eps),
  );
});

gradTest("mseLoss (target gets no gradient)", (b) => {
  const target = uniform(seededRng(99), 6);
  gradCheck(
    b,
    [input([6])],
    ([p]) => T.mseLoss(p, f32(b, target, [6])),
    ([p]) => Float64Array.of(sum64(p.map((v, i) => (v - target[i]) ** 2)) / 6),
  );
});

// --- composition --------------------------------------------------------------------------------

gradTest("2-layer MLP with BN and softplus; x and h each used twice", (b) => {
  const n = 6, d = 3, hdim = 4, eps = 1e-5;
  const target = uniform(seededRng(5), n * 2);
  gradCheck(
    b,
    [
      input([n, d]),
      input([hdim, d]),
      input([hdim]),
      input([hdim], 0.5, 1.5),
      input([hdim]),
      input([2, hdim]),
      input([2]),
    ],
    ([x, w1, b1, gamma, beta, w2, b2]) => {
      const z = T.linear(x, w1, b1);
      const m = T.zeros(b, [hdim]), v = T.zeros(b, [hdim]);
      b.columnMoments(z.storage, m.storage, v.storage, n, hdim);
      const h = T.softplus(T.batchNorm(z, gamma, beta, m, v, eps, true));
      const o = T.linear(h, w2, b2);
      const y = T.add(o, T.mul(T.sliceCols(h, 0, 2), T.sliceCols(x, 1, 3)));
      return T.mseLoss(y, f32(b, target, [n, 2]));
    },
    ([x, w1, b1, gamma, beta, w2, b2]) => {
      const z = linear64(x, n, d, w1, hdim, d, b1, 0);
      const h = map64(bn64(z, n, hdim, gamma, beta, null, eps), softplus64);
      const o = linear64(h, n, hdim, w2, 2, hdim, b2, 0);
      const skip = binary64(
        (p, q) => p * q,
        slice64(h, n, hdim, 0, 2),
        slice64(x, n, d, 1, 3),
        n,
        2,
        "none",
      );
      const y = o.map((v, i) => v + skip[i]);
      return Float64Array.of(sum64(y.map((v, i) => (v - target[i]) ** 2)) / (n * 2));
    },
  );
});

// --- accumulation, no-grad, errors ----------------------------------------------------------------

forEachBackend("grad: two backward() calls add their gradients", (b) => {
  const data = Float32Array.from(uniform(seededRng(3), 6));
  const p = T.parameter(b, data, [2, 3]);
  const q = f32(b, uniform(seededRng(4), 6), [2, 3]);
  try {
    const loss1 = () => T.sum(T.mul(p, q));
    const loss2 = () => T.mean(T.square(p));
    const gradOf = (loss: () => Tensor) => {
      p.grad?.dispose();
      p.grad = null;
      tidy(() => loss().backward());
      return p.grad!.toFloat32Array();
    };
    const g1 = gradOf(loss1), g2 = gradOf(loss2);
    // Independent of autograd: dL1/dp = q, dL2/dp = 2p/6.
    assertClose(g1, q.toArray(), 1e-6, 1e-7, "g1");
    assertClose(g2, Array.from(data, (v) => (2 * v) / 6), 1e-6, 1e-7, "g2");
    p.grad?.dispose();
    p.grad = null;
    tidy(() => loss1().backward());
    tidy(() => loss2().backward());
    assertClose(p.grad!.toArray(), Array.from(g1, (v, i) => v + g2[i]), 1e-6, 1e-7, "g1 + g2");
    tidy(() => loss1().backward());
    assertClose(
      p.grad!.toArray(),
      Array.from(g1, (v, i) => 2 * v + g2[i]),
      1e-6,
      1e-7,
      "2·g1 + g2",
    );
  } finally {
    p.dispose();
    q.dispose();
  }
});

forEachBackend("grad: noGrad records nothing and backward() then throws a clear error", (b) => {
  const p = T.parameter(b, new Float32Array([1, 2, 3]), [3]);
  try {
    tidy(() => {
      const y = noGrad(() => T.sum(T.square(T.softplus(p))));
      assert.equal(y.op, null);
      assert.equal(y.requiresGrad, false);
      assert.throws(
        () => y.backward(),
        (e: unknown) => e instanceof Error && /noGrad/.test(e.message),
      );
      assert.equal(p.grad, null);
      // Grad mode is back on after noGrad.
      const z = T.sum(T.square(p));
      assert.notEqual(z.op, null);
      z.backward();
      assertClose(p.grad!.toArray(), [2, 4, 6], 0, 0, "d sum(p²)");
    });
  } finally {
    p.dispose();
  }
});

forEachBackend("grad: backward() of a non-scalar is a RangeError naming the shape", (b) => {
  const p = T.parameter(b, new Float32Array([1, 2, 3, 4]), [2, 2]);
  try {
    tidy(() => {
      assert.throws(
        () => T.square(p).backward(),
        (e: unknown) => e instanceof RangeError && e.message.includes("[2, 2]"),
      );
    });
  } finally {
    p.dispose();
  }
});

forEachBackend("grad: inputs that are not parameters get no gradient", (b) => {
  const p = T.parameter(b, new Float32Array([1, -2]), [2]);
  try {
    tidy(() => {
      const c = f32(b, [3, 4], [2]);
      T.sum(T.mul(p, c)).backward();
      assert.equal(c.grad, null);
      assertClose(p.grad!.toArray(), [3, 4], 0, 0, "dp");
    });
  } finally {
    p.dispose();
  }
});
