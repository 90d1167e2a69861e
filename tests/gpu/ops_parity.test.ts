/** Every `Backend` op on CUDA against the CPU backend, on random inputs, to 1e-5 relative. */
import assert from "node:assert/strict";
import type { BinaryOp, Broadcast, UnaryOp } from "../../lib/backend/backend.ts";
import {
  assertAllClose,
  assertClose,
  backends,
  disposeBackendsAtEnd,
  onBoth,
  rand,
  randInt,
  requireCuda,
  roundToTf32,
  skipGpu,
} from "./gpu_helpers.ts";
import { createCudaBackend } from "../../lib/backend/cuda/cuda_backend.ts";

const ignore = skipGpu;

Deno.test({
  name: "gpu: CUDA is available when FACGCNN_REQUIRE_CUDA=1",
  ignore: !requireCuda,
  fn() {
    const { cuda } = backends();
    const info = cuda.info();
    console.log(`CUDA backend: ${info.device}; ${info.gemm}; ${info.notes.join("; ")}`);
    assert.equal(info.name, "cuda");
  },
});

Deno.test({
  name: "gpu: storage round trips, alloc zeroes, copy with offsets, fill",
  ignore,
  fn() {
    const { cuda } = backends();
    const f = rand(1000, 1), i = randInt(777, 2, 1 << 30);
    const sf = cuda.upload(f), si = cuda.upload(i), z = cuda.alloc("float32", 513);
    try {
      assert.deepEqual(cuda.download(sf), f);
      assert.deepEqual(cuda.download(si), i);
      assert.ok((cuda.download(z) as Float32Array).every((x) => x === 0));
      cuda.copy(sf, z, 100, 10, 400);
      const got = cuda.download(z);
      assert.deepEqual(got.subarray(400, 500), f.subarray(10, 110));
      assert.equal(got[399], 0);
      cuda.fill(si, -7);
      assert.ok((cuda.download(si) as Int32Array).every((x) => x === -7));
      cuda.fill(z, 2.5);
      assert.ok((cuda.download(z) as Float32Array).every((x) => x === 2.5));
    } finally {
      [sf, si, z].forEach((s) => cuda.free(s));
    }
    assert.throws(() => cuda.download(sf), /after free/);
  },
});

Deno.test({
  name: "gpu: gemm, all transposes, offsets, leading dims, alpha/beta",
  ignore,
  fn() {
    const [m, n, k] = [37, 29, 45];
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 2, ldc = n + 5;
        const aOffset = 7, bOffset = 3, cOffset = 11;
        const a = rand(aOffset + (transA ? k : m) * lda, 10),
          b = rand(bOffset + (transB ? n : k) * ldb, 11);
        const c = rand(cOffset + m * ldc, 12);
        const res = onBoth([a, b, c], [], (be, [A, B, C]) =>
          be.gemm({
            transA,
            transB,
            m,
            n,
            k,
            alpha: 0.75,
            beta: -0.5,
            a: A,
            aOffset,
            lda,
            b: B,
            bOffset,
            ldb,
            c: C,
            cOffset,
            ldc,
          }));
        assertAllClose(`gemm ${transA ? "T" : "N"}${transB ? "T" : "N"}`, res);
      }
    }
  },
});

Deno.test({
  name: "gpu: unary forward and backward, all ops",
  ignore,
  fn() {
    const n = 10_007;
    const ops: UnaryOp[] = ["sigmoid", "softplus", "exp", "log", "neg", "square", "sqrt", "abs"];
    for (const op of ops) {
      const positive = op === "log" || op === "sqrt";
      const x = positive ? rand(n, 20, 0.05, 5) : rand(n, 20, -30, 30);
      if (!positive) x[0] = 0, x[1] = 20, x[2] = 20.5; // abs at 0, the softplus threshold
      const dy = rand(n, 21);
      assertAllClose(
        `unary ${op}`,
        onBoth([x], [["float32", n]], (b, [X], [Y]) => b.unary(op, X, Y, n)),
      );
      const res = onBoth([x, dy], [["float32", n], ["float32", n]], (b, [X, DY], [Y, DX]) => {
        b.unary(op, X, Y, n);
        b.unaryBackward(op, X, Y, DY, DX, n);
      });
      assertAllClose(`unaryBackward ${op}`, res);
    }
  },
});

Deno.test({
  name: "gpu: binary ops with every broadcast",
  ignore,
  fn() {
    const [rows, cols] = [123, 77];
    const a = rand(rows * cols, 30);
    for (const bc of ["none", "row", "col", "scalar"] as Broadcast[]) {
      const bn = bc === "none" ? rows * cols : bc === "row" ? cols : bc === "col" ? rows : 1;
      const b = rand(bn, 31, 0.5, 2); // away from 0 for div
      for (const op of ["add", "sub", "mul", "div"] as BinaryOp[]) {
        const res = onBoth(
          [a, b],
          [["float32", rows * cols]],
          (be, [A, B], [O]) => be.binary(op, A, B, O, rows, cols, bc),
        );
        assertAllClose(`binary ${op}/${bc}`, res);
      }
    }
  },
});

Deno.test({
  name: "gpu: axpby, affine, copyCols (overwrite and accumulate)",
  ignore,
  fn() {
    const n = 5000, x = rand(n, 40), y = rand(n, 41);
    assertAllClose("axpby", onBoth([x, y], [], (b, [X, Y]) => b.axpby(1.5, X, -0.25, Y, n)));
    assertAllClose(
      "affine",
      onBoth([x], [["float32", n]], (b, [X], [O]) => b.affine(X, O, -2, 0.5, n)),
    );
    const [rows, srcLd, dstLd] = [50, 40, 64];
    const src = rand(rows * srcLd, 42), dst = rand(rows * dstLd, 43);
    for (const acc of [false, true]) {
      const res = onBoth(
        [src, dst],
        [],
        (b, [S, D]) =>
          b.copyCols({
            ...{ src: S, srcLd, srcCol: 5, dst: D, dstLd, dstCol: 20 },
            ...{ rows, cols: 30, accumulate: acc },
          }),
      );
      assertAllClose(`copyCols acc=${acc}`, res);
    }
  },
});

Deno.test({
  name: "gpu: gather, scatter-add (atomic and CSR), segment reduce/expand",
  ignore,
  fn() {
    const [nSrc, nIndex, cols] = [300, 3600, 96];
    const src = rand(nSrc * cols, 50), index = randInt(nIndex, 51, nSrc);
    assertAllClose(
      "gatherRows",
      onBoth(
        [src, index],
        [["float32", nIndex * cols]],
        (b, [S, I], [O]) => b.gatherRows(S, I, O, nIndex, cols),
      ),
    );
    const msg = rand(nIndex * cols, 52), base = rand(nSrc * cols, 53);
    const cpuScatter = onBoth(
      [msg, index, base],
      [],
      (b, [M, I, O]) => b.scatterAddRows(M, I, O, nIndex, cols),
    );
    assertAllClose("scatterAddRows", cpuScatter);
    // An index uploaded with scatterRows carries the deterministic plan (FACGCNN_SCATTER=csr,
    // the default): same sums, and bitwise the same on a second run.
    const { cuda } = backends();
    const planned = () => {
      const [M, I, O] = cuda.uploadBatch([
        { data: msg },
        { data: index, scatterRows: nSrc },
        { data: base },
      ]);
      cuda.scatterAddRows(M, I, O, nIndex, cols);
      const out = cuda.download(O) as Float32Array;
      [M, I, O].forEach((s) => cuda.free(s));
      return out;
    };
    const csrOut = planned();
    assertClose("scatterAddRows (CSR plan)", csrOut, cpuScatter[1][2]);
    assert.deepEqual(planned(), csrOut, "the planned scatter is deterministic");
    // Segments with an empty one in the middle; sum and mean.
    const seg = new Int32Array([0, 5, 5, 17, 18, 40]);
    const rows = seg[seg.length - 1],
      nSeg = seg.length - 1,
      x = rand(rows * cols, 54),
      g = rand(nSeg * cols, 55);
    for (const mean of [false, true]) {
      assertAllClose(
        `segmentReduce mean=${mean}`,
        onBoth(
          [x, seg],
          [["float32", nSeg * cols]],
          (b, [X, S], [O]) => b.segmentReduce(X, S, O, nSeg, cols, mean),
        ),
      );
      assertAllClose(
        `segmentExpand mean=${mean}`,
        onBoth(
          [g, seg],
          [["float32", rows * cols]],
          (b, [G, S], [O]) => b.segmentExpand(G, S, O, nSeg, cols, mean),
        ),
      );
    }
  },
});

Deno.test({
  name: "gpu: sumRows and sumAll, one and several reduction passes",
  ignore,
  fn() {
    for (const [rows, cols] of [[1, 5], [1000, 33], [5000, 257], [1_100_000, 3]]) {
      const x = rand(rows * cols, 60 + rows);
      assertAllClose(
        `sumRows ${rows}x${cols}`,
        onBoth([x], [["float32", cols]], (b, [X], [O]) => b.sumRows(X, O, rows, cols)),
      );
    }
    for (const n of [1, 1000, 4_000_000]) {
      const x = rand(n, 70 + n, 0, 1); // positive: a sum that does not cancel
      assertAllClose(
        `sumAll ${n}`,
        onBoth([x], [["float32", 1]], (b, [X], [O]) => b.sumAll(X, O, n)),
      );
    }
  },
});

Deno.test({
  name: "gpu: CGCNN gate forward and backward",
  ignore,
  fn() {
    const [rows, cols] = [2048, 64];
    const z = rand(rows * 2 * cols, 80, -25, 25), dOut = rand(rows * cols, 81);
    assertAllClose(
      "gate",
      onBoth([z], [["float32", rows * cols]], (b, [Z], [O]) => b.gate(Z, O, rows, cols)),
    );
    assertAllClose(
      "gateBackward",
      onBoth(
        [z, dOut],
        [["float32", rows * 2 * cols]],
        (b, [Z, D], [DZ]) => b.gateBackward(Z, D, DZ, rows, cols),
      ),
    );
  },
});

Deno.test({
  name: "gpu: BatchNorm moments, forward, backward (batch and running statistics)",
  ignore,
  fn() {
    for (const [rows, cols] of [[777, 128], [3000, 256]]) {
      const x = rand(rows * cols, 90, -3, 5), dy = rand(rows * cols, 91);
      const gamma = rand(cols, 92, 0.5, 1.5), beta = rand(cols, 93);
      assertAllClose(
        `columnMoments ${rows}`,
        onBoth(
          [x],
          [["float32", cols], ["float32", cols]],
          (b, [X], [M, V]) => b.columnMoments(X, M, V, rows, cols),
        ),
      );
      const mean = rand(cols, 94, 0, 1), variance = rand(cols, 95, 0.5, 2);
      assertAllClose(
        `batchNormForward ${rows}`,
        onBoth(
          [x, mean, variance, gamma, beta],
          [["float32", rows * cols]],
          (b, [X, M, V, G, B], [O]) =>
            b.batchNormForward({
              ...{ x: X, mean: M, variance: V, gamma: G, beta: B, out: O },
              ...{ rows, cols, eps: 1e-5 },
            }),
        ),
      );
      for (const batchStatistics of [true, false]) {
        const res = onBoth([x, dy, gamma], [
          ["float32", cols],
          ["float32", cols],
          ["float32", rows * cols],
          ["float32", cols],
          ["float32", cols],
        ], (b, [X, DY, G], [M, V, DX, DG, DB]) => {
          b.columnMoments(X, M, V, rows, cols);
          b.batchNormBackward({
            ...{ x: X, dy: DY, mean: M, variance: V, gamma: G, dx: DX, dGamma: DG, dBeta: DB },
            ...{ rows, cols, eps: 1e-5, batchStatistics },
          });
        });
        assertAllClose(`batchNormBackward ${rows} batchStatistics=${batchStatistics}`, res, 2e-5);
      }
    }
  },
});

Deno.test({
  name: "gpu: optimizer steps (Schedule-Free AdamW, AdamW, SGD), several steps",
  ignore,
  fn() {
    const n = 4099, p = rand(n, 100), g1 = rand(n, 101), g2 = rand(n, 102);
    const res = onBoth(
      [p, rand(n, 103), new Float32Array(n), g1, g2],
      [],
      (b, [Y, Z, V, G1, G2]) => {
        b.scheduleFreeAdamWStep(Y, Z, V, G1, n, {
          lr: 5e-4,
          beta1: 0.9,
          beta2: 0.999,
          biasCorrection2: 1 - 0.999,
          eps: 1e-8,
          weightDecay: 0.01,
          ckp1: 1,
        });
        b.scheduleFreeAdamWStep(Y, Z, V, G2, n, {
          lr: 5e-4,
          beta1: 0.9,
          beta2: 0.999,
          biasCorrection2: 1 - 0.999 ** 2,
          eps: 1e-8,
          weightDecay: 0.01,
          ckp1: 0.5,
        });
      },
    );
    assertAllClose("scheduleFreeAdamW", res);
    const adam = onBoth(
      [p, new Float32Array(n), new Float32Array(n), g1, g2],
      [],
      (b, [P, M, V, G1, G2]) => {
        for (const [t, G] of [[1, G1], [2, G2]] as const) {
          b.adamWStep(P, M, V, G, n, {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weightDecay: 0.01,
            biasCorrection1: 1 - 0.9 ** t,
            biasCorrection2: 1 - 0.999 ** t,
          });
        }
      },
    );
    assertAllClose("adamW", adam);
    for (const momentum of [0.9, 0]) {
      const sgd = onBoth([p, new Float32Array(n), g1, g2], [], (b, [P, B, G1, G2]) => {
        b.sgdStep(P, B, G1, n, { lr: 0.01, momentum, weightDecay: 1e-4, firstStep: true });
        b.sgdStep(P, B, G2, n, { lr: 0.01, momentum, weightDecay: 1e-4, firstStep: false });
      });
      assertAllClose(`sgd momentum=${momentum}`, sgd);
    }
  },
});

Deno.test({
  name: "gpu: TF32 GEMM (cublasGemmEx): FP32 accumulation of TF32-rounded inputs",
  ignore: skipGpu,
  fn() {
    const be = createCudaBackend({ tf32: true });
    try {
      assert.match(be.info().gemm, /cublasGemmEx \(TF32\)/);
      const [m, n, k] = [300, 129, 517];
      const a = rand(m * k, 61), b = rand(k * n, 62);
      const A = be.upload(a), B = be.upload(b), C = be.alloc("float32", m * n);
      be.gemm({
        transA: false,
        transB: false,
        m,
        n,
        k,
        alpha: 1,
        beta: 0,
        a: A,
        lda: k,
        b: B,
        ldb: n,
        c: C,
        ldc: n,
      });
      const got = be.download(C) as Float32Array;
      const at = roundToTf32(Float32Array.from(a)), bt = roundToTf32(Float32Array.from(b));
      let dTf32 = 0, dExact = 0, scale = 0;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0, t = 0;
          for (let l = 0; l < k; l++) {
            s += a[i * k + l] * b[l * n + j];
            t += at[i * k + l] * bt[l * n + j];
          }
          dTf32 = Math.max(dTf32, Math.abs(got[i * n + j] - t));
          dExact = Math.max(dExact, Math.abs(got[i * n + j] - s));
          scale = Math.max(scale, Math.abs(s));
        }
      }
      console.log(
        `TF32 GEMM k=${k}: max|Δ| vs TF32 inputs ${dTf32 / scale}, vs FP32 inputs ${
          dExact / scale
        }`,
      );
      // cuBLAS may pick an FP32 kernel for some shapes: then the first is also small.
      assert.ok(dTf32 / scale <= 1e-4 || dExact / scale <= 1e-5, `TF32 path ${dTf32 / scale}`);
      assert.ok(dExact / scale <= 2e-3, `vs FP32 inputs ${dExact / scale}`);
      [A, B, C].forEach((s) => be.free(s));
    } finally {
      be.dispose();
    }
  },
});

disposeBackendsAtEnd();
