/**
 * Op throughput at the sizes of one CGCNN step, OpenBLAS vs the TypeScript fallback.
 *
 * `deno run -A bench/ops_report.ts [--quick] [--native-only]` times every case itself (warm-up, then the
 * median of several runs) and prints GFLOP/s for GEMMs and GB/s for the memory-bound kernels.
 * `bench/ops.bench.ts` registers the same cases with `Deno.bench`.
 *
 * Sizes: a batch of 256 crystals, 15 atoms each (N = 3840 atoms), 12 neighbours per atom
 * (E = 46080 edges), atom features A = 64 or 128, 41 Gaussian edge features. The CGCNN
 * convolution is `[E, 2A+41] · Wᵀ` with W `[2A, 2A+41]` (PyTorch layout, as `linear` calls
 * it), or split into a node part `[N, A]·W_nᵀ` and an edge part `[E, 41]·W_eᵀ`.
 * Bytes are the minimum traffic of each kernel (each input read once, each output written
 * once; scatter-add reads and writes its output). The roofline column gives each memory-bound
 * kernel's GB/s as a fraction of the machine's copy bandwidth, measured in the same run
 * (`copy` of 64 MiB, read + write bytes): a kernel far below it is compute- or latency-bound
 * (transcendental functions, serial scatter) rather than limited by memory.
 * @module
 */

import type { Backend, Storage } from "../lib/backend/backend.ts";
import { type CpuBackend, createCpuBackend } from "../lib/backend/cpu/cpu_backend.ts";
import { symmetricEigen3Batched } from "../lib/util/eigen3.ts";

/** Atoms per batch (256 crystals × 15 atoms). */
export const N_ATOMS = 15 * 256;
/** Neighbours per atom. */
export const NEIGHBORS = 12;
/** Edges per batch: 180 · 256. */
export const N_EDGES = N_ATOMS * NEIGHBORS;
/** Gaussian edge features. */
export const EDGE_FEATURES = 41;
/** Atom feature sizes benchmarked. */
export const ATOM_FEATURES = [64, 128];

/** One timed kernel. */
export interface OpCase {
  /** "sgemm" or "memory". */
  kind: "sgemm" | "memory";
  /** Short description with shapes. */
  name: string;
  /** Floating-point operations per call (GEMMs). */
  flops?: number;
  /** Bytes moved per call (memory-bound kernels). */
  bytes?: number;
  run: () => void;
}

/** Deterministic fill in [-1, 1) (an LCG: fast for tens of millions of values). */
function randomF32(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

/** The backend's storages for one atom-feature size; `dispose` frees them. */
export function opCases(
  backend: Backend,
  a: number,
  include: "all" | "sgemm" | "memory" = "all",
): { cases: OpCase[]; dispose: () => void } {
  const e = N_EDGES, n = N_ATOMS, k = 2 * a + EDGE_FEATURES, h = 2 * a;
  const owned: Storage[] = [];
  const f32 = (len: number, seed: number) => {
    const s = backend.upload(randomF32(len, seed));
    owned.push(s);
    return s;
  };
  const zeros = (len: number) => {
    const s = backend.alloc("float32", len);
    owned.push(s);
    return s;
  };
  const i32 = (data: Int32Array) => {
    const s = backend.upload(data);
    owned.push(s);
    return s;
  };
  const cases: OpCase[] = [];
  const gemm = (
    name: string,
    m: number,
    nn: number,
    kk: number,
    transA: boolean,
    transB: boolean,
  ) => {
    const A = f32(m * kk, 1), B = f32(kk * nn, 2), C = zeros(m * nn);
    cases.push({
      kind: "sgemm",
      name,
      flops: 2 * m * nn * kk,
      run: () =>
        backend.gemm({
          transA,
          transB,
          m,
          n: nn,
          k: kk,
          alpha: 1,
          beta: 0,
          a: A,
          lda: transA ? m : kk,
          b: B,
          ldb: transB ? kk : nn,
          c: C,
          ldc: nn,
        }),
    });
  };
  if (include !== "memory") {
    gemm(`conv  [E,2A+41]·Wᵀ  ${e}×${h}×${k}`, e, h, k, false, true);
    gemm(`node  [N,A]·W_nᵀ    ${n}×${h}×${a}`, n, h, a, false, true);
    gemm(`edge  [E,41]·W_eᵀ   ${e}×${h}×${EDGE_FEATURES}`, e, h, EDGE_FEATURES, false, true);
    gemm(`dW    gᵀ·x          ${h}×${k}×${e}`, h, k, e, true, false);
    gemm(`dx    g·W           ${e}×${k}×${h}`, e, k, h, false, false);
  }
  if (include !== "sgemm") {
    const nbr = new Int32Array(e), offsets = new Int32Array(n + 1);
    let s = 12345;
    for (let i = 0; i < e; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      nbr[i] = s % n;
    }
    for (let i = 0; i <= n; i++) offsets[i] = i * NEIGHBORS;
    const index = i32(nbr), csr = i32(offsets);
    const atoms = f32(n * a, 3), edgesA = f32(e * a, 4), z = f32(e * h, 5), dz = zeros(e * h);
    const outEA = zeros(e * a), outNA = zeros(n * a), outEH = zeros(e * h), outEH2 = zeros(e * h);
    const colsH = [zeros(h), zeros(h), f32(h, 6), f32(h, 7), zeros(h), zeros(h)];
    const [mean, variance, gamma, beta, dGamma, dBeta] = colsH;
    backend.columnMoments(z, mean, variance, e, h);
    const F = 4, I = 4;
    const mem = (name: string, bytes: number, run: () => void) =>
      cases.push({ kind: "memory", name, bytes, run });
    mem(
      `gatherRows      [N,A]→[E,A]`,
      e * a * F * 2 + e * I,
      () => backend.gatherRows(atoms, index, outEA, e, a),
    );
    mem(`scatterAddRows  [E,A]→[N,A]`, e * a * F + e * I + 2 * n * a * F, () => {
      backend.fill(outNA, 0);
      backend.scatterAddRows(edgesA, index, outNA, e, a);
    });
    mem(
      `segmentSum      [E,A]→[N,A]`,
      e * a * F + (n + 1) * I + n * a * F,
      () => backend.segmentReduce(edgesA, csr, outNA, n, a, false),
    );
    mem(
      `segmentExpand   [N,A]→[E,A]`,
      n * a * F + (n + 1) * I + e * a * F,
      () => backend.segmentExpand(atoms, csr, outEA, n, a, false),
    );
    mem(`gate            [E,2A]→[E,A]`, e * h * F + e * a * F, () => backend.gate(z, outEA, e, a));
    mem(
      `gateBackward    [E,A]→[E,2A]`,
      e * h * F * 2 + e * a * F,
      () => backend.gateBackward(z, outEA, dz, e, a),
    );
    mem(
      `columnMoments   [E,2A]`,
      2 * e * h * F,
      () => backend.columnMoments(z, mean, variance, e, h),
    );
    mem(
      `batchNorm fwd   [E,2A]`,
      2 * e * h * F,
      () =>
        backend.batchNormForward({
          ...{ x: z, mean, variance, gamma, beta, out: outEH },
          ...{ rows: e, cols: h, eps: 1e-5 },
        }),
    );
    mem(`batchNorm bwd   [E,2A]`, 2 * e * h * F * 2 + e * h * F, () =>
      backend.batchNormBackward({
        ...{ x: z, dy: outEH, mean, variance, gamma, dx: outEH2, dGamma, dBeta },
        ...{ rows: e, cols: h, eps: 1e-5, batchStatistics: true },
      }));
    mem(
      `add             [E,2A]+[E,2A]`,
      3 * e * h * F,
      () => backend.binary("add", z, outEH, outEH2, e, h, "none"),
    );
    mem(
      `mul row-bcast   [E,2A]⊙[2A]`,
      2 * e * h * F,
      () => backend.binary("mul", z, gamma, outEH2, e, h, "row"),
    );
    mem(`sigmoid         [E,2A]`, 2 * e * h * F, () => backend.unary("sigmoid", z, outEH2, e * h));
    mem(`softplus        [E,2A]`, 2 * e * h * F, () => backend.unary("softplus", z, outEH2, e * h));
    mem(`sumRows         [E,2A]→[2A]`, e * h * F, () => backend.sumRows(z, mean, e, h));
    mem(`axpby (grad +=) [E,2A]`, 3 * e * h * F, () => backend.axpby(1, z, 1, outEH2, e * h));
    // The fused edge kernels (what a CGCNN convolution runs instead of the composed ops above).
    const { edgeCombine, gateSum, gateSumBackward } = backend;
    if (edgeCombine && gateSum && gateSumBackward) {
      const selfH = f32(n * h, 8), otherH = f32(n * h, 9), zf = f32(e * h, 10);
      const biasH = zeros(h), dOut = f32(n * a, 11);
      mem(
        `edgeCombine     [E,2A]+rows, moments`,
        2 * e * h * F + 2 * n * h * F + e * I + (n + 1) * I,
        () =>
          edgeCombine.call(backend, {
            ...{ z: zf, bias: biasH, self: selfH, other: otherH, offsets: csr, neighbors: index },
            ...{ atoms: n, edges: e, cols: h, mean, variance },
          }),
      );
      backend.fill(zf, 0.5);
      const common = { z, offsets: csr, atoms: n, edges: e, cols: a, mean, variance, gamma, beta };
      mem(
        `gateSum         [E,2A]→[N,A]`,
        e * h * F + n * a * F + (n + 1) * I,
        () => gateSum.call(backend, { ...common, eps: 1e-5, out: outNA }),
      );
      mem(
        `gateSumBackward [N,A]→[E,2A]`,
        2 * e * h * F + n * a * F + (n + 1) * I,
        () =>
          gateSumBackward.call(backend, {
            ...common,
            ...{ eps: 1e-5, dOut, dz, dGamma, dBeta, batchStatistics: true },
          }),
      );
      // The rest of the edge backward: dz → W_a's rows (segment sums), W_b's (neighbour
      // scatter) and the bias, one pass where the backend fuses them, else three.
      const dSelf = zeros(n * h), dOther = zeros(n * h), dBias = zeros(h);
      mem(
        `edgeCombineBackward [E,2A]→2×[N,2A]+[2A]${backend.edgeCombineBackward ? "" : " (3 ops)"}`,
        e * h * F + 3 * n * h * F + h * F + e * I + (n + 1) * I,
        () => {
          backend.fill(dOther, 0);
          if (backend.edgeCombineBackward) {
            backend.edgeCombineBackward({
              ...{ dz, offsets: csr, neighbors: index, atoms: n, edges: e, cols: h },
              ...{ dSelf, dOther, dBias },
            });
          } else {
            backend.segmentReduce(dz, csr, dSelf, n, h, false);
            backend.scatterAddRows(dz, index, dOther, e, h);
            backend.sumRows(dz, dBias, e, h);
          }
        },
      );
    }
    // Edge featurisation: 41 Gaussians of each edge length (CGCNN's expansion, 0–8 Å by 0.2).
    const dist = f32(e, 12), gauss = zeros(e * EDGE_FEATURES);
    mem(
      `gaussianExpand  [E]→[E,41]`,
      e * F + e * EDGE_FEATURES * F,
      () =>
        backend.gaussianExpand({
          ...{ distances: dist, out: gauss, rows: e, ld: EDGE_FEATURES, col: 0 },
          ...{ centres: EDGE_FEATURES, start: 0, step: 0.2, sigma: 0.2 },
        }),
    );
    // Optimizer steps on one 1M-float parameter (one fused launch per parameter).
    const P = 1 << 20;
    const [pw, ps, pv, pg] = [f32(P, 13), zeros(P), zeros(P), f32(P, 14)];
    const sf = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
    mem(
      `scheduleFreeAdamW [1M params]`,
      7 * P * F,
      () =>
        backend.scheduleFreeAdamWStep(pw, ps, pv, pg, P, {
          ...sf,
          biasCorrection2: 0.01,
          ckp1: 0.5,
        }),
    );
    mem(
      `adamW           [1M params]`,
      7 * P * F,
      () =>
        backend.adamWStep(pw, ps, pv, pg, P, {
          ...sf,
          biasCorrection1: 0.1,
          biasCorrection2: 0.01,
        }),
    );
    mem(
      `sgd momentum    [1M params]`,
      5 * P * F,
      () =>
        backend.sgdStep(pw, ps, pg, P, {
          lr: 1e-2,
          momentum: 0.9,
          weightDecay: 0,
          firstStep: false,
        }),
    );
    // Frames: batched symmetric 3×3 eigensolves (one covariance per crystal, 2048 crystals);
    // on the device when the backend has the kernel, else the host solver the CPU path uses.
    const M = 2048;
    const covs = new Float64Array(9 * M);
    for (let m = 0; m < M; m++) {
      const r = randomF32(9, 100 + m);
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) covs[9 * m + 3 * i + j] = r[3 * i + j] + r[3 * j + i];
      }
    }
    const device = backend as Backend & {
      symmetricEigen3?(m: Storage, w: Storage, v: Storage, n: number): void;
    };
    if (device.symmetricEigen3) {
      const dm = backend.upload(Float32Array.from(covs));
      owned.push(dm);
      const dw = zeros(3 * M), dv = zeros(9 * M);
      mem(
        `symmetricEigen3 [2048,3,3]`,
        M * 21 * F,
        () => device.symmetricEigen3!(dm, dw, dv, M),
      );
    } else {
      const hw = new Float64Array(3 * M), hv = new Float64Array(9 * M);
      mem(
        `symmetricEigen3 [2048,3,3]`,
        M * 21 * F,
        () => symmetricEigen3Batched(covs, M, hw, hv),
      );
    }
    // Whole frames of a batch (Backend.buildFrames): centre, covariance, eigensolve, signs and
    // scale for 2048 crystals of 15 atoms, 8 copies (CPU: lib/frames; CUDA: one thread each).
    const frameAtoms = 15 * M, copies = 8;
    const pos = Float64Array.from(randomF32(3 * frameAtoms, 15), (x) => 6 * x);
    const ranges = Int32Array.from({ length: M + 1 }, (_, c) => 15 * c);
    const patterns = Int32Array.from({ length: copies * M }, (_, i) => i % 8);
    const P64 = i32(new Int32Array(pos.buffer)), R = i32(ranges), S = i32(patterns);
    const centred = zeros(3 * frameAtoms), am = zeros(9 * copies * M), em = zeros(9 * copies * M);
    mem(
      `buildFrames     [2048×15 atoms, k=8]`,
      36 * frameAtoms + 4 * (M + 1) + 4 * copies * M + 72 * copies * M,
      () =>
        backend.buildFrames({
          ...{ positions: P64, atomRanges: R, lattices: null, patterns: S, kind: "pca" },
          ...{ gapTolerance: 1e-2, scale: 10, node: false, copies, segments: M, rows: frameAtoms },
          ...{ centred, atomMatrices: am, edgeMatrices: em, degenerate: null },
        }),
    );
  }
  return { cases, dispose: () => owned.forEach((s) => backend.free(s)) };
}

/**
 * The two CPU configurations: OpenBLAS with the native kernels (when built; null when OpenBLAS
 * is absent) and the all-TypeScript fallback (blocked GEMM and TypeScript kernels).
 */
export function benchBackends(): { label: string; backend: CpuBackend | null; why?: string }[] {
  const openblas = createCpuBackend();
  const fallback = createCpuBackend({
    blasPath: "/nonexistent/libopenblas.so",
    nativeKernels: false,
  });
  return [
    openblas.usesOpenBlas
      ? { label: openblas.usesNativeKernels ? "OpenBLAS + native" : "OpenBLAS", backend: openblas }
      : { label: "OpenBLAS", backend: null, why: openblas.info().notes.join("; ") },
    { label: "all TypeScript", backend: fallback },
  ];
}

/** Median seconds of `runs` calls after `warmup` calls. */
export function timeMedian(fn: () => void, warmup: number, runs: number): number {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    t.push((performance.now() - t0) / 1000);
  }
  t.sort((x, y) => x - y);
  return t[Math.floor(t.length / 2)];
}

function main(): void {
  const quick = Deno.args.includes("--quick");
  // --native-only: leave out the all-TypeScript configuration (its GEMMs take minutes).
  const backends = benchBackends().slice(0, Deno.args.includes("--native-only") ? 1 : 2);
  console.log(`ops report: E = ${N_EDGES}, N = ${N_ATOMS}, edge features ${EDGE_FEATURES}`);
  for (const b of backends) {
    const info = b.backend?.info();
    console.log(`  ${b.label}: ${info ? `${info.gemm} on ${info.device}` : `absent (${b.why})`}`);
  }
  // The roofline: copy bandwidth (read + write bytes) of each backend.
  const copyGBs = backends.map((b) => {
    if (!b.backend) return NaN;
    const len = 16 * 1024 * 1024, src = b.backend.upload(randomF32(len, 1));
    const dst = b.backend.alloc("float32", len);
    const sec = timeMedian(() => b.backend!.copy(src, dst, len), 2, quick ? 3 : 9);
    b.backend.free(src);
    b.backend.free(dst);
    return 2 * 4 * len / sec / 1e9;
  });
  backends.forEach((b, i) => {
    if (b.backend) console.log(`  ${b.label}: copy bandwidth ${copyGBs[i].toFixed(1)} GB/s`);
  });
  const rows: { a: number; kind: string; name: string; cells: string[] }[] = [];
  for (const a of ATOM_FEATURES) {
    const perBackend = backends.map((b) => {
      if (!b.backend) return null;
      const { cases, dispose } = opCases(b.backend, a);
      const results = cases.map((c) => {
        const slow = c.kind === "sgemm" && !b.backend!.usesOpenBlas;
        const runs = quick ? (slow ? 1 : 3) : (slow ? 3 : 9);
        const sec = timeMedian(c.run, slow ? 1 : 2, runs);
        return { c, sec };
      });
      dispose();
      return results;
    });
    const first = perBackend.find((r) => r !== null)!;
    first.forEach(({ c }, i) => {
      const cells = perBackend.map((r, bi) => {
        if (!r || !r[i] || r[i].c.name !== c.name) return "—";
        const { sec } = r[i];
        const gbs = c.bytes! / sec / 1e9;
        const rate = c.flops
          ? `${(c.flops / sec / 1e9).toFixed(1)} GFLOP/s`
          : `${gbs.toFixed(2)} GB/s (${(100 * gbs / copyGBs[bi]).toFixed(0)}% of copy)`;
        return `${(sec * 1000).toFixed(2)} ms  ${rate}`;
      });
      rows.push({ a, kind: c.kind, name: c.name, cells });
    });
  }
  const header = ["A", "op", ...backends.map((b) => b.label)];
  const table = [header, ...rows.map((r) => [String(r.a), r.name, ...r.cells])];
  const widths = header.map((_, j) => Math.max(...table.map((r) => r[j].length)));
  const line = (r: string[]) => `| ${r.map((c, j) => c.padEnd(widths[j])).join(" | ")} |`;
  console.log();
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of table.slice(1)) console.log(line(r));
}

if (import.meta.main) main();
