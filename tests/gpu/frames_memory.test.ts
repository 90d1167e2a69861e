/**
 * Frames and featurisation on CUDA against the CPU / host references, cuSPARSE SpMM, and the
 * memory contract: a repeated step neither leaks storages nor grows device memory.
 */
import assert from "node:assert/strict";
import { symmetricEigen3Batched } from "../../lib/util/eigen3.ts";
import { createCudaBackend } from "../../lib/backend/cuda/cuda_backend.ts";
import {
  assertAllClose,
  assertClose,
  backends,
  disposeBackendsAtEnd,
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
  name: "gpu: symmetricEigen3 matches the host solver (values, vectors, canonical signs)",
  ignore,
  fn() {
    const count = 1000, mats = symmetricMatrices(count, 7);
    const { cuda } = backends();
    const [, w, v] = runOn(
      cuda,
      [mats],
      [["float32", 3 * count], ["float32", 9 * count]],
      ([M], [W, V]) => cuda.symmetricEigen3(M, W, V, count),
    );
    const hw = new Float64Array(3 * count), hv = new Float64Array(9 * count);
    symmetricEigen3Batched(Float64Array.from(mats), count, hw, hv);
    assertClose("eigen values", w, hw, 1e-5);
    assertClose("eigen vectors", v, hv, 1e-5);
  },
});

Deno.test({
  name:
    "gpu: symmetricEigen3 on degenerate and near-degenerate matrices follows the host step for step",
  ignore,
  fn() {
    // Repeated eigenvalues (cubic cells) and gaps of 1e-7…1e-3: the eigenbasis is then decided
    // by rounding, so only the host's arithmetic done in the same order gives the same basis
    // (the helper's eigen.cu is compiled with -fmad=false for this).
    const rot = (t: number) => {
      const c = Math.cos(t), s = Math.sin(t);
      return [c, -s, 0, s, c, 0, 0, 0, 1];
    };
    const conj = (q: number[], l: number[]) => {
      const m: number[] = [];
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          let s = 0;
          for (let k = 0; k < 3; k++) s += q[3 * i + k] * l[k] * q[3 * j + k];
          m.push(s);
        }
      }
      return m;
    };
    const list: number[][] = [
      [3, 0, 0, 0, 3, 0, 0, 0, 3],
      [1, 0, 0, 0, 1, 0, 0, 0, 2],
      [4, 4, 4, 4, 4, 4, 4, 4, 4],
      [2, 1, 1, 1, 2, 1, 1, 1, 2], // eigenvalues 1, 1, 4
    ];
    for (const gap of [1e-7, 1e-6, 1e-5, 1e-4, 1e-3]) {
      for (const t of [0.1, 0.7, 1.3]) list.push(conj(rot(t), [1, 1 + gap, 3]));
    }
    const count = list.length, mats = Float32Array.from(list.flat());
    const { cuda } = backends();
    const [, w, v] = runOn(
      cuda,
      [mats],
      [["float32", 3 * count], ["float32", 9 * count]],
      ([M], [W, V]) => cuda.symmetricEigen3(M, W, V, count),
    );
    const hw = new Float64Array(3 * count), hv = new Float64Array(9 * count);
    symmetricEigen3Batched(Float64Array.from(mats), count, hw, hv);
    // Both round the same double results to float32: equal up to one float32 ulp.
    assertClose("degenerate eigen values", w, Float32Array.from(hw), 1e-6);
    assertClose("degenerate eigen vectors", v, Float32Array.from(hv), 1e-6);
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
  name: "gpu: gaussianExpand into a column block against the CGCNN formula",
  ignore,
  fn() {
    const { cuda } = backends();
    const n = 5000, d = rand(n, 9, 0, 8), ld = 44, off = 2 * ld; // two rows skipped
    const [, out] = runOn(
      cuda,
      [d],
      [["float32", off + n * ld]],
      ([D], [O]) =>
        cuda.gaussianExpand({
          ...{ distances: D, out: O, outOffset: off, rows: n, ld, col: 0 },
          ...{ centres: 41, start: 0, step: 0.2, sigma: 0.2 },
        }),
    );
    const ref = new Float64Array(off + n * ld); // untouched columns and rows stay 0
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 41; k++) {
        ref[off + ld * i + k] = Math.exp(-((d[i] - 0.2 * k) ** 2) / 0.04);
      }
    }
    assertClose("gaussianExpand", out, ref, 1e-5);
  },
});

Deno.test({
  name: "gpu: the scatter modes (CSR plan, cuSPARSE SpMM, atomics) agree",
  ignore,
  fn() {
    const { cuda } = backends();
    const [nDst, nIndex, cols] = [200, 2400, 64];
    const index = Int32Array.from(rand(nIndex, 11, 0, nDst), Math.floor);
    const msg = rand(nIndex * cols, 12), base = rand(nDst * cols, 13);
    const results: Record<string, Float32Array> = {};
    for (const mode of ["csr", "spmm", "atomic"] as const) {
      if (mode === "spmm" && !cuda.info().notes.some((s) => s.startsWith("cusparse "))) {
        console.warn("cuSPARSE not loaded; the spmm scatter is skipped");
        continue;
      }
      const old = Deno.env.get("FACGCNN_SCATTER");
      Deno.env.set("FACGCNN_SCATTER", mode);
      const be = createCudaBackend();
      try {
        const [M, I, O] = be.uploadBatch([
          { data: msg },
          { data: index, scatterRows: nDst },
          { data: base },
        ]);
        be.scatterAddRows(M, I, O, nIndex, cols);
        results[mode] = be.download(O) as Float32Array;
      } finally {
        be.dispose();
        if (old === undefined) Deno.env.delete("FACGCNN_SCATTER");
        else Deno.env.set("FACGCNN_SCATTER", old);
      }
    }
    const ref = new Float64Array(base);
    for (let i = 0; i < nIndex; i++) {
      for (let j = 0; j < cols; j++) ref[index[i] * cols + j] += msg[i * cols + j];
    }
    for (const [mode, out] of Object.entries(results)) {
      assertClose(`scatter ${mode}`, out, ref, 1e-5);
    }
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

disposeBackendsAtEnd();
