/**
 * The CUDA backend: `Backend` on one NVIDIA GPU through `Deno.dlopen` bindings to cudart,
 * cuBLAS and the helper `libfacgcnn_kernels.so` (cuSPARSE optional, for `FACGCNN_SCATTER=spmm`).
 *
 * Storage, copies and GEMM are in {@linkcode CudaDevice} (cuda_device.ts); this file maps each
 * remaining `Backend` op to one helper launch. Everything is enqueued on one stream; every
 * call checks its status and throws `Error("CUDA <op>: <error string>")`.
 * @module
 */

import type {
  AdamWScalars,
  Backend,
  BatchNormArgs,
  BatchNormBackwardArgs,
  BinaryOp,
  Broadcast,
  CopyColsArgs,
  FrameApplyArgs,
  FrameBuildArgs,
  GaussianArgs,
  ScheduleFreeScalars,
  SgdScalars,
  Storage,
  UnaryOp,
} from "../backend.ts";
import { type CudaBackendOptions, CudaDevice, type ScatterPlan } from "./cuda_device.ts";
import { checkIndices, checkOffsets } from "../cpu/graph_kernels.ts";
import { openCudaLibraries } from "./cuda_context.ts";
import { cudaDeviceSetting, flag } from "../../util/settings.ts";
import { CudaSparse } from "./cuda_sparse.ts";
import { FaBinaryOp, FaBroadcast, FaUnaryOp } from "./ffi/kernels.ts";

export type { CudaBackendOptions } from "./cuda_device.ts";

/** `kind` codes of `fa_crystal_frames_f64` (native/cuda/frames3.cuh). */
const FRAME_KINDS: Record<string, number> = { pca: 0, lattice: 1, hybrid: 2 };

/** `Backend` on one CUDA device. Create with {@linkcode createCudaBackend}. */
export class CudaBackend extends CudaDevice implements Backend {
  /** This backend (storages point back to it). */
  protected get asBackend(): Backend {
    return this;
  }

  #ones: Storage | null = null;

  // --- element-wise ----------------------------------------------------------------------

  unary(op: UnaryOp, x: Storage, out: Storage, length: number): void {
    const name = `unary ${op}`;
    const [px, po] = this.fp(name, [x, length], [out, length]);
    this.run(name, this.k.fa_unary_f32(FaUnaryOp[op], px, po, length, this.cuStream));
  }

  unaryBackward(
    op: UnaryOp,
    x: Storage,
    y: Storage,
    dy: Storage,
    dx: Storage,
    length: number,
  ): void {
    const name = `unaryBackward ${op}`, n = length;
    const [px, py, pdy, pdx] = this.fp(name, [x, n], [y, n], [dy, n], [dx, n]);
    this.run(
      name,
      this.k.fa_unary_backward_f32(FaUnaryOp[op], px, py, pdy, pdx, n, this.cuStream),
    );
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
    const name = `binary ${op}/${broadcast}`, n = rows * cols;
    const bn = broadcast === "none"
      ? n
      : broadcast === "row"
      ? cols
      : broadcast === "col"
      ? rows
      : 1;
    const [pa, pb, po] = this.fp(name, [a, n], [b, bn], [out, n]);
    const code = FaBinaryOp[op], bc = FaBroadcast[broadcast];
    this.run(name, this.k.fa_binary_f32(code, pa, pb, po, rows, cols, bc, this.cuStream));
  }

  axpby(alpha: number, x: Storage, beta: number, y: Storage, length: number): void {
    const [px, py] = this.fp("axpby", [x, length], [y, length]);
    this.run("axpby", this.k.fa_axpby_f32(alpha, px, beta, py, length, this.cuStream));
  }

  affine(x: Storage, out: Storage, alpha: number, beta: number, length: number): void {
    const [px, po] = this.fp("affine", [x, length], [out, length]);
    this.run("affine", this.k.fa_affine_f32(px, po, alpha, beta, length, this.cuStream));
  }

  copyCols(c: CopyColsArgs): void {
    const { rows, cols } = c;
    if (c.srcCol + cols > c.srcLd || c.dstCol + cols > c.dstLd) {
      throw new RangeError("CUDA copyCols: column block exceeds the row stride");
    }
    const need = (ld: number, col: number) => rows === 0 ? 0 : (rows - 1) * ld + col + cols;
    const [ps, pd] = this.fp(
      "copyCols",
      [c.src, need(c.srcLd, c.srcCol)],
      [c.dst, need(c.dstLd, c.dstCol)],
    );
    const shape = [rows, cols, c.accumulate ? 1 : 0] as const;
    this.run(
      "copyCols",
      this.k.fa_copy_cols_f32(
        ps,
        c.srcLd,
        c.srcCol,
        pd,
        c.dstLd,
        c.dstCol,
        ...shape,
        this.cuStream,
      ),
    );
  }

  // --- graph -----------------------------------------------------------------------------

  gatherRows(src: Storage, index: Storage, out: Storage, nIndex: number, cols: number): void {
    const op = "gatherRows";
    const [ps, po] = this.fp(op, [src, 0], [out, nIndex * cols]), pi = this.i(index, nIndex, op);
    if (this.checkMode) this.#checkIndex(op, index, nIndex, cols > 0 ? src.length / cols : 0);
    this.run(op, this.k.fa_gather_rows_f32(ps, pi, po, nIndex, cols, this.cuStream));
  }

  /**
   * `out[index[i], :] += src[i, :]`. An index uploaded with `scatterRows` (the neighbour index
   * of a batch) carries a plan, and with `FACGCNN_SCATTER=csr` the sum per destination row runs
   * in a fixed order (the helper's segment kernel), with `spmm` as a cuSPARSE product with the
   * plan as a 0/1 CSR matrix; `atomic` (the default, see `scatterSetting`), and any index
   * without a plan, use atomic adds (the float sum order changes from run to run).
   */
  scatterAddRows(src: Storage, index: Storage, out: Storage, nIndex: number, cols: number): void {
    const op = "scatterAddRows";
    const [ps, po] = this.fp(op, [src, nIndex * cols], [out, 0]), pi = this.i(index, nIndex, op);
    const plan = this.planOf(index);
    if (this.checkMode) this.#checkIndex(op, index, nIndex, cols > 0 ? out.length / cols : 0);
    if (plan && plan.perm.length === nIndex && plan.nDst * cols <= out.length) {
      if (this.scatter === "csr") {
        const pp = this.i(plan.perm, nIndex, op), pf = this.i(plan.offsets, plan.nDst + 1, op);
        const n = plan.nDst;
        return this.run(
          op,
          this.k.fa_scatter_add_rows_csr_f32(ps, pp, pf, po, n, cols, this.cuStream),
        );
      }
      if (this.scatter === "spmm") return this.#scatterSpmm(src, plan, out, nIndex, cols);
    }
    this.run(op, this.k.fa_scatter_add_rows_atomic_f32(ps, pi, po, nIndex, cols, this.cuStream));
  }

  /** `out[nDst, cols] += P · src` with P the plan as a CSR matrix of ones (cuSPARSE SpMM). */
  #scatterSpmm(src: Storage, plan: ScatterPlan, out: Storage, n: number, cols: number): void {
    const op = "scatterAddRows";
    if (!this.sparse) {
      const lib = this.libs.cusparse;
      if (!lib) {
        throw new Error(
          `CUDA ${op}: FACGCNN_SCATTER=spmm, cuSPARSE unavailable: ${this.libs.cusparseError}`,
        );
      }
      this.sparse = new CudaSparse(lib, this.cuStream, (f) => this.workspace(BigInt(f)));
    }
    if (!this.#ones || this.#ones.length < n) {
      if (this.#ones) this.free(this.#ones);
      this.#ones = this.alloc("float32", n);
      this.fill(this.#ones, 1);
    }
    const [pa, pb, pc] = this.fp(op, [this.#ones, n], [src, n * cols], [out, plan.nDst * cols]);
    const pr = this.i(plan.offsets, plan.nDst + 1, op), pi = this.i(plan.perm, n, op);
    this.sparse.spmm(pr, pi, pa, n, plan.nDst, n, pb, pc, cols, 1);
    if (this.checkMode) this.synchronize();
  }

  /** Debug mode: the index checked on the host before a kernel trusts it. */
  #checkIndex(op: string, index: Storage, n: number, rows: number): void {
    checkIndices(op, this.download(index) as Int32Array, n, rows);
  }

  /** Debug mode: CSR offsets checked on the host before a kernel trusts them. */
  #checkOffsets(op: string, offsets: Storage, n: number, rows: number): void {
    checkOffsets(op, this.download(offsets) as Int32Array, n, rows);
  }

  segmentReduce(
    src: Storage,
    offsets: Storage,
    out: Storage,
    nSegments: number,
    cols: number,
    mean: boolean,
  ): void {
    const op = "segmentReduce", n = nSegments;
    const [ps, po] = this.fp(op, [src, 0], [out, n * cols]), pf = this.i(offsets, n + 1, op);
    if (this.checkMode) this.#checkOffsets(op, offsets, n, cols > 0 ? src.length / cols : 0);
    const m = mean ? 1 : 0;
    this.run(op, this.k.fa_segment_reduce_f32(ps, pf, po, n, cols, m, this.cuStream));
  }

  segmentExpand(
    g: Storage,
    offsets: Storage,
    out: Storage,
    nSegments: number,
    cols: number,
    mean: boolean,
  ): void {
    const op = "segmentExpand", n = nSegments;
    const [pg, po] = this.fp(op, [g, n * cols], [out, 0]), pf = this.i(offsets, n + 1, op);
    if (this.checkMode) this.#checkOffsets(op, offsets, n, cols > 0 ? out.length / cols : 0);
    const m = mean ? 1 : 0;
    this.run(op, this.k.fa_segment_expand_f32(pg, pf, po, n, cols, m, this.cuStream));
  }

  // --- reductions ------------------------------------------------------------------------

  sumRows(x: Storage, out: Storage, rows: number, cols: number): void {
    const [px, po] = this.fp("sumRows", [x, rows * cols], [out, cols]);
    const ws = this.columnWorkspace(rows, cols);
    this.run("sumRows", this.k.fa_sum_rows_f32(px, po, rows, cols, ws, this.cuStream));
  }

  sumAll(x: Storage, out: Storage, length: number): void {
    const [px, po] = this.fp("sumAll", [x, length], [out, 1]);
    const ws = this.workspace(this.k.fa_sum_all_workspace_floats(length));
    this.run("sumAll", this.k.fa_sum_all_f32(px, po, length, ws, this.cuStream));
  }

  // --- fused CGCNN ops -------------------------------------------------------------------

  gate(z: Storage, out: Storage, rows: number, cols: number): void {
    const n = rows * cols;
    const [pz, po] = this.fp("gate", [z, 2 * n], [out, n]);
    this.run("gate", this.k.fa_gate_f32(pz, po, rows, cols, this.cuStream));
  }

  gateBackward(z: Storage, dOut: Storage, dz: Storage, rows: number, cols: number): void {
    const op = "gateBackward", n = rows * cols;
    const [pz, pd, pdz] = this.fp(op, [z, 2 * n], [dOut, n], [dz, 2 * n]);
    this.run(op, this.k.fa_gate_backward_f32(pz, pd, pdz, rows, cols, this.cuStream));
  }

  columnMoments(x: Storage, mean: Storage, variance: Storage, rows: number, cols: number): void {
    const op = "columnMoments";
    const [px, pm, pv] = this.fp(op, [x, rows * cols], [mean, cols], [variance, cols]);
    const ws = this.columnWorkspace(rows, cols);
    this.run(op, this.k.fa_column_moments_f32(px, pm, pv, rows, cols, ws, this.cuStream));
  }

  batchNormForward(a: BatchNormArgs): void {
    const op = "batchNormForward", n = a.rows * a.cols, c = a.cols;
    const [px, pm, pv, pg, pb, po] = this.fp(
      op,
      ...[[a.x, n], [a.mean, c], [a.variance, c], [a.gamma, c], [a.beta, c], [a.out, n]] as const,
    );
    const rest = [a.rows, a.cols, a.eps, this.cuStream] as const;
    this.run(op, this.k.fa_batchnorm_forward_f32(px, pm, pv, pg, pb, po, ...rest));
  }

  batchNormBackward(a: BatchNormBackwardArgs): void {
    const op = "batchNormBackward", n = a.rows * a.cols, c = a.cols;
    const ptrs = this.fp(
      op,
      ...[[a.x, n], [a.dy, n], [a.mean, c], [a.variance, c], [a.gamma, c]] as const,
      ...[[a.dx, n], [a.dGamma, c], [a.dBeta, c]] as const,
    );
    const [px, pdy, pm, pv, pg, pdx, pdg, pdb] = ptrs;
    const ws = this.columnWorkspace(a.rows, a.cols), bs = a.batchStatistics ? 1 : 0;
    this.run(
      op,
      this.k.fa_batchnorm_backward_f32(
        ...[px, pdy, pm, pv, pg, pdx, pdg, pdb] as const,
        ...[a.rows, a.cols, a.eps, bs, ws, this.cuStream] as const,
      ),
    );
  }

  // --- optimizers ------------------------------------------------------------------------

  scheduleFreeAdamWStep(
    y: Storage,
    z: Storage,
    v: Storage,
    g: Storage,
    length: number,
    s: ScheduleFreeScalars,
  ): void {
    const op = "scheduleFreeAdamWStep", n = length;
    const [py, pz, pv, pg] = this.fp(op, [y, n], [z, n], [v, n], [g, n]);
    const k = [s.lr, s.beta1, s.beta2, s.biasCorrection2, s.eps, s.weightDecay, s.ckp1] as const;
    this.run(op, this.k.fa_schedule_free_adamw_f32(py, pz, pv, pg, n, ...k, this.cuStream));
  }

  adamWStep(
    p: Storage,
    m: Storage,
    v: Storage,
    g: Storage,
    length: number,
    s: AdamWScalars,
  ): void {
    const op = "adamWStep", n = length;
    const [pp, pm, pv, pg] = this.fp(op, [p, n], [m, n], [v, n], [g, n]);
    const k = [s.lr, s.beta1, s.beta2, s.eps, s.weightDecay] as const;
    const bc = [s.biasCorrection1, s.biasCorrection2] as const;
    this.run(op, this.k.fa_adamw_f32(pp, pm, pv, pg, n, ...k, ...bc, this.cuStream));
  }

  sgdStep(p: Storage, buf: Storage, g: Storage, length: number, s: SgdScalars): void {
    const op = "sgdStep", n = length;
    const [pp, pb, pg] = this.fp(op, [p, n], [buf, n], [g, n]);
    const k = [s.lr, s.momentum, s.weightDecay, s.firstStep ? 1 : 0] as const;
    this.run(op, this.k.fa_sgd_f32(pp, pb, pg, n, ...k, this.cuStream));
  }

  // --- frames, featurisation, sparse (the last three beyond the Backend interface) --------

  symmetricEigen3(matrices: Storage, values: Storage, vectors: Storage, count: number): void {
    const op = "symmetricEigen3", n = count;
    const [pm, pw, pv] = this.fp(op, [matrices, 9 * n], [values, 3 * n], [vectors, 9 * n]);
    this.run(op, this.k.fa_symmetric_eigen3_f32(pm, pw, pv, n, this.cuStream));
  }

  /**
   * PCA frames of `nCrystals` crystals from `positions [atoms,3]` split by CSR `offsets [n+1]`:
   * `centres [n,3]`, `covariance [n,9]` (Σ (x−t)(x−t)ᵀ), ascending `values [n,3]` and
   * `vectors [n,9]` (columns, canonical signs, as `symmetricEigen3`).
   */
  pcaFrames(
    positions: Storage,
    offsets: Storage,
    centres: Storage,
    covariance: Storage,
    values: Storage,
    vectors: Storage,
    nCrystals: number,
  ): void {
    const op = "pcaFrames", n = nCrystals;
    const [px, pt, pc, pw, pv] = this.fp(
      op,
      [positions, 0],
      [centres, 3 * n],
      [covariance, 9 * n],
      [values, 3 * n],
      [vectors, 9 * n],
    );
    const pf = this.i(offsets, n + 1, op);
    this.run(op, this.k.fa_pca_frames_f32(px, pf, pt, pc, pw, pv, n, this.cuStream));
  }

  /**
   * Frame coordinates `out[r] = (v[r] − centre[c]) U_c S_f` for the rows of crystal c
   * (`[rows,3]`, CSR `offsets`); `centres` null for relative vectors; `frameIndex[c]` in 0..7
   * picks the signs (bit k set: column k negated), null for frame 0 (all +).
   */
  frameApply(
    v: Storage,
    offsets: Storage,
    centres: Storage | null,
    vectors: Storage,
    frameIndex: Storage | null,
    out: Storage,
    nCrystals: number,
  ): void {
    const op = "frameApply", n = nCrystals;
    const [pv, pu, po] = this.fp(op, [v, 0], [vectors, 9 * n], [out, 0]);
    const pt = centres ? this.f(centres, 3 * n, op) : null;
    const pf = this.i(offsets, n + 1, op), pk = frameIndex ? this.i(frameIndex, n, op) : null;
    this.run(op, this.k.fa_frame_apply_f32(pv, pf, pt, pu, pk, po, n, this.cuStream));
  }

  /**
   * The Backend contract's frames of a batch, one thread per crystal (native/cuda/frames3.cuh,
   * compiled without FMA contraction so it returns lib/frames' bits); the degenerate count is
   * added on the device, nothing is read back.
   */
  buildFrames(a: FrameBuildArgs): void {
    const op = "buildFrames", C = a.segments, k = a.copies, N = a.rows;
    if (!(a.gapTolerance >= 0) || !(a.scale === "rms" || a.scale > 0)) {
      throw new RangeError(`CUDA ${op}: bad gap tolerance or coordinate unit`);
    }
    if (a.kind !== "pca" && !a.lattices) {
      throw new RangeError(`CUDA ${op}: kind "${a.kind}" needs [C, 9] float64 lattices`);
    }
    const px = this.i(a.positions, 6 * N, op), pr = this.i(a.atomRanges, C + 1, op);
    const pp = this.i(a.patterns, k * C, op);
    const pl = a.kind !== "pca" ? this.i(a.lattices!, 18 * C, op) : null;
    const [pc, pa, pe] = this.fp(
      op,
      [a.centred, 3 * N],
      [a.atomMatrices, 9 * k * C],
      [a.edgeMatrices, 9 * k * C],
    );
    const pd = a.degenerate ? this.i(a.degenerate, 1, op) : null;
    // Check mode: the kernel reads rows atomRanges[c] .. atomRanges[c+1] unchecked.
    if (this.checkMode) this.#checkOffsets(op, a.atomRanges, C, N);
    const kind = FRAME_KINDS[a.kind], unit = a.scale === "rms" ? 0 : a.scale;
    if (kind === undefined) throw new TypeError(`CUDA ${op}: unknown frame kind ${a.kind}`);
    const job = [kind, a.gapTolerance, unit, a.node ? 1 : 0, k, C] as const;
    this.run(
      op,
      this.k.fa_crystal_frames_f64(px, pr, pl, pp, ...job, pc, pa, pe, pd, this.cuStream),
    );
  }

  /** The Backend contract's frame transform, on the `frameApply` kernel (no sign index). */
  applyFrames(a: FrameApplyArgs): void {
    const op = "applyFrames", n = a.segments, mo = a.matrixOffset ?? 0, oo = a.outOffset ?? 0;
    const pv = this.f(a.src, 3 * a.rows, op), pm = this.f(a.matrices, mo + 9 * n, op);
    const po = this.f(a.out, oo + 3 * a.rows, op);
    const pt = a.centres ? this.f(a.centres, 3 * n, op) : null, pf = this.i(a.offsets, n + 1, op);
    const at = (p: Deno.PointerValue, o: number) =>
      o === 0 || p === null ? p : Deno.UnsafePointer.offset(p, o * 4);
    this.run(
      op,
      this.k.fa_frame_apply_f32(pv, pf, pt, at(pm, mo), null, at(po, oo), n, this.cuStream),
    );
  }

  gaussianExpand(g: GaussianArgs): void {
    const op = "gaussianExpand", off = (g.outOffset ?? 0) + g.col;
    if (g.col + g.centres > g.ld) {
      throw new RangeError(
        `CUDA ${op}: ${g.centres} centres from column ${g.col} exceed ld ${g.ld}`,
      );
    }
    const need = g.rows === 0 ? 0 : off + (g.rows - 1) * g.ld + g.centres;
    const pd = this.f(g.distances, g.rows, op), po = this.f(g.out, need, op);
    const out = off === 0 || po === null ? po : Deno.UnsafePointer.offset(po, off * 4);
    const shape = [g.rows, g.centres, g.ld, g.start, g.step, g.sigma] as const;
    this.run(op, this.k.fa_gaussian_expand_f32(pd, out, ...shape, this.cuStream));
  }
}

/**
 * Opens the CUDA libraries and creates a backend on one device.
 * @throws Error naming the missing piece (library not found with the paths tried, no device, …).
 */
export function createCudaBackend(options: CudaBackendOptions = {}): CudaBackend {
  const tf32 = options.tf32 ?? flag("tf32");
  const device = options.device ?? cudaDeviceSetting();
  const check = options.check ?? flag("check");
  return new CudaBackend(openCudaLibraries(device), { tf32, device, check });
}
