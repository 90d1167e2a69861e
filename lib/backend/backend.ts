/**
 * The `Backend` interface: the only device-aware layer of the toolkit.
 *
 * Tensors, autograd, models and optimizers call these methods and never branch on the
 * device. A backend owns its storage: `alloc`/`upload` create it, `free` releases it, and
 * nothing else reaches into it. All matrices are row-major; a "row" is one atom, one edge
 * or one crystal, a "column" one feature. Every method is synchronous from the caller's
 * point of view except where it returns a Promise (the CUDA backend enqueues on one stream
 * and only `download` waits).
 *
 * Learned from candle's `backend.rs`: a small set of primitives, with the fused ops a
 * CGCNN step needs (gate, batch norm, optimizer steps) so a GPU does one launch for each.
 * @module
 */

/**
 * Element types a tensor can hold: float32 values, int32 indices.
 */
export type DType = "float32" | "int32";

/**
 * Opaque storage owned by one backend. Only that backend reads its internals.
 *
 * @example
 * ```ts
 * import { selectBackend, type Storage } from "@facgcnn/toolkit";
 * const be = selectBackend("cpu");
 * const s: Storage = be.alloc("float32", 8);
 * console.log(s.length, s.dtype); // 8 "float32"
 * be.free(s);
 * ```
 */
export interface Storage {
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements (not bytes). */
  readonly length: number;
  /** The backend that owns this storage. */
  readonly backend: Backend;
}

/**
 * Element-wise functions with a backward rule (`unaryBackward`).
 */
export type UnaryOp = "sigmoid" | "softplus" | "exp" | "log" | "neg" | "square" | "sqrt" | "abs";

/**
 * Element-wise binary functions.
 */
export type BinaryOp = "add" | "sub" | "mul" | "div";

/**
 * How the right operand of a binary op is shaped relative to the left `[rows, cols]`:
 * `"none"` the same shape, `"row"` one row `[cols]` repeated for every row, `"col"` one
 * column `[rows]` repeated for every column, `"scalar"` one element.
 */
export type Broadcast = "none" | "row" | "col" | "scalar";

/**
 * Row-major GEMM: `C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C`.
 *
 * @example
 * ```ts
 * import { type GemmArgs, selectBackend } from "@facgcnn/toolkit";
 * const be = selectBackend("cpu");
 * const [a, b, c] = [be.upload(new Float32Array([1, 2, 3, 4])), be.upload(new Float32Array([1, 0, 0, 1])), be.alloc("float32", 4)];
 * const args: GemmArgs = { transA: false, transB: false, m: 2, n: 2, k: 2, alpha: 1, beta: 0, a, lda: 2, b, ldb: 2, c, ldc: 2 };
 * be.gemm(args); // c = a · b = a
 * ```
 */
export interface GemmArgs {
  /** Use Aᵀ. */
  transA: boolean;
  /** Use Bᵀ. */
  transB: boolean;
  /** Rows of op(A) and C. */
  m: number;
  /** Columns of op(B) and C. */
  n: number;
  /** Inner dimension. */
  k: number;
  /** Scale of the product. */
  alpha: number;
  /** Scale of the existing C (0 overwrites). */
  beta: number;
  /** A. */
  a: Storage;
  /** Element offset of A's first element (lets a caller use a column block of a weight). */
  aOffset?: number;
  /** Leading dimension (row stride in elements) of A as stored. */
  lda: number;
  /** B. */
  b: Storage;
  /** Element offset of B's first element. */
  bOffset?: number;
  /** Leading dimension of B. */
  ldb: number;
  /** C (written). */
  c: Storage;
  /** Element offset of C's first element. */
  cOffset?: number;
  /** Leading dimension of C. */
  ldc: number;
}

/**
 * A column block copy: `dst[r, dstCol + j] (+)= src[r, srcCol + j]` for `r < rows`,
 * `j < cols`, with row strides `srcLd` and `dstLd` (concatenation and split along features).
 * `T` is the storage type: `Storage` for a backend, `Float32Array` for host kernels.
 */
export interface CopyColsArgs<T = Storage> {
  /** Source `[rows, srcLd]`. */
  src: T;
  /** Source row stride. */
  srcLd: number;
  /** First source column. */
  srcCol: number;
  /** Destination `[rows, dstLd]`. */
  dst: T;
  /** Destination row stride. */
  dstLd: number;
  /** First destination column. */
  dstCol: number;
  /** Rows copied. */
  rows: number;
  /** Columns copied. */
  cols: number;
  /** Add into `dst` instead of overwriting. */
  accumulate: boolean;
}

/**
 * BatchNorm over the rows of `x` (`[rows, cols]`) with per-column `mean`, `variance`, `gamma`,
 * `beta` (`[cols]`): `out = (x − mean) / sqrt(variance + eps) · gamma + beta`. `T` is the
 * storage type: `Storage` for a backend, `Float32Array` for host kernels.
 */
export interface BatchNormArgs<T = Storage> {
  /** Input `[rows, cols]`. */
  x: T;
  /** Column means `[cols]`. */
  mean: T;
  /** Column (biased) variances `[cols]`. */
  variance: T;
  /** Scale `[cols]`. */
  gamma: T;
  /** Shift `[cols]`. */
  beta: T;
  /** Output `[rows, cols]`. */
  out: T;
  /** Rows (atoms, edges or crystals). */
  rows: number;
  /** Columns (features). */
  cols: number;
  /** Added to the variance. */
  eps: number;
}

/**
 * Backward of {@linkcode BatchNormArgs}: reads `x`, `dy`, the statistics and `gamma`; writes
 * `dx` (`[rows, cols]`), `dGamma`, `dBeta` (`[cols]`), overwriting. With `batchStatistics` the
 * mean and variance are the batch's own (their dependence on x is included); otherwise they
 * are constants (running statistics).
 */
export interface BatchNormBackwardArgs<T = Storage> extends Omit<BatchNormArgs<T>, "beta" | "out"> {
  /** Gradient of the output `[rows, cols]`. */
  dy: T;
  /** Gradient of the input `[rows, cols]` (written). */
  dx: T;
  /** Gradient of gamma `[cols]` (written). */
  dGamma: T;
  /** Gradient of beta `[cols]` (written). */
  dBeta: T;
  /** Whether mean and variance are the batch's own statistics. */
  batchStatistics: boolean;
}

/**
 * The fused CGCNN edge pre-activation (Xie & Grossman 2018, eq. 5), in place on `z`:
 * `z[e] += bias + self[i] + other[neighbors[e]]` for every edge e of centre atom i (CSR
 * `offsets`, `[atoms + 1]`). On entry `z` holds `W_u u_e` (the caller's GEMM); `self` and `other`
 * (`[atoms, cols]`) hold `W_a v` and `W_b v`. With `mean`/`variance` (`[cols]`) it also writes
 * the column mean and biased variance of the result (BN1's batch statistics).
 */
export interface EdgeCombineArgs<T = Storage> {
  /** `[edges, cols]`: in `W_u u`, out the pre-activation z. */
  z: T;
  /** `[cols]`. */
  bias: T;
  /** `[atoms, cols]`, added to each edge of the atom. */
  self: T;
  /** `[atoms, cols]`, the neighbour's row added to each edge. */
  other: T;
  /** int32 `[atoms + 1]` CSR offsets of the edges by centre atom. */
  offsets: T;
  /** int32 `[edges]` neighbour atom of each edge. */
  neighbors: T;
  /** Atoms (segments). */
  atoms: number;
  /** Edges (`offsets[atoms]`). */
  edges: number;
  /** Columns (2A). */
  cols: number;
  /** Column means of z (written) or null. */
  mean: T | null;
  /** Column biased variances of z (written) or null. */
  variance: T | null;
}

/**
 * CGCNN edge features described by their distances instead of stored: row r is
 * `u[r] = [g_0(d) … g_{G−1}(d), extra[r, 0] … extra[r, X−1]]` with `d = distances[r mod period]`
 * (the frame copies of a stacked batch share their distances) and
 * `g_k(d) = exp(−(d − (start + k·step))² / σ²)`: K = G + X features per row.
 */
export interface EdgeSourceArgs<T = Storage> {
  /** `[period]` distances (Å). */
  distances: T;
  /** Rows of `distances` (E); row r of the features uses `distances[r mod period]`. */
  period: number;
  /** `[rows, extraCols]` further features after the Gaussians (FACGCNN's frame vectors), or null. */
  extra: T | null;
  /** X: columns of `extra` (0 without). */
  extraCols: number;
  /** Rows (edges of all copies). */
  rows: number;
  /** G: number of centres (41 in CGCNN). */
  centres: number;
  /** First centre (Å). */
  start: number;
  /** Spacing of the centres (Å). */
  step: number;
  /** Width σ (Å). */
  sigma: number;
}

/**
 * The CGCNN edge term `W_u u_e` from distances (see {@linkcode EdgeSourceArgs}):
 * `out[r, c] = Σ_k u[r, k] · weight[c·ldw + weightOffset + k]`, `out` `[rows, cols]` overwritten.
 */
export interface EdgeGemmArgs<T = Storage> extends EdgeSourceArgs<T> {
  /** `[cols, ldw]` row-major (fc_full's weight; the K columns from `weightOffset` are used). */
  weight: T;
  /** Row stride of `weight`. */
  ldw: number;
  /** First column of the edge block W_u in `weight`. */
  weightOffset: number;
  /** Output columns (2A). */
  cols: number;
  /** `[rows, cols]` (written). */
  out: T;
}

/**
 * The weight gradient of {@linkcode EdgeGemmArgs}:
 * `dWeight[c·ldw + weightOffset + k] (+)= Σ_r dz[r, c] · u[r, k]` (added when `accumulate`);
 * the other columns of `dWeight` are left as they are.
 */
export interface EdgeGemmWeightGradArgs<T = Storage> extends EdgeSourceArgs<T> {
  /** `[rows, cols]` gradient of the edge term. */
  dz: T;
  /** Columns of `dz` (2A). */
  cols: number;
  /** `[cols, ldw]` (its K columns from `weightOffset` written or added to). */
  dWeight: T;
  /** Row stride of `dWeight`. */
  ldw: number;
  /** First column of the edge block. */
  weightOffset: number;
  /** Add to `dWeight` instead of overwriting the block. */
  accumulate: boolean;
}

/**
 * Backward of {@linkcode EdgeCombineArgs} with respect to the atom rows and the bias, from
 * `dz` (`[edges, cols]`) in one pass: `dSelf[i] = Σ_{e of atom i} dz[e]` (written, as
 * `segmentReduce`), `dOther[neighbors[e]] += dz[e]` (accumulated, as `scatterAddRows`) and
 * `dBias = Σ_e dz[e]` (written, as `sumRows`). Each output may be null (not wanted).
 */
export interface EdgeCombineBackwardArgs<T = Storage> {
  /** `[edges, cols]` gradient of z. */
  dz: T;
  /** int32 `[atoms + 1]` CSR offsets of the edges by centre atom. */
  offsets: T;
  /** int32 `[edges]` neighbour atom of each edge. */
  neighbors: T;
  /** Atoms (segments). */
  atoms: number;
  /** Edges (`offsets[atoms]`). */
  edges: number;
  /** Columns (2A). */
  cols: number;
  /** `[atoms, cols]` (written) or null. */
  dSelf: T | null;
  /** `[atoms, cols]` (accumulated into: pass zeros for the plain gradient) or null. */
  dOther: T | null;
  /** `[cols]` (written) or null. */
  dBias: T | null;
}

/**
 * The fused CGCNN gate and neighbour sum: `out[i] = Σ_e σ(y_f) ⊙ softplus(y_c)` over the edges
 * of atom i, where `y = [y_f | y_c] = (z − mean) / sqrt(variance + eps) · gamma + beta` (BN1).
 * `z` is `[edges, 2·cols]`, `out` `[atoms, cols]` (overwritten); statistics `[2·cols]`.
 */
export interface GateSumArgs<T = Storage> {
  /** `[edges, 2·cols]` pre-activation. */
  z: T;
  /** int32 `[atoms + 1]` CSR offsets. */
  offsets: T;
  /** Atoms. */
  atoms: number;
  /** Edges. */
  edges: number;
  /** Columns of the output (A); z has twice as many. */
  cols: number;
  /** BN1 mean `[2·cols]`. */
  mean: T;
  /** BN1 variance `[2·cols]`. */
  variance: T;
  /** BN1 scale `[2·cols]`. */
  gamma: T;
  /** BN1 shift `[2·cols]`. */
  beta: T;
  /** BN1 ε. */
  eps: number;
  /** `[atoms, cols]` (written). */
  out: T;
}

/**
 * Backward of {@linkcode GateSumArgs}: from `dOut` (`[atoms, cols]`) writes `dz`
 * (`[edges, 2·cols]`), `dGamma`, `dBeta` (`[2·cols]`), overwriting; with `batchStatistics` the
 * mean and variance are z's own (their dependence on z included).
 */
export interface GateSumBackwardArgs<T = Storage> extends Omit<GateSumArgs<T>, "out"> {
  /** `[atoms, cols]`. */
  dOut: T;
  /** `[edges, 2·cols]` (written). */
  dz: T;
  /** `[2·cols]` (written). */
  dGamma: T;
  /** `[2·cols]` (written). */
  dBeta: T;
  /** Whether mean and variance are the batch's own statistics. */
  batchStatistics: boolean;
}

/**
 * Gaussian expansion of distances into a column block (CGCNN's edge features):
 * `out[outOffset + r·ld + col + k] = exp(−(d[r] − (start + k·step))² / σ²)` for `r < rows`,
 * `k < centres`; the other columns of each row are left as they are.
 */
export interface GaussianArgs<T = Storage> {
  /** Distances `[rows]` (Å). */
  distances: T;
  /** Output rows of stride `ld` (written). */
  out: T;
  /** Element offset of the first output row (a copy block of a stacked batch). */
  outOffset?: number;
  /** Rows (edges). */
  rows: number;
  /** Row stride of `out` (≥ `col + centres`). */
  ld: number;
  /** First column written. */
  col: number;
  /** Number of centres (41 in CGCNN). */
  centres: number;
  /** First centre (Å). */
  start: number;
  /** Spacing of the centres (Å). */
  step: number;
  /** Width σ (Å). */
  sigma: number;
}

/**
 * Per-segment affine frame transform of 3-vectors (frame averaging, Puny et al. 2022):
 * `out[outOffset + 3r + k] = Σ_i (src[3r + i] − t_c,i) · M_c[3i + k]` for the rows r of
 * segment c (`offsets[c] .. offsets[c+1]`), with `M_c = matrices[matrixOffset + 9c ..]` row-major
 * (the frame basis with its sign pattern and coordinate scale folded in) and `t_c` the centre
 * (`centres` null: no centring, for relative vectors).
 */
export interface FrameApplyArgs<T = Storage> {
  /** `[rows, 3]` input vectors (float32). */
  src: T;
  /** `[segments + 1]` CSR row ranges (int32). */
  offsets: T;
  /** `[segments, 3]` centres subtracted first, or null. */
  centres: T | null;
  /** `[≥ matrixOffset + 9·segments]` row-major 3×3 matrices. */
  matrices: T;
  /** Element offset of segment 0's matrix (a frame copy's block). */
  matrixOffset?: number;
  /** `[rows, 3]` output from `outOffset` (written). */
  out: T;
  /** Element offset of output row 0 (a frame copy's block). */
  outOffset?: number;
  /** Segments (crystals). */
  segments: number;
  /** Total rows (`offsets[segments]`, checked against the storages). */
  rows: number;
}

/**
 * The frames of a batch built on the device (frame averaging, Puny et al. ICLR 2022; PCA frames
 * as in FAENet, Duval et al. ICML 2023): per crystal c the centre t_c and covariance of its
 * atoms, the symmetric 3×3 eigensolve, the base of `kind` (PCA, the cell's polar factor, or
 * hybrid: the cell where the PCA eigengap is below `gapTolerance`), and per copy f the matrix
 * `U_c·diag(s_{f,c})/scale_c` that {@linkcode FrameApplyArgs} applies, with the same arithmetic as
 * lib/frames (`frameInputs` in lib/frames/matrices.ts is the reference).
 *
 * Positions and cells travel as the host's float64 bits (two int32 words per value, little
 * endian; storages hold float32 or int32): for tied eigenvalues (cubic cells) the eigenbasis
 * follows the last bits of the covariance, so only the host's own doubles give its basis.
 */
export interface FrameBuildArgs<T = Storage> {
  /** `[N, 3]` float64 positions (Å) as `[N, 6]` int32 words. */
  positions: T;
  /** `[C + 1]` atom ranges per crystal (int32). */
  atomRanges: T;
  /** `[C, 9]` float64 cells (rows a, b, c) as `[C, 18]` int32 words; null for `"pca"`. */
  lattices: T | null;
  /** `[k, C]` sign pattern (0..7) per copy and crystal (int32). */
  patterns: T;
  /** Canonical base kind. */
  kind: "pca" | "lattice" | "hybrid";
  /** Relative eigengap under which a PCA base counts as degenerate. */
  gapTolerance: number;
  /** Coordinate unit (Å) or `"rms"` (each crystal's RMS distance from its centre). */
  scale: number | "rms";
  /** Whether atoms get frame coordinates (else their matrices are zero). */
  node: boolean;
  /** Frame copies k. */
  copies: number;
  /** Crystals C. */
  segments: number;
  /** Atoms N (`atomRanges[C]`). */
  rows: number;
  /** `[N, 3]` out: positions minus their crystal's centre (float32). */
  centred: T;
  /** `[k, C, 9]` out: atom matrices (float32). */
  atomMatrices: T;
  /** `[k, C, 9]` out: relative-vector matrices (float32). */
  edgeMatrices: T;
  /**
   * `[1]` int32 counter the number of crystals with an ill-defined base is added to (no read
   * back: the caller downloads it when it reports, e.g. once per epoch), or null.
   */
  degenerate: T | null;
}

/**
 * One host array of a batch for {@linkcode Backend.uploadBatch}. `scatterRows` marks an index
 * that will be scattered into that many rows (the neighbour index of a graph): a backend may
 * then prepare a deterministic scatter plan while the host array is at hand.
 */
export interface BatchPart {
  /** The values. */
  data: Float32Array | Int32Array;
  /** For an int32 index: the number of destination rows of scatters through it. */
  scatterRows?: number;
}

/**
 * Scalars of one Schedule-Free AdamW step (Defazio et al. 2024), computed on the host.
 *
 * @example
 * ```ts
 * import { type ScheduleFreeScalars } from "@facgcnn/toolkit";
 * const s: ScheduleFreeScalars = { lr: 5e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, biasCorrection2: 0.001, ckp1: 1 };
 * ```
 */
export interface ScheduleFreeScalars {
  /** Learning rate after warmup, lr_t. */
  lr: number;
  /** β1 (momentum interpolation). */
  beta1: number;
  /** `1 − β2^(k+1)`, the bias correction of v. */
  biasCorrection2: number;
  /** β2. */
  beta2: number;
  /** ε. */
  eps: number;
  /** Decoupled weight decay. */
  weightDecay: number;
  /** Interpolation weight c = w / W. */
  ckp1: number;
}

/**
 * Scalars of one AdamW step (decoupled weight decay, PyTorch's `AdamW`).
 *
 * @example
 * ```ts
 * import { type AdamWScalars } from "@facgcnn/toolkit";
 * const s: AdamWScalars = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, biasCorrection1: 0.1, biasCorrection2: 0.001 };
 * ```
 */
export interface AdamWScalars {
  /** Learning rate. */
  lr: number;
  /** β1. */
  beta1: number;
  /** β2. */
  beta2: number;
  /** ε. */
  eps: number;
  /** Decoupled weight decay. */
  weightDecay: number;
  /** `1 − β1^t` and `1 − β2^t` for step t ≥ 1. */
  biasCorrection1: number;
  /** `1 − β2^t`. */
  biasCorrection2: number;
}

/**
 * Scalars of one SGD step with momentum and (coupled) weight decay, PyTorch's `SGD`.
 *
 * @example
 * ```ts
 * import { type SgdScalars } from "@facgcnn/toolkit";
 * const s: SgdScalars = { lr: 0.01, momentum: 0.9, weightDecay: 0, firstStep: true };
 * ```
 */
export interface SgdScalars {
  /** Learning rate. */
  lr: number;
  /** Momentum. */
  momentum: number;
  /** Weight decay (added to the gradient). */
  weightDecay: number;
  /** True on the first step: the momentum buffer is set to the gradient, not blended. */
  firstStep: boolean;
}

/**
 * What a backend is and which libraries it uses; printed by `backendInfo()`.
 *
 * @example
 * ```ts
 * import { backendInfo } from "@facgcnn/toolkit";
 * const { name, device, gemm } = backendInfo();
 * console.log(name, device, gemm);
 * ```
 */
export interface BackendInfo {
  /** Backend kind. */
  name: "cpu" | "cuda";
  /** Device description, e.g. "x86_64, 2 threads" or "NVIDIA H100 80GB HBM3". */
  device: string;
  /** GEMM implementation, e.g. "OpenBLAS cblas_sgemm (/usr/lib/.../libopenblas.so.0)". */
  gemm: string;
  /** Anything else worth knowing (fallback reasons, TF32 mode). */
  notes: string[];
}

/**
 * Live storage accounting, for leak checks and memory reports.
 *
 * @example
 * ```ts
 * import { selectBackend } from "@facgcnn/toolkit";
 * const { liveBuffers, liveBytes, peakBytes } = selectBackend("cpu").memory();
 * console.log(liveBuffers, liveBytes, peakBytes);
 * ```
 */
export interface MemoryInfo {
  /** Storages allocated and not yet freed. */
  liveBuffers: number;
  /** Bytes held by live storages. */
  liveBytes: number;
  /** Highest `liveBytes` seen since creation or the last `resetPeak`. */
  peakBytes: number;
  /** Bytes of freed blocks kept for reuse by a caching allocator (where the backend has one). */
  cachedBytes?: number;
  /** Allocations served by new memory (caching allocator only). */
  freshAllocations?: number;
  /** Allocations served from the cache (caching allocator only). */
  reusedAllocations?: number;
}

/**
 * The device abstraction. CPU and CUDA implement the same methods.
 *
 * @example
 * ```ts
 * import { selectBackend } from "@facgcnn/toolkit";
 * const backend = selectBackend("cpu");
 * const s = backend.upload(new Float32Array([1, 2, 3]));
 * console.log(backend.download(s)); // Float32Array [1, 2, 3]
 * backend.free(s);
 * ```
 */
export interface Backend {
  /** Backend kind: "cpu" or "cuda". */
  readonly name: "cpu" | "cuda";
  /**
   * Inference (eval mode, no gradient) on this backend runs a batch in sub-batches of crystals
   * whose `[k·E, 2A]` float32 pre-activation stays under this many bytes, so that it stays in
   * the cache between the kernels that write and read it (the CPU: 4 MiB). Absent: whole
   * batches (a GPU streams such arrays from its memory at full speed).
   */
  readonly inferenceChunkBytes?: number;
  /** What the backend is and uses. */
  info(): BackendInfo;
  /** Live storage accounting. */
  memory(): MemoryInfo;
  /** Resets `peakBytes` to the current `liveBytes`. */
  resetPeak(): void;

  // --- storage -------------------------------------------------------------------------
  /**
   * New storage of `length` elements, zero-filled unless `zeroed` is false (then its contents
   * are unspecified: for outputs a kernel overwrites entirely, so a reused block is not
   * cleared for nothing). A backend may always zero.
   */
  alloc(dtype: DType, length: number, zeroed?: boolean): Storage;
  /** Releases storage; using it afterwards is an error. Freeing twice is a no-op. */
  free(storage: Storage): void;
  /** Copies host data into new storage. */
  upload(data: Float32Array | Int32Array): Storage;
  /**
   * Copies the arrays of one batch into new storages, in order. The CUDA backend packs them
   * into one pinned staging buffer and makes one asynchronous host→device copy (the caller may
   * reuse the arrays at once); the CPU backend copies each.
   */
  uploadBatch(parts: readonly BatchPart[]): Storage[];
  /** Copies storage to a new host array (waits for pending work on the device). */
  download(storage: Storage): Float32Array | Int32Array;
  /** `dst[dstOffset + i] = src[srcOffset + i]` for i < length. */
  copy(src: Storage, dst: Storage, length: number, srcOffset?: number, dstOffset?: number): void;
  /** Sets every element to `value`. */
  fill(dst: Storage, value: number): void;
  /** Waits until all queued work is done (no-op on the CPU). */
  synchronize(): void;

  // --- dense ---------------------------------------------------------------------------
  /** Row-major single-precision matrix product (see {@linkcode GemmArgs}). */
  gemm(args: GemmArgs): void;

  // --- element-wise (float32) ----------------------------------------------------------
  /** `out = f(x)` over `length` elements. */
  unary(op: UnaryOp, x: Storage, out: Storage, length: number): void;
  /** `dx = dy · f'(x)` (x the input, y = f(x) the saved output; each rule uses what is cheaper). */
  unaryBackward(
    op: UnaryOp,
    x: Storage,
    y: Storage,
    dy: Storage,
    dx: Storage,
    length: number,
  ): void;
  /** `out = a ∘ b` with `a` of shape `[rows, cols]` and `b` broadcast as `broadcast` says. */
  binary(
    op: BinaryOp,
    a: Storage,
    b: Storage,
    out: Storage,
    rows: number,
    cols: number,
    broadcast: Broadcast,
  ): void;
  /** `y = alpha · x + beta · y` over `length` elements (in place on y). */
  axpby(alpha: number, x: Storage, beta: number, y: Storage, length: number): void;
  /** `out = alpha · x + beta` over `length` elements. */
  affine(x: Storage, out: Storage, alpha: number, beta: number, length: number): void;

  // --- column blocks (concat / split along features) -----------------------------------
  /** Copies (or adds) a column block (see {@linkcode CopyColsArgs}). */
  copyCols(args: CopyColsArgs): void;

  // --- graph ---------------------------------------------------------------------------
  /** `out[i, :] = src[index[i], :]` for i < index.length; `cols` features per row. */
  gatherRows(src: Storage, index: Storage, out: Storage, nIndex: number, cols: number): void;
  /** `out[index[i], :] += src[i, :]` (out is not cleared first). */
  scatterAddRows(src: Storage, index: Storage, out: Storage, nIndex: number, cols: number): void;
  /**
   * Segment reduction over contiguous row ranges given by CSR `offsets` (`nSegments + 1`):
   * `out[s, :] = Σ_{r in [offsets[s], offsets[s+1])} src[r, :]`, divided by the segment length
   * when `mean` (an empty segment gives 0).
   */
  segmentReduce(
    src: Storage,
    offsets: Storage,
    out: Storage,
    nSegments: number,
    cols: number,
    mean: boolean,
  ): void;
  /**
   * The adjoint of `segmentReduce`: `out[r, :] = g[s, :]` (÷ segment length when `mean`) for every
   * row r of segment s. `out` has `offsets[nSegments]` rows.
   */
  segmentExpand(
    g: Storage,
    offsets: Storage,
    out: Storage,
    nSegments: number,
    cols: number,
    mean: boolean,
  ): void;

  /** Gaussian expansion of distances into a column block (see {@linkcode GaussianArgs}). */
  gaussianExpand(args: GaussianArgs): void;
  /** Per-segment frame transform of 3-vectors (see {@linkcode FrameApplyArgs}). */
  applyFrames(args: FrameApplyArgs): void;
  /** Frame bases, centred positions and per-copy matrices of a batch (see {@linkcode FrameBuildArgs}). */
  buildFrames(args: FrameBuildArgs): void;

  // --- reductions ----------------------------------------------------------------------
  /** `out[j] = Σ_r x[r, j]` (column sums of `[rows, cols]`), `out` has `cols` elements. */
  sumRows(x: Storage, out: Storage, rows: number, cols: number): void;
  /** `out[0] = Σ x` over `length` elements. */
  sumAll(x: Storage, out: Storage, length: number): void;

  // --- fused CGCNN ops -----------------------------------------------------------------
  /**
   * CGCNN gate on the two halves of z = [f | c] (`[rows, 2·cols]`):
   * `out[r, j] = sigmoid(z[r, j]) · softplus(z[r, cols + j])`, `out` is `[rows, cols]`.
   */
  gate(z: Storage, out: Storage, rows: number, cols: number): void;
  /** Backward of `gate`: writes `dz` (`[rows, 2·cols]`, overwriting) from `dOut` (`[rows, cols]`). */
  gateBackward(z: Storage, dOut: Storage, dz: Storage, rows: number, cols: number): void;
  /** Column mean and biased variance of `[rows, cols]` (`mean`, `variance` have `cols`). */
  columnMoments(x: Storage, mean: Storage, variance: Storage, rows: number, cols: number): void;
  /** BatchNorm with given statistics (see {@linkcode BatchNormArgs}). */
  batchNormForward(args: BatchNormArgs): void;
  /** Backward of `batchNormForward` (see {@linkcode BatchNormBackwardArgs}). */
  batchNormBackward(args: BatchNormBackwardArgs): void;
  /**
   * Fused edge pre-activation and BN1 statistics (see {@linkcode EdgeCombineArgs}). Optional:
   * a backend without the fused edge kernels leaves the three methods out, and the model then
   * composes the same maths from `segmentExpand`, `gatherRows`, `binary`, `batchNormForward`
   * and `gate` (lib/models/cgcnn.ts).
   */
  edgeCombine?(args: EdgeCombineArgs): void;
  /**
   * Backward of `edgeCombine` for the atom rows and the bias in one pass over dz (see
   * {@linkcode EdgeCombineBackwardArgs}). Optional: without it the autograd rule runs
   * `segmentReduce`, `scatterAddRows` and `sumRows`, the same maths in three passes.
   */
  edgeCombineBackward?(args: EdgeCombineBackwardArgs): void;
  /** Fused BN1 → gate → neighbour sum (see {@linkcode GateSumArgs}); optional with `edgeCombine`. */
  gateSum?(args: GateSumArgs): void;
  /** Backward of `gateSum` (see {@linkcode GateSumBackwardArgs}); optional with `edgeCombine`. */
  gateSumBackward?(args: GateSumBackwardArgs): void;

  /**
   * The CGCNN edge term with the Gaussian features formed inside the kernel (see
   * {@linkcode EdgeGemmArgs}). Optional: without it, lib/tensor/ops.ts expands the features
   * (`gaussianExpand`, `copyCols`) and calls `gemm`.
   */
  edgeGemm?(args: EdgeGemmArgs): void;
  /** Its weight gradient (see {@linkcode EdgeGemmWeightGradArgs}); optional with `edgeGemm`. */
  edgeGemmWeightGrad?(args: EdgeGemmWeightGradArgs): void;

  // --- optimizers (one fused launch per parameter) ---------------------------------------
  /** Schedule-Free AdamW on one parameter `y` (in place) with state `z`, `v` and gradient `g`. */
  scheduleFreeAdamWStep(
    y: Storage,
    z: Storage,
    v: Storage,
    g: Storage,
    length: number,
    s: ScheduleFreeScalars,
  ): void;
  /** AdamW on one parameter `p` (in place) with moments `m`, `v`. */
  adamWStep(
    p: Storage,
    m: Storage,
    v: Storage,
    g: Storage,
    length: number,
    s: AdamWScalars,
  ): void;
  /** SGD with momentum on one parameter `p` (in place) with buffer `buf`. */
  sgdStep(p: Storage, buf: Storage, g: Storage, length: number, s: SgdScalars): void;
}
