/**
 * The CGCNN edge term `W_u u_e` and its weight gradient `dW_u = dzᵀ u` on the CPU, two ways,
 * interleaved on the same batch (256 synthetic crystals): the stored `[E, F]` Gaussian
 * features (`gaussianExpand`, plus the frame vectors for FACGCNN) multiplied by OpenBLAS
 * sgemm (NT, then TN with K = E), against `edgeGemm` / `edgeGemmWeightGrad`, which form the
 * Gaussians from the E distances inside the product (native/cpu/edge_gemm.c). One conv
 * layer's worth per line (a model runs n_conv = 3 of each per step); median ms and GFLOP/s.
 *
 *   deno run -A bench/edge_term.ts [repeats=9]
 * @module
 */

import type { Backend, EdgeSourceArgs, Storage } from "../lib/backend/backend.ts";
import { createCpuBackend } from "../lib/backend/cpu/cpu_backend.ts";
import { featurize } from "../lib/data/featurize.ts";
import { syntheticCrystals } from "../lib/data/synthetic.ts";
import { collate } from "../lib/graph/batch.ts";
import { gaussianSize } from "../lib/crystal/rbf.ts";

const repeats = Number(Deno.args[0] ?? 9);
const backend: Backend = createCpuBackend();
if (!backend.edgeGemm || !backend.edgeGemmWeightGrad) {
  console.error(
    "edgeGemm: not on this backend (build the native kernels: bash native/build_cpu.sh)",
  );
}
const { graphs } = await featurize(syntheticCrystals({ count: 256, seed: 42 }), {
  cacheDir: null,
  quiet: true,
});
const batch = collate(graphs, Int32Array.from({ length: graphs.count }, (_, i) => i));
const E = batch.nEdges, G = gaussianSize();
const distances = new Float32Array(E);
for (let e = 0; e < E; e++) {
  const v = batch.vectors;
  distances[e] = Math.hypot(v[3 * e], v[3 * e + 1], v[3 * e + 2]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function time(f: () => void): number {
  const t = performance.now();
  f();
  return performance.now() - t;
}

const rows: string[] = [];
for (const kind of ["cgcnn", "facgcnn"] as const) {
  for (const A of [64, 128]) {
    const X = kind === "facgcnn" ? 3 : 0, K = G + X, cols = 2 * A, ldw = 2 * A + K;
    const rand = (n: number, s: number) =>
      Float32Array.from({ length: n }, () => s * (Math.random() * 2 - 1));
    const d = backend.upload(distances);
    const extra = X ? backend.upload(rand(E * X, 1)) : null;
    const w = backend.upload(rand(cols * ldw, 0.1)), dz = backend.upload(rand(E * cols, 1));
    const z = backend.alloc("float32", E * cols, false);
    const dw = backend.alloc("float32", cols * ldw, true);
    const src: EdgeSourceArgs = {
      ...{ distances: d, period: E, extra, extraCols: X, rows: E, centres: G },
      ...{ start: 0, step: 0.2, sigma: 0.2 },
    };
    /** The stored-features path: expand, copy the frame vectors, then sgemm. */
    const stored = (): Storage => {
      const u = backend.alloc("float32", E * K, false);
      backend.gaussianExpand({
        ...{ distances: d, out: u, rows: E, ld: K, col: 0, centres: G },
        ...{ start: 0, step: 0.2, sigma: 0.2 },
      });
      if (extra) {
        backend.copyCols({
          ...{ src: extra, srcLd: X, srcCol: 0, dst: u, dstLd: K, dstCol: G, rows: E },
          ...{ cols: X, accumulate: false },
        });
      }
      return u;
    };
    const t = {
      expand: [] as number[],
      fwd: [] as number[],
      wgrad: [] as number[],
      kf: [] as number[],
      kw: [] as number[],
    };
    for (let r = 0; r < repeats + 1; r++) {
      let u: Storage | null = null;
      const te = time(() => u = stored());
      const tf = time(() =>
        backend.gemm({
          ...{ transA: false, transB: true, m: E, n: cols, k: K, alpha: 1, beta: 0, a: u!, lda: K },
          ...{ b: w, bOffset: 2 * A, ldb: ldw, c: z, ldc: cols },
        })
      );
      const tw = time(() =>
        backend.gemm({
          ...{ transA: true, transB: false, m: cols, n: K, k: E, alpha: 1, beta: 0, a: dz },
          ...{ lda: cols, b: u!, ldb: K, c: dw, cOffset: 2 * A, ldc: ldw },
        })
      );
      backend.free(u!);
      const kf = time(() =>
        backend.edgeGemm?.({ ...src, weight: w, ldw, weightOffset: 2 * A, cols, out: z })
      );
      const kw = time(() =>
        backend.edgeGemmWeightGrad?.({
          ...src,
          ...{ dz, cols, dWeight: dw, ldw, weightOffset: 2 * A, accumulate: false },
        })
      );
      if (r === 0) continue; // warm-up
      t.expand.push(te), t.fwd.push(tf), t.wgrad.push(tw), t.kf.push(kf), t.kw.push(kw);
    }
    for (const s of [d, w, dz, z, dw, ...(extra ? [extra] : [])]) backend.free(s);
    const gf = (ms: number) => (2 * E * cols * K / ms / 1e6).toFixed(0);
    const [me, mf, mw, kf, kw] = [t.expand, t.fwd, t.wgrad, t.kf, t.kw].map(median);
    rows.push(
      `| ${kind} | ${A} | ${K} | ${me.toFixed(1)} | ${mf.toFixed(1)} (${gf(mf)}) | ${
        mw.toFixed(1)
      } (${gf(mw)}) | ${kf.toFixed(1)} (${gf(kf)}) | ${kw.toFixed(1)} (${gf(kw)}) | ${
        ((me + mf + mw) / (kf + kw)).toFixed(2)
      } |`,
    );
  }
}
console.log(
  `# CGCNN edge term per conv layer, ${E} edges (256 synthetic crystals), ${repeats} interleaved repeats`,
);
console.log(`load average: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}\n`);
console.log(
  "| model | A | K | expand ms | sgemm NT ms (GF/s) | sgemm TN ms (GF/s) | edgeGemm ms (GF/s) | edgeGemmWeightGrad ms (GF/s) | speed-up |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) console.log(r);
