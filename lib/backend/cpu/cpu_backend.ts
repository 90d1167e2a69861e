/**
 * The CPU backend: storage is a plain typed array; kernels are TypeScript loops, GEMM is
 * OpenBLAS `cblas_sgemm` (or the blocked fallback).
 * @module
 */

import type {
  AdamWScalars,
  Backend,
  BackendInfo,
  BatchNormArgs,
  BatchNormBackwardArgs,
  BatchPart,
  BinaryOp,
  Broadcast,
  CopyColsArgs,
  DType,
  EdgeCombineArgs,
  EdgeCombineBackwardArgs,
  EdgeGemmArgs,
  EdgeGemmWeightGradArgs,
  FrameApplyArgs,
  FrameBuildArgs,
  GateSumArgs,
  GateSumBackwardArgs,
  GaussianArgs,
  GemmArgs,
  MemoryInfo,
  ScheduleFreeScalars,
  SgdScalars,
  Storage,
  UnaryOp,
} from "../backend.ts";
import { type BlasChoice, loadBlas } from "./blas.ts";
import { type CpuKernelTable, nativeKernelTable, TS_KERNELS } from "./kernel_table.ts";
import { adamWKernel, scheduleFreeAdamWKernel, sgdKernel } from "./optim_kernels.ts";
import { loadCpuKernels } from "./native_kernels.ts";
import { type PoolStats, SizeClassPool } from "../size_class_pool.ts";
import { gaussianExpandInto, gaussianSize } from "../../crystal/rbf.ts";
import { frameInputs } from "../../frames/matrices.ts";

/** CPU storage: owns one typed array (a view of a pooled block) until freed. */
export class CpuStorage implements Storage {
  #data: Float32Array | Int32Array | null;
  readonly dtype: DType;
  readonly length: number;
  readonly backend: CpuBackend;

  constructor(backend: CpuBackend, data: Float32Array | Int32Array) {
    this.backend = backend;
    this.#data = data;
    this.dtype = data instanceof Float32Array ? "float32" : "int32";
    this.length = data.length;
  }

  /** The host array (exactly `length` elements); throws after `free`. */
  get data(): Float32Array | Int32Array {
    if (this.#data === null) throw new Error("CPU storage used after it was freed");
    return this.#data;
  }

  /** True once freed. */
  get freed(): boolean {
    return this.#data === null;
  }

  /** Drops the array (called by the backend's `free`). */
  release(): void {
    this.#data = null;
  }
}

/** Options of `createCpuBackend`. */
export interface CpuBackendOptions {
  /** CBLAS library path; defaults to `FACGCNN_BLAS`, then the usual OpenBLAS sonames. */
  blasPath?: string;
  /**
   * Native CPU kernel library path, or `false` for the TypeScript kernels only; defaults to
   * `FACGCNN_CPU_KERNELS`, then `build/native/libfacgcnn_cpu.so`.
   */
  nativeKernels?: string | false;
}

/** Arrays below this size are left to the garbage collector (pooling them gains nothing). */
const MIN_POOLED_BYTES = 4 * 1024;
/** The pool may always hold this much, even before the peak is known. */
const MIN_POOL_BUDGET = 64 * 1024 * 1024;

/**
 * The size an inference sub-batch's `[k·E, 2A]` float32 pre-activation (k frame copies) may
 * reach on the CPU: 4 MiB. Smaller sub-batches pay more in per-call costs (thread wake-ups, weight
 * packing) for each crystal, larger ones fall out of the cache between the kernels that write
 * and read the array: on a 2-core EPYC virtual machine (carbon cells, batches of 256 and 1024,
 * A = 64 and 128, interleaved) 4 MiB was fastest of 2, 4, 8 and 16 MiB, by 5-30% over 16 MiB
 * (and again, by 5-10% over whole batches, after the edge kernels got 1.5-2× faster).
 */
export const CPU_INFERENCE_CHUNK_BYTES = 4 * 1024 * 1024;

/** The CPU implementation of `Backend`. */
export class CpuBackend implements Backend {
  readonly name = "cpu" as const;
  readonly inferenceChunkBytes = CPU_INFERENCE_CHUNK_BYTES;
  readonly #blas: BlasChoice;
  /** The element-wise, graph and batch-norm kernels, chosen once (kernel_table.ts). */
  readonly #k: CpuKernelTable;
  readonly #kernelsDescription: string;
  /**
   * Freed blocks by size class, reused by `alloc` for any shape of the same class (see
   * size_class_pool.ts): a step's shapes change with every batch of variable-size crystals.
   */
  readonly #pool = new SizeClassPool<ArrayBuffer>(
    (bytes) => new ArrayBuffer(bytes),
    () => {}, // garbage-collected
    (block) => block.byteLength,
    { minBytes: MIN_POOLED_BYTES, maxCachedBytes: MIN_POOL_BUDGET },
  );
  #liveBuffers = 0;
  #liveBytes = 0;
  #peakBytes = 0;

  constructor(options: CpuBackendOptions = {}) {
    this.#blas = loadBlas(options.blasPath);
    const native = loadCpuKernels(options.nativeKernels);
    this.#k = native.kernels
      ? nativeKernelTable(native.kernels, native.edgeGemm, native.edgeBackward)
      : TS_KERNELS;
    this.#kernelsDescription = native.description;
  }

  info(): BackendInfo {
    const notes = [
      `element-wise and graph ops: ${this.#kernelsDescription}`,
      "memory: size-class cache (2^k·{1, 1.25, 1.5, 1.75} blocks ≥ 4 KiB, bounded by the peak plus one block)",
    ];
    if (this.#blas.reason) notes.push(this.#blas.reason);
    let threads = "";
    try {
      threads = `, ${navigator.hardwareConcurrency} hardware threads`;
    } catch { /* navigator may be absent in some embeddings */ }
    return {
      name: "cpu",
      device: `${Deno.build.arch}${threads}`,
      gemm: this.#blas.description,
      notes,
    };
  }

  /** True when the element-wise and graph ops run in the native CPU kernels. */
  get usesNativeKernels(): boolean {
    return this.#k.native;
  }

  /** True when GEMM runs on OpenBLAS (false: the TypeScript fallback). */
  get usesOpenBlas(): boolean {
    return this.#blas.reason === undefined;
  }

  /** Bytes held in the reuse pool (not live; see `alloc`). */
  get pooledBytes(): number {
    return this.#pool.stats().cachedBytes;
  }

  /** The size-class pool's counters (live, cached, fresh and reused blocks). */
  poolStats(): PoolStats {
    return this.#pool.stats();
  }

  memory(): MemoryInfo {
    const p = this.#pool.stats();
    return {
      liveBuffers: this.#liveBuffers,
      liveBytes: this.#liveBytes,
      peakBytes: this.#peakBytes,
      cachedBytes: p.cachedBytes,
      freshAllocations: p.freshAllocations,
      reusedAllocations: p.reusedAllocations,
    };
  }

  resetPeak(): void {
    this.#peakBytes = this.#liveBytes;
  }

  #track(data: Float32Array | Int32Array): CpuStorage {
    this.#liveBuffers++;
    this.#liveBytes += data.byteLength;
    if (this.#liveBytes > this.#peakBytes) this.#peakBytes = this.#liveBytes;
    return new CpuStorage(this, data);
  }

  alloc(dtype: DType, length: number, zeroed = true): Storage {
    if (!Number.isInteger(length) || length < 0) {
      throw new RangeError(`cannot allocate ${length} elements`);
    }
    const bytes = 4 * length;
    if (bytes < MIN_POOLED_BYTES) {
      return this.#track(dtype === "float32" ? new Float32Array(length) : new Int32Array(length));
    }
    // A reused block holds the values of its last user: zero it only when the caller reads
    // before it writes (most ops overwrite their whole output).
    const block = this.#pool.acquire(bytes);
    const data = dtype === "float32"
      ? new Float32Array(block, 0, length)
      : new Int32Array(block, 0, length);
    if (zeroed) data.fill(0);
    return this.#track(data);
  }

  free(storage: Storage): void {
    const s = this.#own(storage);
    if (s.freed) return;
    const data = s.data;
    this.#liveBuffers--;
    this.#liveBytes -= data.byteLength;
    s.release();
    if (data.byteLength >= MIN_POOLED_BYTES) this.#pool.release(data.buffer as ArrayBuffer);
  }

  /** Drops the arrays kept for reuse (they are then garbage-collected). */
  releaseCache(): void {
    this.#pool.trim();
  }

  upload(data: Float32Array | Int32Array): Storage {
    const s = this.alloc(data instanceof Float32Array ? "float32" : "int32", data.length, false);
    (this.#own(s).data as Float32Array | Int32Array).set(data);
    return s;
  }

  uploadBatch(parts: readonly BatchPart[]): Storage[] {
    return parts.map((p) => this.upload(p.data));
  }

  download(storage: Storage): Float32Array | Int32Array {
    return this.#own(storage).data.slice();
  }

  copy(src: Storage, dst: Storage, length: number, srcOffset = 0, dstOffset = 0): void {
    const s = this.#own(src).data;
    this.#own(dst).data.set(s.subarray(srcOffset, srcOffset + length), dstOffset);
  }

  fill(dst: Storage, value: number): void {
    this.#own(dst).data.fill(value);
  }

  synchronize(): void {}

  gemm(g: GemmArgs): void {
    const a = this.#f32(g.a), b = this.#f32(g.b), c = this.#f32(g.c);
    if (g.m === 0 || g.n === 0) return;
    if (g.k === 0) {
      // An empty product (no rows to reduce over): C = beta·C, explicitly, since C may be an
      // uncleared block.
      for (let r = 0; r < g.m; r++) {
        const row = (g.cOffset ?? 0) + r * g.ldc;
        if (g.beta === 0) c.fill(0, row, row + g.n);
        else for (let j = 0; j < g.n; j++) c[row + j] *= g.beta;
      }
      return;
    }
    this.#blas.sgemm(
      g.transA,
      g.transB,
      g.m,
      g.n,
      g.k,
      g.alpha,
      g.aOffset ? a.subarray(g.aOffset) : a,
      g.lda,
      g.bOffset ? b.subarray(g.bOffset) : b,
      g.ldb,
      g.beta,
      g.cOffset ? c.subarray(g.cOffset) : c,
      g.ldc,
    );
  }

  unary(op: UnaryOp, x: Storage, out: Storage, length: number): void {
    this.#k.unary(op, this.#f32(x), this.#f32(out), length);
  }

  unaryBackward(
    op: UnaryOp,
    x: Storage,
    y: Storage,
    dy: Storage,
    dx: Storage,
    length: number,
  ): void {
    const [xs, ys, dys, dxs] = [this.#f32(x), this.#f32(y), this.#f32(dy), this.#f32(dx)];
    this.#k.unaryBackward(op, xs, ys, dys, dxs, length);
  }

  binary(
    op: BinaryOp,
    a: Storage,
    b: Storage,
    out: Storage,
    rows: number,
    cols: number,
    broadcast: Broadcast,
  ): void {
    this.#k.binary(op, this.#f32(a), this.#f32(b), this.#f32(out), rows, cols, broadcast);
  }

  axpby(alpha: number, x: Storage, beta: number, y: Storage, length: number): void {
    const xs = this.#f32(x), ys = this.#f32(y);
    for (let i = 0; i < length; i++) ys[i] = alpha * xs[i] + beta * ys[i];
  }

  affine(x: Storage, out: Storage, alpha: number, beta: number, length: number): void {
    const xs = this.#f32(x), o = this.#f32(out);
    for (let i = 0; i < length; i++) o[i] = alpha * xs[i] + beta;
  }

  copyCols(c: CopyColsArgs): void {
    const s = this.#f32(c.src), d = this.#f32(c.dst), cols = c.cols;
    // Narrow blocks (FACGCNN's 3 frame-vector columns of each edge row) are copied element by
    // element: a `subarray` view per row costs more than the copy itself (~2.7 ms for the
    // 36k edge rows of a 256-crystal batch, against ~0.1 ms for the loop).
    const viaSet = !c.accumulate && cols >= 64;
    for (let r = 0; r < c.rows; r++) {
      const so = r * c.srcLd + c.srcCol, dO = r * c.dstLd + c.dstCol;
      if (c.accumulate) { for (let j = 0; j < cols; j++) d[dO + j] += s[so + j]; }
      else if (viaSet) d.set(s.subarray(so, so + cols), dO);
      else for (let j = 0; j < cols; j++) d[dO + j] = s[so + j];
    }
  }

  gatherRows(src: Storage, index: Storage, out: Storage, nIndex: number, cols: number): void {
    this.#k.gatherRows(this.#f32(src), this.#i32(index), this.#f32(out), nIndex, cols);
  }

  scatterAddRows(src: Storage, index: Storage, out: Storage, nIndex: number, cols: number): void {
    this.#k.scatterAddRows(this.#f32(src), this.#i32(index), this.#f32(out), nIndex, cols);
  }

  segmentReduce(
    src: Storage,
    offsets: Storage,
    out: Storage,
    nSegments: number,
    cols: number,
    mean: boolean,
  ): void {
    const [s, off, o] = [this.#f32(src), this.#i32(offsets), this.#f32(out)];
    this.#k.segmentReduce(s, off, o, nSegments, cols, mean);
  }

  segmentExpand(
    g: Storage,
    offsets: Storage,
    out: Storage,
    nSegments: number,
    cols: number,
    mean: boolean,
  ): void {
    const [gs, off, o] = [this.#f32(g), this.#i32(offsets), this.#f32(out)];
    this.#k.segmentExpand(gs, off, o, nSegments, cols, mean);
  }

  gaussianExpand(g: GaussianArgs): void {
    if (g.col + g.centres > g.ld) {
      throw new RangeError(
        `gaussianExpand: ${g.centres} centres from column ${g.col} exceed ld ${g.ld}`,
      );
    }
    const options = {
      min: g.start,
      max: g.start + (g.centres - 1) * g.step,
      step: g.step,
      sigma: g.sigma,
      stride: g.ld,
    };
    if (gaussianSize(options) !== g.centres) {
      throw new RangeError(`gaussianExpand: ${g.centres} centres do not fit step ${g.step}`);
    }
    // The same arithmetic as the host featurisation (crystal/rbf.ts), so the two input paths
    // give the same features to the last bit.
    const d = this.#f32(g.distances).subarray(0, g.rows);
    gaussianExpandInto(d, this.#f32(g.out), (g.outOffset ?? 0) + g.col, options);
  }

  applyFrames(a: FrameApplyArgs): void {
    const src = this.#f32(a.src), off = this.#i32(a.offsets), mat = this.#f32(a.matrices);
    const t = a.centres ? this.#f32(a.centres) : null, out = this.#f32(a.out);
    const n = a.segments, mo = a.matrixOffset ?? 0, oo = a.outOffset ?? 0;
    if (off.length < n + 1 || off[n] !== a.rows || src.length < 3 * a.rows) {
      throw new RangeError(`applyFrames: offsets do not cover ${a.rows} rows of ${n} segments`);
    }
    if (mat.length < mo + 9 * n || (t !== null && t.length < 3 * n)) {
      throw new RangeError(`applyFrames: matrices or centres shorter than ${n} segments`);
    }
    if (a.rows > 0 && out.length < oo + 3 * a.rows) {
      throw new RangeError(`applyFrames: output shorter than ${a.rows} rows`);
    }
    // Float32 arithmetic, as the CUDA kernel does it (Math.fround after each step).
    const f = Math.fround;
    for (let c = 0; c < n; c++) {
      const m = mo + 9 * c;
      const tx = t ? t[3 * c] : 0, ty = t ? t[3 * c + 1] : 0, tz = t ? t[3 * c + 2] : 0;
      for (let r = off[c]; r < off[c + 1]; r++) {
        const x = f(src[3 * r] - tx), y = f(src[3 * r + 1] - ty), z = f(src[3 * r + 2] - tz);
        const o = oo + 3 * r;
        for (let k = 0; k < 3; k++) {
          out[o + k] = f(f(f(x * mat[m + k]) + f(y * mat[m + 3 + k])) + f(z * mat[m + 6 + k]));
        }
      }
    }
  }

  /** The host reference itself (lib/frames via `frameInputs`). */
  buildFrames(a: FrameBuildArgs): void {
    const C = a.segments, k = a.copies, N = a.rows;
    const words = this.#i32(a.positions), ranges = this.#i32(a.atomRanges);
    const patterns = this.#i32(a.patterns);
    if (words.length < 6 * N || ranges.length < C + 1 || ranges[C] !== N) {
      throw new RangeError(`buildFrames: positions or atom ranges do not cover ${N} atoms`);
    }
    if (patterns.length < k * C) throw new RangeError(`buildFrames: patterns shorter than k·C`);
    if (a.kind !== "pca" && (!a.lattices || this.#i32(a.lattices).length < 18 * C)) {
      throw new RangeError(`buildFrames: kind "${a.kind}" needs [C, 9] float64 lattices`);
    }
    const r = frameInputs(
      float64Words(words, 3 * N),
      ranges.subarray(0, C + 1),
      a.kind === "pca" ? null : float64Words(this.#i32(a.lattices!), 9 * C),
      patterns.subarray(0, k * C),
      k,
      {
        kind: a.kind,
        gapTolerance: a.gapTolerance,
        coordinates: { scale: a.scale, node: a.node },
      },
    );
    this.#f32(a.centred).set(r.centred);
    this.#f32(a.atomMatrices).set(r.atomMatrices);
    this.#f32(a.edgeMatrices).set(r.edgeMatrices);
    if (a.degenerate) this.#i32(a.degenerate)[0] += r.degenerate;
  }

  sumRows(x: Storage, out: Storage, rows: number, cols: number): void {
    this.#k.sumRows(this.#f32(x), this.#f32(out), rows, cols);
  }

  sumAll(x: Storage, out: Storage, length: number): void {
    const xs = this.#f32(x);
    let s = 0;
    for (let i = 0; i < length; i++) s += xs[i];
    this.#f32(out)[0] = s;
  }

  gate(z: Storage, out: Storage, rows: number, cols: number): void {
    this.#k.gate(this.#f32(z), this.#f32(out), rows, cols);
  }

  gateBackward(z: Storage, dOut: Storage, dz: Storage, rows: number, cols: number): void {
    this.#k.gateBackward(this.#f32(z), this.#f32(dOut), this.#f32(dz), rows, cols);
  }

  columnMoments(x: Storage, mean: Storage, variance: Storage, rows: number, cols: number): void {
    this.#k.columnMoments(this.#f32(x), this.#f32(mean), this.#f32(variance), rows, cols);
  }

  batchNormForward(a: BatchNormArgs): void {
    const [x, mean, variance, gamma, beta, out] = [a.x, a.mean, a.variance, a.gamma, a.beta, a.out]
      .map((t) => this.#f32(t));
    this.#k.batchNormForward({ ...a, x, mean, variance, gamma, beta, out });
  }

  batchNormBackward(a: BatchNormBackwardArgs): void {
    const [x, dy, mean, variance, gamma, dx, dGamma, dBeta] = [
      a.x,
      a.dy,
      a.mean,
      a.variance,
      a.gamma,
      a.dx,
      a.dGamma,
      a.dBeta,
    ].map((t) => this.#f32(t));
    this.#k.batchNormBackward({ ...a, x, dy, mean, variance, gamma, dx, dGamma, dBeta });
  }

  edgeCombine(a: EdgeCombineArgs): void {
    this.#k.edgeCombine({
      ...a,
      z: this.#f32(a.z),
      bias: this.#f32(a.bias),
      self: this.#f32(a.self),
      other: this.#f32(a.other),
      offsets: this.#i32(a.offsets),
      neighbors: this.#i32(a.neighbors),
      mean: a.mean && this.#f32(a.mean),
      variance: a.variance && this.#f32(a.variance),
    });
  }

  edgeCombineBackward(a: EdgeCombineBackwardArgs): void {
    this.#k.edgeCombineBackward({
      ...a,
      dz: this.#f32(a.dz),
      offsets: this.#i32(a.offsets),
      neighbors: this.#i32(a.neighbors),
      dSelf: a.dSelf && this.#f32(a.dSelf),
      dOther: a.dOther && this.#f32(a.dOther),
      dBias: a.dBias && this.#f32(a.dBias),
    });
  }

  gateSum(a: GateSumArgs): void {
    const [z, mean, variance, gamma, beta, out] = [a.z, a.mean, a.variance, a.gamma, a.beta, a.out]
      .map((t) => this.#f32(t));
    this.#k.gateSum({ ...a, z, offsets: this.#i32(a.offsets), mean, variance, gamma, beta, out });
  }

  gateSumBackward(a: GateSumBackwardArgs): void {
    const [z, mean, variance, gamma, beta, dOut, dz, dGamma, dBeta] = [
      a.z,
      a.mean,
      a.variance,
      a.gamma,
      a.beta,
      a.dOut,
      a.dz,
      a.dGamma,
      a.dBeta,
    ].map((t) => this.#f32(t));
    const offsets = this.#i32(a.offsets);
    this.#k.gateSumBackward({
      ...a,
      ...{ z, offsets, mean, variance, gamma, beta, dOut, dz, dGamma, dBeta },
    });
  }

  edgeGemm(a: EdgeGemmArgs): void {
    this.#k.edgeGemm({
      ...a,
      ...{ distances: this.#f32(a.distances), extra: a.extra ? this.#f32(a.extra) : null },
      ...{ weight: this.#f32(a.weight), out: this.#f32(a.out) },
    });
  }

  edgeGemmWeightGrad(a: EdgeGemmWeightGradArgs): void {
    this.#k.edgeGemmWeightGrad({
      ...a,
      ...{ distances: this.#f32(a.distances), extra: a.extra ? this.#f32(a.extra) : null },
      ...{ dz: this.#f32(a.dz), dWeight: this.#f32(a.dWeight) },
    });
  }

  scheduleFreeAdamWStep(
    y: Storage,
    z: Storage,
    v: Storage,
    g: Storage,
    length: number,
    s: ScheduleFreeScalars,
  ): void {
    scheduleFreeAdamWKernel(this.#f32(y), this.#f32(z), this.#f32(v), this.#f32(g), length, s);
  }

  adamWStep(
    p: Storage,
    m: Storage,
    v: Storage,
    g: Storage,
    length: number,
    s: AdamWScalars,
  ): void {
    adamWKernel(this.#f32(p), this.#f32(m), this.#f32(v), this.#f32(g), length, s);
  }

  sgdStep(p: Storage, buf: Storage, g: Storage, length: number, s: SgdScalars): void {
    sgdKernel(this.#f32(p), this.#f32(buf), this.#f32(g), length, s);
  }

  #own(storage: Storage): CpuStorage {
    if (!(storage instanceof CpuStorage) || storage.backend !== this) {
      throw new Error(`storage of backend "${storage.backend.name}" passed to the CPU backend`);
    }
    return storage;
  }

  #f32(storage: Storage): Float32Array {
    const d = this.#own(storage).data;
    if (!(d instanceof Float32Array)) throw new TypeError("expected float32 storage, got int32");
    return d;
  }

  #i32(storage: Storage): Int32Array {
    const d = this.#own(storage).data;
    if (!(d instanceof Int32Array)) throw new TypeError("expected int32 storage, got float32");
    return d;
  }
}

/** Creates a CPU backend (OpenBLAS when found, else the TypeScript GEMM, as `info()` says). */
export function createCpuBackend(options: CpuBackendOptions = {}): CpuBackend {
  return new CpuBackend(options);
}

/** The first `n` float64 values stored as int32 word pairs (copied when not 8-byte aligned). */
function float64Words(words: Int32Array, n: number): Float64Array {
  if (words.byteOffset % 8 === 0) return new Float64Array(words.buffer, words.byteOffset, n);
  return new Float64Array(words.slice(0, 2 * n).buffer);
}
