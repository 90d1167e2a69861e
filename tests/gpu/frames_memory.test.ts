/**
 * Frames and featurisation on CUDA against the CPU / host references, cuSPARSE SpMM, and the
 * memory contract: a repeated step neither leaks storages nor grows device memory.
 */
import assert from "node:assert/strict";
import { symmetricEigen3Batched } from "../../lib/util/eigen3.ts";
import {
  assertAllClose,
  assertClose,
  backends,
  onBoth,
  rand,
  runOn,
  skipGpu,
} from "./gpu_helpers.ts";

const ignore = skipGpu;

/** Random symmetric matrices Q diag(λ) Qᵀ with well separated eigenvalues, plus edge cases. */
function symmetricMatrices(count: number, seed: number): Float32Array {
  const m = new Float32Array(9 * count);
  const r = rand(12 * count, seed);
  for (let c = 0; c < count; c++) {
    const q = rand(9, seed + c); // columns orthonormalised by Gram-Schmidt
    for (let k = 0; k < 3; k++) {
      for (let j = 0; j < k; j++) {
        let d = 0;
        for (let i = 0; i < 3; i++) d += q[3 * i + k] * q[3 * i + j];
        for (let i = 0; i < 3; i++) q[3 * i + k] -= d * q[3 * i + j];
      }
      const norm = Math.hypot(q[k], q[3 + k], q[6 + k]);
      for (let i = 0; i < 3; i++) q[3 * i + k] /= norm;
    }
    const lam = [
      r[12 * c] * 10,
      r[12 * c] * 10 + 1 + Math.abs(r[12 * c + 1]) * 5,
      20 + r[12 * c + 2],
    ];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += q[3 * i + k] * lam[k] * q[3 * j + k];
        m[9 * c + 3 * i + j] = s;
      }
    }
  }
  m.fill(0, 0, 9); // zero matrix: values 0, vectors I
  m.set([2, 0, 0, 0, 1, 0, 0, 0, 3], 9); // already diagonal
  return m;
}

Deno.test({
  name: "gpu: symmetricEigen3 matches the CPU (values, vectors, canonical signs)",
  ignore,
  fn() {
    const count = 1000, mats = symmetricMatrices(count, 7);
    const res = onBoth(
      [mats],
      [["float32", 3 * count], ["float32", 9 * count]],
      (b, [M], [W, V]) => b.symmetricEigen3(M, W, V, count),
    );
    assertClose("eigen values", res[0][1], res[1][1], 1e-5);
    assertClose("eigen vectors", res[0][2], res[1][2], 1e-4); // float32 input, gaps ≥ 1
  },
});

Deno.test({
  name: "gpu: pcaFrames and frameApply against a host reference",
  ignore,
  fn() {
    const { cuda } = backends();
    const offsets = new Int32Array([0, 1, 15, 27, 40]); // a one-atom crystal (C = 0) first
    const n = offsets.length - 1, atoms = offsets[n];
    const pos = rand(3 * atoms, 8, -5, 5);
    const frames = new Int32Array([0, 3, 5, 7]);
    const [, , , centres, cov, values, vectors, out] = runOn(
      cuda,
      [pos, offsets, frames],
      [["float32", 3 * n], ["float32", 9 * n], ["float32", 3 * n], ["float32", 9 * n], [
        "float32",
        3 * atoms,
      ]],
      ([P, O, F], [T, C, W, V, X]) => {
        cuda.pcaFrames(P, O, T, C, W, V, n);
        cuda.frameApply(P, O, T, V, F, X, n);
      },
    );
    for (let c = 0; c < n; c++) {
      const t = [0, 0, 0], C = new Float64Array(9), len = offsets[c + 1] - offsets[c];
      for (let r = offsets[c]; r < offsets[c + 1]; r++) {
        for (let k = 0; k < 3; k++) t[k] += pos[3 * r + k] / len;
      }
      for (let r = offsets[c]; r < offsets[c + 1]; r++) {
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 3; j++) {
            C[3 * i + j] += (pos[3 * r + i] - t[i]) *
              (pos[3 * r + j] - t[j]);
          }
        }
      }
      assertClose(`centre ${c}`, centres.subarray(3 * c, 3 * c + 3), t, 1e-5);
      assertClose(`covariance ${c}`, cov.subarray(9 * c, 9 * c + 9), C, 1e-5);
      const w = new Float64Array(3), v = new Float64Array(9);
      symmetricEigen3Batched(C, 1, w, v);
      assertClose(`values ${c}`, values.subarray(3 * c, 3 * c + 3), w, 1e-4);
      assertClose(`vectors ${c}`, vectors.subarray(9 * c, 9 * c + 9), v, 1e-3);
      // Frame coordinates with the device's own U, signs from frame bits.
      const U = vectors.subarray(9 * c, 9 * c + 9);
      for (let r = offsets[c]; r < offsets[c + 1]; r++) {
        for (let k = 0; k < 3; k++) {
          const s = (frames[c] >> k) & 1 ? -1 : 1;
          let e = 0;
          for (let i = 0; i < 3; i++) e += (pos[3 * r + i] - centres[3 * c + i]) * U[3 * i + k];
          assert.ok(Math.abs(out[3 * r + k] - s * e) <= 1e-5 * 10, `frameApply ${r},${k}`);
        }
      }
    }
  },
});

Deno.test({
  name: "gpu: gaussianExpand against the CGCNN formula",
  ignore,
  fn() {
    const { cuda } = backends();
    const n = 5000, d = rand(n, 9, 0, 8);
    const [, out] = runOn(
      cuda,
      [d],
      [["float32", n * 41]],
      ([D], [O]) => cuda.gaussianExpand(D, O, n),
    );
    const ref = new Float64Array(n * 41);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 41; k++) {
        ref[41 * i + k] = Math.exp(-((d[i] - 0.2 * k) ** 2) / 0.04);
      }
    }
    assertClose("gaussianExpand", out, ref, 1e-5);
  },
});

Deno.test({
  name: "gpu: cuSPARSE spmmCsr equals scatter-add aggregation",
  ignore,
  fn() {
    const { cuda } = backends();
    if (!cuda.info().notes.some((s) => s.startsWith("cusparse "))) {
      console.warn("cuSPARSE not loaded; spmmCsr skipped");
      return;
    }
    const [m, k, n] = [200, 2400, 64]; // A: atoms × edges with one 1 per edge
    const dst = Int32Array.from(rand(k, 11, 0, m), Math.floor).sort();
    const rowOffsets = new Int32Array(m + 1);
    for (const d of dst) rowOffsets[d + 1]++;
    for (let i = 0; i < m; i++) rowOffsets[i + 1] += rowOffsets[i];
    const colIdx = Int32Array.from({ length: k }, (_, i) => i), vals = new Float32Array(k).fill(1);
    const b = rand(k * n, 12);
    const [, , , , c] = runOn(
      cuda,
      [rowOffsets, colIdx, vals, b],
      [["float32", m * n]],
      ([R, I, V, B], [C]) => cuda.spmmCsr(R, I, V, m, k, B, C, n),
    );
    const [, , ref] = runOn(
      cuda,
      [b, dst],
      [["float32", m * n]],
      ([B, D], [O]) => cuda.scatterAddRows(B, D, O, k, n),
    );
    assertClose("spmmCsr", c, ref, 1e-5);
  },
});

Deno.test({
  name: "gpu: a repeated step frees every storage and keeps device memory flat",
  ignore,
  fn() {
    const { cuda } = backends();
    const before = cuda.memory().liveBuffers;
    const x = rand(4096 * 128, 13);
    const step = () => {
      const X = cuda.upload(x), Y = cuda.alloc("float32", x.length), S = cuda.alloc("float32", 128);
      cuda.unary("softplus", X, Y, x.length);
      cuda.sumRows(Y, S, 4096, 128);
      cuda.download(S);
      [X, Y, S].forEach((s) => cuda.free(s));
    };
    step();
    const afterOne = cuda.allocatorStats();
    for (let i = 0; i < 20; i++) step();
    const afterMany = cuda.allocatorStats();
    assert.equal(cuda.memory().liveBuffers, before);
    assert.equal(afterMany.deviceMallocs, afterOne.deviceMallocs);
    assert.equal(
      afterMany.liveBytes + afterMany.cachedBytes,
      afterOne.liveBytes + afterOne.cachedBytes,
    );
  },
});

Deno.test({
  name: "gpu: CUDA and CPU agree on a gather → gate → scatter chain",
  ignore,
  fn() {
    const [atoms, edges, cols] = [500, 6000, 32];
    const v = rand(atoms * 2 * cols, 14),
      idx = Int32Array.from(rand(edges, 15, 0, atoms), Math.floor);
    const res = onBoth([v, idx], [["float32", edges * 2 * cols], ["float32", edges * cols], [
      "float32",
      atoms * cols,
    ]], (b, [V, I], [Z, G, S]) => {
      b.gatherRows(V, I, Z, edges, 2 * cols);
      b.gate(Z, G, edges, cols);
      b.scatterAddRows(G, I, S, edges, cols);
    });
    assertAllClose("chain", res);
  },
});
