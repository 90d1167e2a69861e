/**
 * The CPU backend's kernels as one table, chosen once when the backend is created: the
 * TypeScript kernels, or the native C kernels (native/cpu/facgcnn_cpu.c) where they exist with
 * the TypeScript ones filling the gaps. The backend then calls `this.kernels.gate(…)` and never
 * asks again which implementation runs.
 * @module
 */

import type {
  BatchNormArgs,
  BatchNormBackwardArgs,
  BinaryOp,
  Broadcast,
  UnaryOp,
} from "../backend.ts";
import {
  binaryKernel,
  gateBackwardKernel,
  gateKernel,
  unaryBackwardKernel,
  unaryKernel,
} from "./elementwise.ts";
import {
  checkIndices,
  checkOffsets,
  gatherRowsKernel,
  scatterAddRowsKernel,
  segmentExpandKernel,
  segmentReduceKernel,
  sumRowsKernel,
} from "./graph_kernels.ts";
import {
  batchNormBackwardKernel,
  batchNormForwardKernel,
  columnMomentsKernel,
} from "./batch_norm.ts";
import type { CpuKernels, EdgeBackwardKernels, EdgeGemmKernels } from "./native_kernels.ts";
import {
  checkEdgeGraph,
  type EdgeCombineBackwardHost,
  edgeCombineBackwardKernel,
  type EdgeCombineHost,
  edgeCombineKernel,
  type GateSumBackwardHost,
  gateSumBackwardKernel,
  type GateSumHost,
  gateSumKernel,
} from "./edge_kernels.ts";
import {
  checkEdgeSource,
  type EdgeGemmHost,
  edgeGemmKernel,
  type EdgeGemmWeightGradHost,
  edgeGemmWeightGradKernel,
} from "./edge_gemm.ts";

type F = Float32Array;
type I = Int32Array;

/** Host kernels of the ops that have a native implementation. */
export interface CpuKernelTable {
  /** True for the native table. */
  readonly native: boolean;
  /** `out = f(x)`. */
  unary(op: UnaryOp, x: F, out: F, n: number): void;
  /** `dx = dy · f'(x)`. */
  unaryBackward(op: UnaryOp, x: F, y: F, dy: F, dx: F, n: number): void;
  /** `out = a ∘ b` (b broadcast). */
  binary(op: BinaryOp, a: F, b: F, out: F, rows: number, cols: number, bc: Broadcast): void;
  /** `out[i] = src[index[i]]` (rows of `cols`). */
  gatherRows(src: F, index: I, out: F, n: number, cols: number): void;
  /** `out[index[i]] += src[i]`. */
  scatterAddRows(src: F, index: I, out: F, n: number, cols: number): void;
  /** Segment sum or mean over CSR offsets. */
  segmentReduce(src: F, offsets: I, out: F, nSeg: number, cols: number, mean: boolean): void;
  /** Adjoint of `segmentReduce`. */
  segmentExpand(g: F, offsets: I, out: F, nSeg: number, cols: number, mean: boolean): void;
  /** CGCNN gate. */
  gate(z: F, out: F, rows: number, cols: number): void;
  /** Backward of the gate. */
  gateBackward(z: F, dOut: F, dz: F, rows: number, cols: number): void;
  /** Column mean and biased variance. */
  columnMoments(x: F, mean: F, variance: F, rows: number, cols: number): void;
  /** BatchNorm with given statistics. */
  batchNormForward(a: BatchNormArgs<F>): void;
  /** Its backward. */
  batchNormBackward(a: BatchNormBackwardArgs<F>): void;
  /** Column sums of `[rows, cols]`. */
  sumRows(x: F, out: F, rows: number, cols: number): void;
  /** Fused edge pre-activation (+ BN1 statistics). */
  edgeCombine(a: EdgeCombineHost): void;
  /** Its backward for the atom rows and the bias, one pass over dz. */
  edgeCombineBackward(a: EdgeCombineBackwardHost): void;
  /** Fused BN1 → gate → neighbour sum. */
  gateSum(a: GateSumHost): void;
  /** Its backward. */
  gateSumBackward(a: GateSumBackwardHost): void;
  /** The edge term from distances (Gaussians formed in the kernel). */
  edgeGemm(a: EdgeGemmHost): void;
  /** Its weight gradient. */
  edgeGemmWeightGrad(a: EdgeGemmWeightGradHost): void;
}

/** The TypeScript kernels (the reference, and the fallback without a C compiler). */
export const TS_KERNELS: CpuKernelTable = {
  native: false,
  unary: unaryKernel,
  unaryBackward: unaryBackwardKernel,
  binary: binaryKernel,
  gatherRows: gatherRowsKernel,
  scatterAddRows: scatterAddRowsKernel,
  segmentReduce: segmentReduceKernel,
  segmentExpand: segmentExpandKernel,
  gate: gateKernel,
  gateBackward: gateBackwardKernel,
  columnMoments: columnMomentsKernel,
  batchNormForward: batchNormForwardKernel,
  batchNormBackward: batchNormBackwardKernel,
  sumRows: sumRowsKernel,
  edgeCombine: edgeCombineKernel,
  edgeCombineBackward: edgeCombineBackwardKernel,
  gateSum: gateSumKernel,
  gateSumBackward: gateSumBackwardKernel,
  edgeGemm: edgeGemmKernel,
  edgeGemmWeightGrad: edgeGemmWeightGradKernel,
};

/** Gaussian centres the C edge-term kernels take (`MAX_CENTRES` in native/cpu/edge_gemm.c). */
const NATIVE_EDGE_CENTRES = 1024;
const UNARY_NATIVE: Partial<Record<UnaryOp, number>> = { sigmoid: 0, softplus: 1 };
const BINARY_CODE: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3 };
const BROADCAST_CODE: Record<Broadcast, number> = { none: 0, row: 1, col: 2, scalar: 3 };
const EMPTY = new Float32Array(1);
/** Below this many elements a binary op is cheaper in TypeScript than across the FFI. */
const NATIVE_BINARY_MIN = 4096;

/**
 * The native kernels, with the TypeScript ones where the C library has none (unary ops other
 * than sigmoid/softplus, small binary ops). The C kernels trust their indices, so indices and
 * offsets are checked here first, as the TypeScript kernels do while they run.
 */
export function nativeKernelTable(
  k: CpuKernels,
  eg: EdgeGemmKernels | null = null,
  eb: EdgeBackwardKernels | null = null,
): CpuKernelTable {
  return {
    native: true,
    unary(op, x, out, n) {
      const code = UNARY_NATIVE[op];
      if (code === undefined) return unaryKernel(op, x, out, n);
      k.fc_unary(code, x, out, n);
    },
    unaryBackward(op, x, y, dy, dx, n) {
      const code = UNARY_NATIVE[op];
      if (code === undefined) return unaryBackwardKernel(op, x, y, dy, dx, n);
      k.fc_unary_backward(code, x, y, dy, dx, n);
    },
    binary(op, a, b, out, rows, cols, bc) {
      if (rows * cols < NATIVE_BINARY_MIN) return binaryKernel(op, a, b, out, rows, cols, bc);
      k.fc_binary(BINARY_CODE[op], BROADCAST_CODE[bc], a, b, out, rows, cols);
    },
    gatherRows(src, index, out, n, cols) {
      checkIndices("gatherRows", index, n, cols > 0 ? src.length / cols : Infinity);
      k.fc_gather_rows(src, index, out, n, cols);
    },
    scatterAddRows(src, index, out, n, cols) {
      checkIndices("scatterAddRows", index, n, cols > 0 ? out.length / cols : Infinity);
      k.fc_scatter_add_rows(src, index, out, n, cols);
    },
    segmentReduce(src, offsets, out, nSeg, cols, mean) {
      checkOffsets("segmentReduce", offsets, nSeg, cols > 0 ? src.length / cols : Infinity);
      k.fc_segment_reduce(src, offsets, out, nSeg, cols, mean ? 1 : 0);
    },
    segmentExpand(g, offsets, out, nSeg, cols, mean) {
      checkOffsets("segmentExpand", offsets, nSeg, cols > 0 ? out.length / cols : Infinity);
      k.fc_segment_expand(g, offsets, out, nSeg, cols, mean ? 1 : 0);
    },
    gate: (z, out, rows, cols) => k.fc_gate(z, out, rows, cols),
    gateBackward: (z, dOut, dz, rows, cols) => k.fc_gate_backward(z, dOut, dz, rows, cols),
    columnMoments: (x, m, v, rows, cols) => k.fc_column_moments(x, m, v, rows, cols),
    batchNormForward: (a) =>
      k.fc_batch_norm_forward(
        a.x,
        a.mean,
        a.variance,
        a.gamma,
        a.beta,
        a.out,
        a.rows,
        a.cols,
        a.eps,
      ),
    batchNormBackward: (a) =>
      k.fc_batch_norm_backward(
        ...[a.x, a.dy, a.mean, a.variance, a.gamma, a.dx, a.dGamma, a.dBeta] as const,
        ...[a.rows, a.cols, a.eps, a.batchStatistics ? 1 : 0] as const,
      ),
    sumRows(x, out, rows, cols) {
      if (rows * cols < NATIVE_BINARY_MIN) return sumRowsKernel(x, out, rows, cols);
      k.fc_sum_rows(x, out, rows, cols);
    },
    edgeCombine(a) {
      checkEdgeGraph("edgeCombine", a.offsets, a.atoms, a.edges, a.neighbors);
      const moments = a.mean !== null && a.variance !== null;
      const m = a.mean ?? EMPTY, v = a.variance ?? EMPTY;
      k.fc_edge_combine(
        ...[a.z, a.bias, a.self, a.other, a.offsets, a.neighbors] as const,
        ...[a.atoms, a.cols, moments ? 1 : 0, m, v] as const,
      );
    },
    edgeCombineBackward(a) {
      checkEdgeGraph("edgeCombineBackward", a.offsets, a.atoms, a.edges, a.neighbors);
      if (!eb) {
        // A library built before the one-pass kernel: the same sums in three native passes.
        if (a.dSelf) k.fc_segment_reduce(a.dz, a.offsets, a.dSelf, a.atoms, a.cols, 0);
        if (a.dOther) k.fc_scatter_add_rows(a.dz, a.neighbors, a.dOther, a.edges, a.cols);
        if (a.dBias) k.fc_sum_rows(a.dz, a.dBias, a.edges, a.cols);
        return;
      }
      // null outputs are NULL pointers: the kernel skips them.
      eb.fc_edge_combine_backward(
        ...[a.dz, a.offsets, a.neighbors, a.atoms, a.cols, a.dSelf, a.dOther, a.dBias] as const,
      );
    },
    gateSum(a) {
      checkEdgeGraph("gateSum", a.offsets, a.atoms, a.edges);
      k.fc_gate_sum(
        ...[a.z, a.offsets, a.atoms, a.cols, a.mean, a.variance, a.gamma, a.beta] as const,
        ...[a.eps, a.out] as const,
      );
    },
    gateSumBackward(a) {
      checkEdgeGraph("gateSumBackward", a.offsets, a.atoms, a.edges);
      k.fc_gate_sum_backward(
        ...[a.z, a.offsets, a.atoms, a.cols, a.mean, a.variance, a.gamma, a.beta] as const,
        ...[a.eps, a.dOut, a.dz, a.dGamma, a.dBeta, a.batchStatistics ? 1 : 0] as const,
      );
    },
    edgeGemm(a) {
      if (!eg || a.centres > NATIVE_EDGE_CENTRES) return edgeGemmKernel(a);
      const w = { ld: a.ldw, offset: a.weightOffset, length: a.weight.length };
      checkEdgeSource("edgeGemm", a, a.cols, w);
      if (a.out.length < a.rows * a.cols) {
        throw new RangeError(`edgeGemm: out ${a.out.length} < ${a.rows}×${a.cols}`);
      }
      eg.fc_edge_gemm(
        ...[a.distances, a.period, a.extra ?? EMPTY, a.extraCols, a.rows, a.centres] as const,
        ...[a.start, a.step, 1 / (a.sigma * a.sigma), a.weight, a.ldw, a.weightOffset] as const,
        ...[a.cols, a.out] as const,
      );
    },
    edgeGemmWeightGrad(a) {
      if (!eg || a.centres > NATIVE_EDGE_CENTRES) return edgeGemmWeightGradKernel(a);
      const w = { ld: a.ldw, offset: a.weightOffset, length: a.dWeight.length };
      checkEdgeSource("edgeGemmWeightGrad", a, a.cols, w);
      if (a.dz.length < a.rows * a.cols) {
        throw new RangeError(`edgeGemmWeightGrad: dz ${a.dz.length} < ${a.rows}×${a.cols}`);
      }
      eg.fc_edge_gemm_wgrad(
        ...[a.distances, a.period, a.extra ?? EMPTY, a.extraCols, a.rows, a.centres] as const,
        ...[a.start, a.step, 1 / (a.sigma * a.sigma), a.dz, a.cols, a.dWeight, a.ldw] as const,
        ...[a.weightOffset, a.accumulate ? 1 : 0] as const,
      );
    },
  };
}
