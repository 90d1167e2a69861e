/**
 * The fused CGCNN edge ops (`edgeCombine`, `gateSum`; Xie & Grossman 2018, eq. 5): forward and
 * every gradient against a float64 reference by central differences, native C against
 * TypeScript kernels on a larger graph, and the fused ConvLayer against the composed one.
 */
import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import * as ops from "../../lib/tensor/ops.ts";
import type { Tensor } from "../../lib/tensor/tensor.ts";
import { tidy } from "../../lib/tensor/scope.ts";
import "../../lib/autograd/backward.ts"; // installs Tensor.backward()
import { ConvLayer } from "../../lib/models/cgcnn.ts";
import { Rng } from "../../lib/util/random.ts";
import { forEachBackend } from "../helpers/backends.ts";
import { checkedOps } from "../helpers/checked_ops.ts";
import { assertClose, seededRng, uniform } from "../helpers/numeric.ts";

/** Every op under the per-call leak check: a leak fails naming the op. */
const T = checkedOps(ops);

type F64 = Float64Array;
const softplus64 = (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v)));
const sigmoid64 = (v: number) => 1 / (1 + Math.exp(-v));

/** A small graph with uneven neighbour counts and an atom without edges. */
const OFFSETS = [0, 3, 3, 5, 9];
const NEIGHBORS = [1, 2, 3, 0, 0, 3, 1, 2, 2];
const ATOMS = 4, EDGES = 9, A = 2, C2 = 4, K = 3, IN = 6, OFF = 2, EPS = 1e-5;

/** float64 reference: z, BN1 (batch or given statistics), gate, neighbour sum → `[atoms, A]`. */
function reference(
  [self, other, x, w, bias, gamma, beta]: F64[],
  stats: [F64, F64] | null,
): F64 {
  const z = new Float64Array(EDGES * C2);
  for (let i = 0; i < ATOMS; i++) {
    for (let e = OFFSETS[i]; e < OFFSETS[i + 1]; e++) {
      for (let c = 0; c < C2; c++) {
        let s = bias[c] + self[i * C2 + c] + other[NEIGHBORS[e] * C2 + c];
        for (let k = 0; k < K; k++) s += x[e * K + k] * w[c * IN + OFF + k];
        z[e * C2 + c] = s;
      }
    }
  }
  let mean: F64, variance: F64;
  if (stats) [mean, variance] = stats;
  else {
    mean = new Float64Array(C2);
    variance = new Float64Array(C2);
    for (let e = 0; e < EDGES; e++) for (let c = 0; c < C2; c++) mean[c] += z[e * C2 + c] / EDGES;
    for (let e = 0; e < EDGES; e++) {
      for (let c = 0; c < C2; c++) variance[c] += (z[e * C2 + c] - mean[c]) ** 2 / EDGES;
    }
  }
  const out = new Float64Array(ATOMS * A);
  for (let i = 0; i < ATOMS; i++) {
    for (let e = OFFSETS[i]; e < OFFSETS[i + 1]; e++) {
      const y = (c: number) =>
        (z[e * C2 + c] - mean[c]) / Math.sqrt(variance[c] + EPS) * gamma[c] + beta[c];
      for (let j = 0; j < A; j++) out[i * A + j] += sigmoid64(y(j)) * softplus64(y(A + j));
    }
  }
  return out;
}

const SHAPES = [[ATOMS, C2], [ATOMS, C2], [EDGES, K], [C2, IN], [C2], [C2], [C2]];

function fused(b: Backend, ps: Tensor[], stats: [Tensor, Tensor] | null): Tensor {
  const [self, other, x, w, bias, gamma, beta] = ps;
  const offsets = T.tensor(b, new Int32Array(OFFSETS)),
    nbr = T.tensor(b, new Int32Array(NEIGHBORS));
  const r = T.edgeCombine(self, other, x, w, bias, OFF, offsets, nbr, stats === null);
  const [m, v] = stats ?? [r.mean!, r.variance!];
  return T.gateSum(r.z, gamma, beta, m, v, EPS, stats === null, offsets);
}

for (const batch of [true, false]) {
  forEachBackend(
    `fused edge ops: forward and gradients vs float64, ${batch ? "batch" : "running"} statistics`,
    (b) => {
      if (!T.hasFusedEdgeKernels(b)) return; // the composed path is tested by the model tests
      const rng = seededRng(batch ? 5 : 6);
      const data = SHAPES.map((s, k) =>
        uniform(rng, s.reduce((p, q) => p * q, 1), k === 5 ? 0.5 : -1, k === 5 ? 1.5 : 1).map(
          Math.fround,
        )
      );
      const statsData: [F64, F64] = [
        uniform(rng, C2, -0.5, 0.5).map(Math.fround),
        uniform(rng, C2, 0.5, 2).map(Math.fround),
      ];
      const params = data.map((d, k) => T.parameter(b, Float32Array.from(d), SHAPES[k]));
      try {
        tidy(() => {
          const stats = batch ? null : statsData.map((s) => T.tensor(b, Float32Array.from(s))) as [
            Tensor,
            Tensor,
          ];
          const out = fused(b, params, stats);
          const ref = (xs: F64[]) => reference(xs, batch ? null : statsData);
          assertClose(out.toArray(), ref(data), 1e-5, 1e-5, "forward");
          const w = uniform(seededRng(9), out.size, -1, 1);
          T.sum(T.mul(out, T.tensor(b, Float32Array.from(w), out.shape))).backward();
          const loss = (xs: F64[]) => ref(xs).reduce((s, y, i) => s + w[i] * y, 0);
          const xs = data.map((d) => d.slice());
          xs.forEach((x, k) => {
            const numeric = new Float64Array(x.length);
            for (let j = 0; j < x.length; j++) {
              const x0 = x[j], h = 1e-6 * Math.max(1, Math.abs(x0));
              x[j] = x0 + h;
              const lp = loss(xs);
              x[j] = x0 - h;
              const lm = loss(xs);
              x[j] = x0;
              numeric[j] = (lp - lm) / (2 * h);
            }
            const scale = numeric.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
            assertClose(params[k].grad!.toArray(), numeric, 1e-3, 1e-4 * scale, `d/d(input ${k})`);
          });
        });
      } finally {
        for (const p of params) p.dispose();
      }
    },
  );
}

forEachBackend("fused edge ops: bad offsets and neighbours are RangeErrors naming the op", (b) => {
  if (!T.hasFusedEdgeKernels(b)) return;
  tidy(() => {
    const t = (n: number, c: number) => T.zeros(b, [n, c]);
    const off = T.tensor(b, new Int32Array([0, 2, 1])), nbr = T.tensor(b, new Int32Array([0, 1]));
    assert.throws(
      () => T.edgeCombine(t(2, 4), t(2, 4), t(2, 3), t(4, 6), T.zeros(b, [4]), 2, off, nbr, true),
      /edgeCombine: offsets\[2\] = 1/,
    );
    const off2 = T.tensor(b, new Int32Array([0, 1, 2])), bad = T.tensor(b, new Int32Array([0, 7]));
    assert.throws(
      () => T.edgeCombine(t(2, 4), t(2, 4), t(2, 3), t(4, 6), T.zeros(b, [4]), 2, off2, bad, true),
      /edgeCombine/,
    );
  });
});

/** The fused ConvLayer against the composed one (SyncBN with one process takes that path). */
forEachBackend(
  "fused ConvLayer = composed ConvLayer: output, running statistics, gradients",
  (b) => {
    if (!T.hasFusedEdgeKernels(b)) return;
    const atoms = 40, A = 8, F = 5, rng = seededRng(3);
    const offsets = [0];
    const nbr: number[] = [];
    for (let i = 0; i < atoms; i++) {
      const n = 1 + Math.floor(rng() * 6);
      for (let k = 0; k < n; k++) nbr.push(Math.floor(rng() * atoms));
      offsets.push(nbr.length);
    }
    const v0 = Float32Array.from(uniform(rng, atoms * A, -1, 1));
    const e0 = Float32Array.from(uniform(rng, nbr.length * F, 0, 1));
    const run = (composed: boolean) => {
      const conv = new ConvLayer(b, A, F, new Rng(11));
      if (composed) conv.bn1.sync = () => {}; // one process: the global batch is this batch
      try {
        return tidy(() => {
          const v = T.parameter(b, v0, [atoms, A]);
          const off = T.tensor(b, new Int32Array(offsets)), nb = T.tensor(b, new Int32Array(nbr));
          const out = conv.forward(v, T.tensor(b, e0, [nbr.length, F]), off, nb);
          T.sum(T.mul(out, out)).backward();
          const r = {
            out: out.toFloat32Array(),
            dv: v.grad!.toFloat32Array(),
            dw: conv.fcFull.weight.grad!.toFloat32Array(),
            db: conv.fcFull.bias!.grad!.toFloat32Array(),
            dg: conv.bn1.weight.grad!.toFloat32Array(),
            rv: conv.bn1.runningVar.toFloat32Array(),
          };
          v.dispose();
          return r;
        });
      } finally {
        conv.dispose();
      }
    };
    const [f, c] = [run(false), run(true)];
    for (const k of ["out", "dv", "dw", "db", "dg", "rv"] as const) {
      const scale = c[k].reduce((m, x) => Math.max(m, Math.abs(x)), 1);
      assertClose(f[k], c[k], 1e-4, 1e-5 * scale, k);
    }
  },
);

forEachBackend(
  "a weight used in three column blocks: each block's gradient added in place",
  (b) => {
    const rng = seededRng(21);
    const W = T.parameter(b, Float32Array.from(uniform(rng, 3 * 7, -1, 1)), [3, 7]);
    try {
      tidy(() => {
        const xs = [[5, 2, 0], [5, 2, 2], [5, 3, 4]].map(([r, k, off]) => ({
          x: Float32Array.from(uniform(rng, r * k, -1, 1)),
          w: Float32Array.from(uniform(rng, r * 3, -1, 1)),
          r,
          k,
          off,
        }));
        let loss: Tensor | null = null;
        for (const { x, w, r, k, off } of xs) {
          const y = T.linear(T.tensor(b, x, [r, k]), W, null, off);
          const l = T.sum(T.mul(y, T.tensor(b, w, [r, 3])));
          loss = loss ? T.add(loss, l) : l;
        }
        loss!.backward();
        // dL/dW[o, off + j] = Σ_r w[r, o] x[r, j] (float64).
        const expected = new Float64Array(3 * 7);
        for (const { x, w, r, k, off } of xs) {
          for (let o = 0; o < 3; o++) {
            for (let j = 0; j < k; j++) {
              for (let i = 0; i < r; i++) expected[o * 7 + off + j] += w[i * 3 + o] * x[i * k + j];
            }
          }
        }
        assertClose(W.grad!.toArray(), expected, 1e-5, 1e-6, "dW");
      });
    } finally {
      W.dispose();
    }
  },
);
