/**
 * The record of how a tensor was computed: what backpropagation walks.
 * One variant per differentiable operation (candle's `Op` enum).
 * @module
 */

import type { BinaryOp, Broadcast, UnaryOp } from "../backend/backend.ts";
import type { EdgeSource } from "./edge_source.ts";
import type { Tensor } from "./tensor.ts";

/** A recorded operation and the inputs its backward rule needs. */
export type Op =
  | { kind: "matmul"; a: Tensor; b: Tensor; transA: boolean; transB: boolean }
  | {
    kind: "linear";
    /** `[rows, k]` input. */
    x: Tensor;
    /** `[out, in]` weight; the op uses columns `inputOffset .. inputOffset + k`. */
    weight: Tensor;
    bias: Tensor | null;
    inputOffset: number;
  }
  | { kind: "binary"; op: BinaryOp; a: Tensor; b: Tensor; broadcast: Broadcast }
  | { kind: "unary"; op: UnaryOp; x: Tensor }
  | { kind: "affine"; x: Tensor; alpha: number }
  | { kind: "concatCols"; parts: Tensor[] }
  | { kind: "sliceCols"; x: Tensor; start: number }
  | { kind: "gatherRows"; x: Tensor; index: Tensor }
  | { kind: "scatterAddRows"; x: Tensor; index: Tensor }
  | { kind: "segmentReduce"; x: Tensor; offsets: Tensor; mean: boolean }
  | { kind: "segmentExpand"; x: Tensor; offsets: Tensor; mean: boolean }
  | { kind: "sumRows"; x: Tensor }
  | { kind: "sumAll"; x: Tensor }
  | { kind: "gate"; z: Tensor }
  | {
    kind: "batchNorm";
    x: Tensor;
    gamma: Tensor;
    beta: Tensor;
    /** Statistics used in the forward pass (batch or running), `[cols]`. */
    mean: Tensor;
    variance: Tensor;
    eps: number;
    batchStatistics: boolean;
    /**
     * Data-parallel SyncBN: sums a float64 buffer over all processes in place; the backward
     * then uses the global batch sums (see `syncBatchNormBackward`).
     */
    sync?: (buf: Float64Array) => void;
  }
  | { kind: "mseLoss"; pred: Tensor; target: Tensor }
  | {
    kind: "edgeCombine";
    /** `[atoms, cols]` centre-atom term. */
    self: Tensor;
    /** `[atoms, cols]` neighbour term. */
    other: Tensor;
    /** `[edges, k]` edge features, or their distances (no gradient flows to a source). */
    x: Tensor | EdgeSource;
    /** `[cols, in]` weight; the op uses columns `inputOffset .. inputOffset + k`. */
    weight: Tensor;
    bias: Tensor;
    inputOffset: number;
    offsets: Tensor;
    neighbors: Tensor;
  }
  | {
    kind: "gateSum";
    /** `[edges, 2A]` pre-activation. */
    z: Tensor;
    gamma: Tensor;
    beta: Tensor;
    mean: Tensor;
    variance: Tensor;
    eps: number;
    batchStatistics: boolean;
    offsets: Tensor;
  };

/** The tensors an op's gradient flows to (indices and statistics excluded). */
export function opInputs(op: Op): Tensor[] {
  switch (op.kind) {
    case "matmul":
    case "binary":
      return [op.a, op.b];
    case "linear":
      return op.bias ? [op.x, op.weight, op.bias] : [op.x, op.weight];
    case "unary":
    case "affine":
    case "sliceCols":
    case "gatherRows":
    case "scatterAddRows":
    case "segmentReduce":
    case "segmentExpand":
    case "sumRows":
    case "sumAll":
      return [op.x];
    case "concatCols":
      return op.parts;
    case "gate":
      return [op.z];
    case "batchNorm":
      return [op.x, op.gamma, op.beta];
    case "mseLoss":
      return [op.pred];
    case "edgeCombine":
      return "distances" in op.x
        ? [op.self, op.other, op.weight, op.bias]
        : [op.self, op.other, op.x, op.weight, op.bias];
    case "gateSum":
      return [op.z, op.gamma, op.beta];
  }
}
