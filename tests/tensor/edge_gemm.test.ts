/**
 * The CGCNN edge term from distances (`edgeSourceGemm`, `edgeSourceWeightGrad`; the Gaussians
 * of Xie & Grossman 2018 formed inside the product): against float64 brute-force loops on
 * every backend, with and without the backend kernels (the expand-then-GEMM composition), the
 * weight gradient through `edgeCombine` by finite differences, and native C against
 * TypeScript on a batch-sized case.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import {
  type EdgeSource,
  edgeSourceGemm,
  edgeSourceWeightGrad,
} from "../../lib/tensor/edge_source.ts";
import * as ops from "../../lib/tensor/ops.ts";
import { tidy } from "../../lib/tensor/scope.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { availableBackends, forEachBackend, MISSING_BLAS } from "../helpers/backends.ts";
import { assertClose, seededRng, uniform } from "../helpers/numeric.ts";
import { ConvLayer } from "../../lib/models/cgcnn.ts";
import { Rng } from "../../lib/util/random.ts";

const BASIS = { centres: 41, start: 0, step: 0.2, sigma: 0.2 };

interface Case {
  period: number;
  copies: number;
  extra: number;
  cols: number;
  ldw: number;
  offset: number;
  /** Distances (default: uniform over 0.5–8.6 Å, beyond the basis at both ends). */
  distances?: (rng: () => number, n: number) => Float64Array;
}

/**
 * Neighbour-list-like distances: runs of 12 sorted bond lengths (as featurize orders an
 * atom's neighbours), some far beyond the basis (12 Å: no Gaussian within e^−80 of 1), some at
 * 0, and runs of one repeated length, so a kernel that forms only the Gaussians near each
 * distance meets rows whose windows differ widely inside one block.
 */
function neighbourDistances(rng: () => number, n: number): Float64Array {
  const d = new Float64Array(n);
  for (let a = 0; a < n; a += 12) {
    const kind = Math.floor(rng() * 4);
    const run = Array.from(
      { length: Math.min(12, n - a) },
      () => kind === 0 ? 12 : kind === 1 ? 1.4 + 2.4 * rng() : kind === 2 ? 2.2 : 8 * rng(),
    );
    if (kind !== 3) run.sort((x, y) => x - y);
    if (kind === 3 && run.length > 2) run[1] = 0;
    d.set(run, a);
  }
  return d;
}

/** Host data of a case: distances over the whole basis (and beyond it), extra features, W. */
function data(c: Case, seed: number) {
  const rng = seededRng(seed), rows = c.period * c.copies;
  const d = (c.distances ? c.distances(rng, c.period) : uniform(rng, c.period, 0.5, 8.6))
    .map(Math.fround);
  const x = uniform(rng, rows * c.extra, -2, 2).map(Math.fround);
  const w = uniform(rng, c.cols * c.ldw, -0.5, 0.5).map(Math.fround);
  const dz = uniform(rng, rows * c.cols, -1, 1).map(Math.fround);
  return { rows, d, x, w, dz };
}

/** float64 features `[rows, K]`. */
function features(c: Case, d: Float64Array, x: Float64Array): Float64Array {
  const rows = c.period * c.copies, K = BASIS.centres + c.extra;
  const u = new Float64Array(rows * K);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < BASIS.centres; k++) {
      const t = d[r % c.period] - (BASIS.start + k * BASIS.step);
      u[r * K + k] = Math.exp(-t * t / (BASIS.sigma * BASIS.sigma));
    }
    for (let j = 0; j < c.extra; j++) u[r * K + BASIS.centres + j] = x[r * c.extra + j];
  }
  return u;
}

/** float64 `z = u W_uᵀ` and `dW_u = dzᵀ u` by brute-force loops. */
function reference(c: Case, h: ReturnType<typeof data>) {
  const u = features(c, h.d, h.x), K = BASIS.centres + c.extra;
  const z = new Float64Array(h.rows * c.cols), dw = new Float64Array(c.cols * K);
  for (let r = 0; r < h.rows; r++) {
    for (let col = 0; col < c.cols; col++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += u[r * K + k] * h.w[col * c.ldw + c.offset + k];
      z[r * c.cols + col] = s;
      for (let k = 0; k < K; k++) dw[col * K + k] += h.dz[r * c.cols + col] * u[r * K + k];
    }
  }
  return { z, dw };
}

/** The backend without `edgeGemm` (the expand-then-GEMM composition), as another backend. */
function withoutEdgeGemm(b: Backend): Backend {
  return new Proxy(b, {
    get(target, p) {
      if (p === "edgeGemm" || p === "edgeGemmWeightGrad") return undefined;
      const v = Reflect.get(target, p, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** Runs both products on `b`; returns z and the gradient's column block (accumulated onto 1). */
function run(b: Backend, c: Case, h: ReturnType<typeof data>) {
  return tidy(() => {
    const source: EdgeSource = {
      distances: ops.tensor(b, Float32Array.from(h.d)),
      extra: c.extra > 0 ? ops.tensor(b, Float32Array.from(h.x), [h.rows, c.extra]) : null,
      rows: h.rows,
      basis: BASIS,
    };
    const w = ops.tensor(b, Float32Array.from(h.w), [c.cols, c.ldw]);
    const z = ops.zeros(b, [h.rows, c.cols]);
    edgeSourceGemm(source, w, c.offset, z.storage);
    const dz = ops.tensor(b, Float32Array.from(h.dz), [h.rows, c.cols]);
    const K = BASIS.centres + c.extra, dw = ops.tensor(b, new Float32Array(c.cols * c.ldw).fill(1));
    edgeSourceWeightGrad(source, dz.storage, c.cols, dw.storage, c.ldw, c.offset, true, b);
    const all = dw.toFloat32Array(), block = new Float64Array(c.cols * K);
    for (let col = 0; col < c.cols; col++) {
      for (let k = 0; k < c.ldw; k++) {
        const inBlock = k >= c.offset && k < c.offset + K;
        if (inBlock) block[col * K + k - c.offset] = all[col * c.ldw + k] - 1;
        else assert.equal(all[col * c.ldw + k], 1, `column ${k} outside the block was written`);
      }
    }
    return { z: z.toFloat32Array(), dw: block };
  });
}

const CASES: Case[] = [
  // CGCNN (41 Gaussians), 2A = 32: whole micro-tiles; 2 frame copies; block tails.
  { period: 101, copies: 2, extra: 0, cols: 32, ldw: 32 + 32 + 41, offset: 64 },
  // FACGCNN (+3 frame components), 2A = 6: only the column tail paths.
  { period: 13, copies: 3, extra: 3, cols: 6, ldw: 6 + 44, offset: 6 },
  // 2A = 40 (two whole tiles and a tail), one row, offset 0.
  { period: 1, copies: 1, extra: 3, cols: 40, ldw: 44, offset: 0 },
  // Neighbour-list distances (sorted runs, 12 Å, 0 Å, repeats) over several 96-edge blocks.
  {
    period: 300,
    copies: 1,
    extra: 0,
    cols: 32,
    ldw: 64 + 41,
    offset: 64,
    distances: neighbourDistances,
  },
  {
    period: 150,
    copies: 2,
    extra: 3,
    cols: 16,
    ldw: 16 + 44,
    offset: 16,
    distances: neighbourDistances,
  },
];

for (const [i, c] of CASES.entries()) {
  forEachBackend(
    `edge term from distances: forward and weight gradient vs float64, case ${i}`,
    (b) => {
      const h = data(c, 10 + i), ref = reference(c, h);
      for (const [name, be] of [["kernel", b], ["composed", withoutEdgeGemm(b)]] as const) {
        const got = run(be, c, h);
        const zScale = ref.z.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assertClose(got.z, ref.z, 1e-5, 1e-6 * zScale, `${name} z`);
        const wScale = ref.dw.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assertClose(got.dw, ref.dw, 1e-5, 1e-6 * wScale, `${name} dW`);
      }
    },
  );
}

forEachBackend("edge term from distances: every Gaussian above e^-69 is formed", (b) => {
  // Weights 1/g_k(2 Å) for the Gaussians with g_k(2 Å) ≥ e^-69 (0 for the others): a row at
  // d = 2 Å then sums to the count of those Gaussians (1 each), so a kernel that drops one that
  // is not negligible (any above e^-80) is off by 1 or more. Rows at other distances check the
  // same extreme weights against float64.
  const G = BASIS.centres, inv = 1 / (BASIS.sigma * BASIS.sigma);
  const arg = (d: number, k: number) => (d - (BASIS.start + k * BASIS.step)) ** 2 * inv;
  const wk = Array.from({ length: G }, (_, k) => arg(2, k) <= 69 ? Math.exp(arg(2, k)) : 0);
  const counted = wk.filter((w) => w > 0).length;
  assert.ok(counted >= 15, `${counted} Gaussians within e^-69 at 2 Å`);
  const c: Case = { period: 200, copies: 1, extra: 0, cols: 16, ldw: G, offset: 0 };
  const d = Float64Array.from({ length: c.period }, (_, r) => r % 3 === 0 ? 2 : 1 + (r % 17) * 0.4)
    .map(Math.fround);
  const w = Float64Array.from({ length: c.cols * G }, (_, i) => Math.fround(wk[i % G]));
  const h = {
    rows: c.period,
    d,
    x: new Float64Array(0),
    w,
    dz: new Float64Array(c.period * c.cols),
  };
  const got = run(b, c, h).z, ref = reference(c, h).z;
  for (let r = 0; r < c.period; r++) {
    for (let col = 0; col < c.cols; col++) {
      const i = r * c.cols + col;
      assert.ok(
        Math.abs(got[i] - ref[i]) <= 1e-5 * Math.abs(ref[i]) + 1e-4,
        `row ${r} (d = ${d[r]}) column ${col}: ${got[i]} vs float64 ${ref[i]}`,
      );
      if (d[r] === 2) assert.ok(Math.abs(got[i] - counted) < 1e-3, `d = 2: ${got[i]} ≠ ${counted}`);
    }
  }
});

forEachBackend("edge term from distances: dW through edgeCombine by finite differences", (b) => {
  if (!ops.hasFusedEdgeKernels(b)) return; // edgeCombine is a fused-path op
  const c: Case = { period: 7, copies: 2, extra: 3, cols: 4, ldw: 4 + 44, offset: 4 };
  const h = data(c, 3), atoms = 3;
  const offsets = [0, 5, 9, 14], nbr = [1, 2, 0, 0, 1, 2, 2, 1, 0, 1, 0, 2, 2, 1];
  const R = uniform(seededRng(4), h.rows * c.cols, -1, 1);
  const w = ops.parameter(b, Float32Array.from(h.w), [c.cols, c.ldw]);
  try {
    const loss = (wData: Float64Array | Float32Array, grad: boolean): number =>
      tidy(() => {
        const source: EdgeSource = {
          distances: ops.tensor(b, Float32Array.from(h.d)),
          extra: ops.tensor(b, Float32Array.from(h.x), [h.rows, c.extra]),
          rows: h.rows,
          basis: BASIS,
        };
        const weight = grad ? w : ops.tensor(b, Float32Array.from(wData), [c.cols, c.ldw]);
        const zeros = ops.zeros(b, [atoms, c.cols]);
        const { z } = ops.edgeCombine(
          ...[zeros, zeros, source, weight, ops.zeros(b, [c.cols]), c.offset] as const,
          ops.tensor(b, new Int32Array(offsets)),
          ops.tensor(b, new Int32Array(nbr)),
          false,
        );
        const l = ops.sum(ops.mul(z, ops.tensor(b, Float32Array.from(R), z.shape)));
        if (grad) l.backward();
        return l.toArray()[0];
      });
    loss(h.w, true);
    const analytic = w.grad!.toArray();
    // The loss is linear in W: central differences are exact up to float32 rounding.
    const numeric = new Float64Array(h.w.length), step = 0.25;
    for (let j = 0; j < h.w.length; j++) {
      const wp = h.w.slice(), wm = h.w.slice();
      wp[j] += step;
      wm[j] -= step;
      numeric[j] = (loss(wp, false) - loss(wm, false)) / (2 * step);
    }
    assertClose(analytic, numeric, 1e-3, 2e-4, "dL/dW");
    for (let col = 0; col < c.cols; col++) {
      for (let k = 0; k < c.offset; k++) assert.equal(analytic[col * c.ldw + k], 0);
    }
  } finally {
    w.dispose();
  }
});

Deno.test("edge term from distances: native C kernels agree with TypeScript at batch size", () => {
  const native = availableBackends().find((x) => x.label === "cpu-native");
  if (!native) return; // no C compiler here: the TypeScript kernels are the only ones
  const notes = native.backend.info().notes.join("; ");
  assert.doesNotMatch(notes, /edge term in TypeScript/, "the native library lacks edge_gemm.c");
  const ts = createCpuBackend({ blasPath: MISSING_BLAS, nativeKernels: false });
  // 2A = 256 as at A = 128; 2 copies of 1,500 edges (FACGCNN).
  const c: Case = { period: 1500, copies: 2, extra: 3, cols: 256, ldw: 512 + 44, offset: 512 };
  const h = data(c, 21);
  const a = run(native.backend, c, h), t = run(ts, c, h);
  const zScale = t.z.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assertClose(a.z, t.z, 1e-5, 1e-6 * zScale, "z");
  const wScale = t.dw.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assertClose(a.dw, t.dw, 1e-5, 1e-6 * wScale, "dW");
  // Deterministic for a thread count: the same call gives the same bits.
  assert.deepEqual(run(native.backend, c, h).dw, a.dw);
});

/**
 * A FACGCNN ConvLayer on two stacked frame copies: fused with the Gaussians formed from the
 * distances = composed from the stored `[E, 44]` features (SyncBN with one process takes the
 * composed path): output, running statistics and every gradient.
 */
forEachBackend("ConvLayer from distances = ConvLayer from stored features", (b) => {
  if (!ops.hasFusedEdgeKernels(b)) return;
  const copies = 2, atomsPer = 30, A = 8, rng = seededRng(33);
  const offsets = [0];
  const nbr: number[] = [];
  for (let f = 0; f < copies; f++) {
    for (let i = 0; i < atomsPer; i++) {
      const n = f === 0 ? 1 + Math.floor(rng() * 6) : offsets[i + 1] - offsets[i];
      for (let k = 0; k < n; k++) {
        nbr.push(f === 0 ? Math.floor(rng() * atomsPer) : nbr[offsets[i] + k] + atomsPer);
      }
      offsets.push(nbr.length);
    }
  }
  const E = nbr.length / copies, atoms = copies * atomsPer;
  const c: Case = { period: E, copies, extra: 3, cols: 2 * A, ldw: 2 * A, offset: 0 };
  const h = data(c, 34);
  const u = Float32Array.from(features(c, h.d, h.x)), K = BASIS.centres + 3;
  const v0 = Float32Array.from(uniform(rng, atoms * A, -1, 1));
  const run = (composed: boolean) => {
    const conv = new ConvLayer(b, A, K, new Rng(12));
    if (composed) conv.bn1.sync = () => {}; // one process: the global batch is this batch
    try {
      return tidy(() => {
        const v = ops.parameter(b, v0, [atoms, A]);
        const off = ops.tensor(b, new Int32Array(offsets)), nb = ops.tensor(b, new Int32Array(nbr));
        const source: EdgeSource = {
          distances: ops.tensor(b, Float32Array.from(h.d)),
          extra: ops.tensor(b, Float32Array.from(h.x), [h.rows, 3]),
          rows: h.rows,
          basis: BASIS,
        };
        const stored = ops.tensor(b, u, [h.rows, K]);
        const out = conv.forward(v, composed ? stored : source, off, nb);
        ops.sum(ops.mul(out, out)).backward();
        const r = {
          out: out.toFloat32Array(),
          dv: v.grad!.toFloat32Array(),
          dw: conv.fcFull.weight.grad!.toFloat32Array(),
          db: conv.fcFull.bias!.grad!.toFloat32Array(),
          rv: conv.bn1.runningVar.toFloat32Array(),
        };
        v.dispose();
        return r;
      });
    } finally {
      conv.dispose();
    }
  };
  const [f, s] = [run(false), run(true)];
  for (const k of ["out", "dv", "dw", "db", "rv"] as const) {
    const scale = s[k].reduce((m, x) => Math.max(m, Math.abs(x)), 1);
    assertClose(f[k], s[k], 1e-4, 1e-5 * scale, k);
  }
});

forEachBackend("edge term from distances: a NaN distance gives NaN, its row only", (b) => {
  // A NaN (a broken structure that slipped through) must show as NaN, as exp(NaN) does in
  // the float64 reference, not as the e^-80 floor of the Gaussians far from a distance.
  const c: Case = { period: 110, copies: 1, extra: 3, cols: 16, ldw: 16 + 44, offset: 16 };
  const h = data(c, 41), bad = [0, 57, 109];
  for (const r of bad) h.d[r] = NaN;
  const ref = reference(c, h);
  for (const [name, be] of [["kernel", b], ["composed", withoutEdgeGemm(b)]] as const) {
    const got = run(be, c, h);
    for (let r = 0; r < c.period; r++) {
      for (let col = 0; col < c.cols; col++) {
        const v = got.z[r * c.cols + col];
        if (bad.includes(r)) assert.ok(Number.isNaN(v), `${name}: row ${r} column ${col}: ${v}`);
        else {
          const want = ref.z[r * c.cols + col];
          assert.ok(Math.abs(v - want) <= 1e-5 * Math.abs(want) + 1e-5, `${name}: row ${r}`);
        }
      }
    }
    // dW = dzᵀ u: every Gaussian column meets the NaN rows; the extra columns do not.
    const K = BASIS.centres + c.extra;
    for (let col = 0; col < c.cols; col++) {
      for (let k = 0; k < K; k++) {
        const v = got.dw[col * K + k];
        if (k < BASIS.centres) assert.ok(Number.isNaN(v), `${name}: dW[${col}, ${k}] = ${v}`);
        else assert.ok(Number.isFinite(v), `${name}: dW[${col}, ${k}] = ${v}`);
      }
    }
  }
});
