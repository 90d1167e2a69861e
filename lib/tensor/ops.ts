/**
 * Tensor operations: each checks shapes, runs one backend kernel and records an `Op` for
 * backpropagation when an input requires a gradient (and grad mode is on).
 * @module
 */

import type { Backend, BinaryOp, Broadcast, UnaryOp } from "../backend/backend.ts";
import { type EdgeSource, edgeSourceGemm, edgeSourceWidth } from "./edge_source.ts";
import type { Op } from "./op.ts";
import { isGradEnabled } from "./scope.ts";
import { type Shape, shapeSize, Tensor } from "./tensor.ts";

function fmt(t: Tensor): string {
  return `[${t.shape.join(", ")}]`;
}

function sameBackend(name: string, ...ts: Tensor[]): Backend {
  const b = ts[0].backend;
  for (const t of ts) {
    if (t.backend !== b) throw new Error(`${name}: tensors live on different backends`);
    if (t.dtype !== "float32") throw new TypeError(`${name}: expected float32, got ${t.dtype}`);
  }
  return b;
}

function indexTensor(name: string, t: Tensor, backend: Backend): void {
  if (t.dtype !== "int32") throw new TypeError(`${name}: index must be int32, got ${t.dtype}`);
  if (t.backend !== backend) throw new Error(`${name}: index lives on another backend`);
}

/**
 * A new output tensor recording `op`. Its storage is not cleared (the kernel overwrites every
 * element) unless `zeroed` says the kernel accumulates into it.
 */
function output(
  backend: Backend,
  shape: Shape,
  op: Op,
  inputs: Tensor[],
  zeroed = false,
): Tensor {
  const storage = backend.alloc("float32", shapeSize(shape), zeroed);
  const record = isGradEnabled() && inputs.some((t) => t.requiresGrad) ? op : null;
  return new Tensor(backend, storage, shape, { op: record });
}

// --- creation -------------------------------------------------------------------------

/** A tensor holding a copy of `data` (float32 or int32) with `shape` (default `[length]`). */
export function tensor(backend: Backend, data: Float32Array | Int32Array, shape?: Shape): Tensor {
  const s = shape ?? [data.length];
  if (shapeSize(s) !== data.length) {
    throw new RangeError(`${data.length} values do not fill shape [${s.join(", ")}]`);
  }
  return new Tensor(backend, backend.upload(data), s);
}

/** A zero-filled float32 tensor. */
export function zeros(backend: Backend, shape: Shape): Tensor {
  return new Tensor(backend, backend.alloc("float32", shapeSize(shape)), shape);
}

/**
 * A trainable leaf: requires a gradient and is not owned by any `tidy` scope (its owner,
 * a module, disposes it).
 */
export function parameter(backend: Backend, data: Float32Array, shape: Shape): Tensor {
  return new Tensor(backend, backend.upload(data), shape, { requiresGrad: true, tracked: false });
}

// --- dense ------------------------------------------------------------------------------

/** `op(a) · op(b)`: `[m, k] × [k, n] → [m, n]` after the optional transposes. */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  const backend = sameBackend("matmul", a, b);
  const [m, ka] = transA ? [a.cols, a.rows] : [a.rows, a.cols];
  const [kb, n] = transB ? [b.cols, b.rows] : [b.rows, b.cols];
  if (a.shape.length !== 2 || b.shape.length !== 2 || ka !== kb) {
    throw new RangeError(
      `matmul: ${fmt(a)}${transA ? "ᵀ" : ""} × ${fmt(b)}${transB ? "ᵀ" : ""}: inner sizes differ`,
    );
  }
  const out = output(backend, [m, n], { kind: "matmul", a, b, transA, transB }, [a, b]);
  backend.gemm({
    transA,
    transB,
    m,
    n,
    k: ka,
    alpha: 1,
    beta: 0,
    a: a.storage,
    lda: a.cols,
    b: b.storage,
    ldb: b.cols,
    c: out.storage,
    ldc: n,
  });
  return out;
}

/**
 * Affine map with a PyTorch-layout weight: `x · W[:, off:off+k]ᵀ + bias`.
 * `x`: `[rows, k]`, `weight`: `[out, in]` with `off + k ≤ in`, `bias`: `[out]` or null.
 * A column block of W (`inputOffset`) is how CGCNN's concat-then-Linear is split into node
 * and edge parts without copying the weight.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null, inputOffset = 0): Tensor {
  const backend = sameBackend("linear", x, weight, ...(bias ? [bias] : []));
  const [outF, inF] = [weight.rows, weight.cols];
  const k = x.cols;
  if (x.shape.length !== 2 || weight.shape.length !== 2 || inputOffset + k > inF) {
    throw new RangeError(
      `linear: input ${fmt(x)} does not fit weight ${fmt(weight)} at column ${inputOffset}`,
    );
  }
  if (bias && bias.size !== outF) {
    throw new RangeError(`linear: bias ${fmt(bias)} for ${outF} outputs`);
  }
  const rows = x.rows;
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const out = output(backend, [rows, outF], {
    kind: "linear",
    x,
    weight,
    bias,
    inputOffset,
  }, inputs);
  backend.gemm({
    transA: false,
    transB: true,
    m: rows,
    n: outF,
    k,
    alpha: 1,
    beta: 0,
    a: x.storage,
    lda: k,
    b: weight.storage,
    bOffset: inputOffset,
    ldb: inF,
    c: out.storage,
    ldc: outF,
  });
  // The bias after the product (in place): the output is written once, never cleared first.
  if (bias) backend.binary("add", out.storage, bias.storage, out.storage, rows, outF, "row");
  return out;
}

// --- element-wise -----------------------------------------------------------------------

function broadcastOf(name: string, a: Tensor, b: Tensor): Broadcast {
  if (b.size === a.size && (b.shape.length === a.shape.length || b.size === 1)) {
    if (b.shape.every((d, i) => d === a.shape[i])) return "none";
  }
  if (b.size === 1) return "scalar";
  if (a.shape.length === 2 && b.size === a.cols && (b.shape.length === 1 || b.rows === 1)) {
    return "row";
  }
  if (a.shape.length === 2 && b.shape.length === 2 && b.rows === a.rows && b.cols === 1) {
    return "col";
  }
  throw new RangeError(`${name}: cannot broadcast ${fmt(b)} to ${fmt(a)}`);
}

function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const backend = sameBackend(op, a, b);
  const broadcast = broadcastOf(op, a, b);
  const out = output(backend, a.shape, { kind: "binary", op, a, b, broadcast }, [a, b]);
  backend.binary(op, a.storage, b.storage, out.storage, a.rows, a.cols, broadcast);
  return out;
}

/** `a + b`; b may be the same shape, a row `[cols]`, a column `[rows, 1]` or a scalar. */
export function add(a: Tensor, b: Tensor): Tensor {
  return binary("add", a, b);
}

/** `a − b` with the broadcasting of `add`. */
export function sub(a: Tensor, b: Tensor): Tensor {
  return binary("sub", a, b);
}

/** `a ⊙ b` with the broadcasting of `add`. */
export function mul(a: Tensor, b: Tensor): Tensor {
  return binary("mul", a, b);
}

/** `a ⊘ b` with the broadcasting of `add`. */
export function div(a: Tensor, b: Tensor): Tensor {
  return binary("div", a, b);
}

function unary(op: UnaryOp, x: Tensor): Tensor {
  const backend = sameBackend(op, x);
  const out = output(backend, x.shape, { kind: "unary", op, x }, [x]);
  backend.unary(op, x.storage, out.storage, x.size);
  return out;
}

/** Logistic sigmoid. */
export const sigmoid = (x: Tensor): Tensor => unary("sigmoid", x);
/** Softplus `log(1 + eˣ)`, exactly PyTorch's (x above 20 passes through). */
export const softplus = (x: Tensor): Tensor => unary("softplus", x);
/** `eˣ`. */
export const exp = (x: Tensor): Tensor => unary("exp", x);
/** Natural logarithm. */
export const log = (x: Tensor): Tensor => unary("log", x);
/** `−x`. */
export const neg = (x: Tensor): Tensor => unary("neg", x);
/** `x²`. */
export const square = (x: Tensor): Tensor => unary("square", x);
/** `√x`. */
export const sqrt = (x: Tensor): Tensor => unary("sqrt", x);
/** `|x|`. */
export const abs = (x: Tensor): Tensor => unary("abs", x);

/** `alpha · x + beta` (scale and shift by constants). */
export function affine(x: Tensor, alpha: number, beta = 0): Tensor {
  const backend = sameBackend("affine", x);
  const out = output(backend, x.shape, { kind: "affine", x, alpha }, [x]);
  backend.affine(x.storage, out.storage, alpha, beta, x.size);
  return out;
}

// --- feature blocks --------------------------------------------------------------------

/** Concatenates 2-D tensors with equal row counts along features: `[r, c1] ‖ [r, c2] …`. */
export function concatCols(parts: Tensor[]): Tensor {
  if (parts.length === 0) throw new RangeError("concatCols: no tensors");
  const backend = sameBackend("concatCols", ...parts);
  const rows = parts[0].rows;
  for (const p of parts) {
    if (p.shape.length !== 2 || p.rows !== rows) {
      throw new RangeError(`concatCols: ${parts.map(fmt).join(" ‖ ")}: row counts differ`);
    }
  }
  const cols = parts.reduce((s, p) => s + p.cols, 0);
  const out = output(backend, [rows, cols], { kind: "concatCols", parts }, parts);
  let at = 0;
  for (const p of parts) {
    backend.copyCols({
      src: p.storage,
      srcLd: p.cols,
      srcCol: 0,
      dst: out.storage,
      dstLd: cols,
      dstCol: at,
      rows,
      cols: p.cols,
      accumulate: false,
    });
    at += p.cols;
  }
  return out;
}

/** Columns `start .. end` of a 2-D tensor (a copy). */
export function sliceCols(x: Tensor, start: number, end: number): Tensor {
  const backend = sameBackend("sliceCols", x);
  if (x.shape.length !== 2 || start < 0 || end > x.cols || start > end) {
    throw new RangeError(`sliceCols: columns ${start}..${end} of ${fmt(x)}`);
  }
  const cols = end - start;
  const out = output(backend, [x.rows, cols], { kind: "sliceCols", x, start }, [x]);
  backend.copyCols({
    src: x.storage,
    srcLd: x.cols,
    srcCol: start,
    dst: out.storage,
    dstLd: cols,
    dstCol: 0,
    rows: x.rows,
    cols,
    accumulate: false,
  });
  return out;
}

// --- graph ------------------------------------------------------------------------------

/** `out[i] = x[index[i]]`: `[n, c]` rows picked by an int32 index `[m]` → `[m, c]`. */
export function gatherRows(x: Tensor, index: Tensor): Tensor {
  const backend = sameBackend("gatherRows", x);
  indexTensor("gatherRows", index, backend);
  const shape = x.shape.length === 2 ? [index.size, x.cols] : [index.size];
  const out = output(backend, shape, { kind: "gatherRows", x, index }, [x]);
  backend.gatherRows(x.storage, index.storage, out.storage, index.size, x.cols);
  return out;
}

/** `out[index[i]] += x[i]` into `nOut` zero rows: `[m, c]` → `[nOut, c]`. */
export function scatterAddRows(x: Tensor, index: Tensor, nOut: number): Tensor {
  const backend = sameBackend("scatterAddRows", x);
  indexTensor("scatterAddRows", index, backend);
  if (index.size !== x.rows) {
    throw new RangeError(`scatterAddRows: ${index.size} indices for ${x.rows} rows`);
  }
  const shape = x.shape.length === 2 ? [nOut, x.cols] : [nOut];
  const out = output(backend, shape, { kind: "scatterAddRows", x, index }, [x], true);
  backend.scatterAddRows(x.storage, index.storage, out.storage, index.size, x.cols);
  return out;
}

function segmentReduce(x: Tensor, offsets: Tensor, mean: boolean): Tensor {
  const backend = sameBackend("segmentReduce", x);
  indexTensor("segmentReduce", offsets, backend);
  const nSeg = offsets.size - 1;
  const shape = x.shape.length === 2 ? [nSeg, x.cols] : [nSeg];
  const out = output(backend, shape, { kind: "segmentReduce", x, offsets, mean }, [x]);
  backend.segmentReduce(x.storage, offsets.storage, out.storage, nSeg, x.cols, mean);
  return out;
}

/** Sums rows over CSR segments: `[offsets[n], c]` → `[n, c]`. */
export function segmentSum(x: Tensor, offsets: Tensor): Tensor {
  return segmentReduce(x, offsets, false);
}

/** Averages rows over CSR segments (empty segments give 0): `[offsets[n], c]` → `[n, c]`. */
export function segmentMean(x: Tensor, offsets: Tensor): Tensor {
  return segmentReduce(x, offsets, true);
}

/**
 * Repeats each segment's row for every row of the segment: `[n, c]` → `[offsets[n], c]`.
 * `nRows` is `offsets[n]` (known on the host, so no device read is needed).
 */
export function segmentExpand(x: Tensor, offsets: Tensor, nRows: number): Tensor {
  const backend = sameBackend("segmentExpand", x);
  indexTensor("segmentExpand", offsets, backend);
  const nSeg = offsets.size - 1;
  if (x.rows !== nSeg) {
    throw new RangeError(`segmentExpand: ${x.rows} rows for ${nSeg} segments`);
  }
  const shape = x.shape.length === 2 ? [nRows, x.cols] : [nRows];
  const out = output(backend, shape, { kind: "segmentExpand", x, offsets, mean: false }, [x]);
  backend.segmentExpand(x.storage, offsets.storage, out.storage, nSeg, x.cols, false);
  return out;
}

// --- reductions ---------------------------------------------------------------------------

/** Column sums: `[rows, cols]` → `[cols]`. */
export function sumRows(x: Tensor): Tensor {
  const backend = sameBackend("sumRows", x);
  const out = output(backend, [x.cols], { kind: "sumRows", x }, [x]);
  backend.sumRows(x.storage, out.storage, x.rows, x.cols);
  return out;
}

/** Sum of all elements → `[1]`. */
export function sum(x: Tensor): Tensor {
  const backend = sameBackend("sum", x);
  const out = output(backend, [1], { kind: "sumAll", x }, [x]);
  backend.sumAll(x.storage, out.storage, x.size);
  return out;
}

/** Mean of all elements → `[1]`. */
export function mean(x: Tensor): Tensor {
  return affine(sum(x), 1 / x.size);
}

// --- fused model ops ----------------------------------------------------------------------

/** CGCNN gate on z = [f | c] (`[rows, 2·cols]`): `sigmoid(f) ⊙ softplus(c)` → `[rows, cols]`. */
export function gate(z: Tensor): Tensor {
  const backend = sameBackend("gate", z);
  if (z.shape.length !== 2 || z.cols % 2 !== 0) {
    throw new RangeError(`gate: ${fmt(z)} must be [rows, 2·cols]`);
  }
  const cols = z.cols / 2;
  const out = output(backend, [z.rows, cols], { kind: "gate", z }, [z]);
  backend.gate(z.storage, out.storage, z.rows, cols);
  return out;
}

/**
 * Batch normalisation over rows with the given statistics `[cols]`: the batch's own ones
 * (`batchStatistics`, gradient through them) or running ones (constants). With `sync`
 * (data-parallel SyncBN) the statistics are those of the global batch and the backward sums
 * its batch reductions over the processes with `sync`.
 */
export function batchNorm(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  mean: Tensor,
  variance: Tensor,
  eps: number,
  batchStatistics: boolean,
  sync?: (buf: Float64Array) => void,
): Tensor {
  const backend = sameBackend("batchNorm", x, gamma, beta, mean, variance);
  const cols = x.cols;
  for (const t of [gamma, beta, mean, variance]) {
    if (t.size !== cols) throw new RangeError(`batchNorm: ${fmt(t)} for ${cols} features`);
  }
  const out = output(backend, x.shape, {
    kind: "batchNorm",
    x,
    gamma,
    beta,
    mean,
    variance,
    eps,
    batchStatistics,
    ...(sync && batchStatistics ? { sync } : {}),
  }, [x, gamma, beta]);
  backend.batchNormForward({
    x: x.storage,
    mean: mean.storage,
    variance: variance.storage,
    gamma: gamma.storage,
    beta: beta.storage,
    out: out.storage,
    rows: x.rows,
    cols,
    eps,
  });
  return out;
}

/** What a fused edge call needs of the backend (the optional fused-kernel methods). */
function fusedEdgeBackend(name: string, backend: Backend): Required<
  Pick<Backend, "edgeCombine" | "gateSum" | "gateSumBackward">
> {
  if (!backend.edgeCombine || !backend.gateSum || !backend.gateSumBackward) {
    throw new Error(`${name}: the ${backend.name} backend has no fused edge kernels`);
  }
  return backend as Required<Pick<Backend, "edgeCombine" | "gateSum" | "gateSumBackward">>;
}

/** True when `backend` implements the fused CGCNN edge kernels (`edgeCombine`, `gateSum`). */
export function hasFusedEdgeKernels(backend: Backend): boolean {
  return !!(backend.edgeCombine && backend.gateSum && backend.gateSumBackward);
}

/**
 * The CGCNN edge pre-activation in one pass (Xie & Grossman 2018, eq. 5, in the node/edge split
 * form): `z[e] = x[e]·W[:, off:off+k]ᵀ + bias + self[i] + other[neighbors[e]]` for the edges e
 * of each centre atom i (CSR `offsets`). With `moments` it also returns the column mean and
 * biased variance of z (BN1's batch statistics; constants for autograd).
 * @param self `[atoms, cols]` (`W_a v`). @param other `[atoms, cols]` (`W_b v`).
 * @param x `[edges, k]` edge features, or an {@linkcode EdgeSource} (their distances: the
 * Gaussians are formed inside the product and get no gradient); `weight` `[cols, in]`,
 * `bias` `[cols]`.
 * @returns z `[edges, cols]` and the statistics `[cols]` (or null).
 */
export function edgeCombine(
  self: Tensor,
  other: Tensor,
  x: Tensor | EdgeSource,
  weight: Tensor,
  bias: Tensor,
  inputOffset: number,
  offsets: Tensor,
  neighbors: Tensor,
  moments: boolean,
): { z: Tensor; mean: Tensor | null; variance: Tensor | null } {
  const source = "distances" in x ? x : null;
  const backend = source
    ? sameBackend("edgeCombine", self, other, source.distances, weight, bias)
    : sameBackend("edgeCombine", self, other, x as Tensor, weight, bias);
  const fused = fusedEdgeBackend("edgeCombine", backend);
  indexTensor("edgeCombine", offsets, backend);
  indexTensor("edgeCombine", neighbors, backend);
  const cols = weight.rows, atoms = offsets.size - 1;
  const k = source ? edgeSourceWidth(source) : (x as Tensor).cols;
  const edges = source ? source.rows : (x as Tensor).rows;
  if (
    self.rows !== atoms || other.rows !== atoms || self.cols !== cols || other.cols !== cols ||
    bias.size !== cols || neighbors.size !== edges || inputOffset + k > weight.cols
  ) {
    throw new RangeError(
      `edgeCombine: self ${fmt(self)}, other ${fmt(other)}, edges [${edges}, ${k}], weight ${
        fmt(weight)
      } at column ${inputOffset}, ${atoms} atoms, ${neighbors.size} neighbours`,
    );
  }
  const z = output(backend, [edges, cols], {
    kind: "edgeCombine",
    ...{ self, other, x, weight, bias, inputOffset, offsets, neighbors },
  }, [self, other, ...(source ? [] : [x as Tensor]), weight, bias]);
  if (source) {
    // The Gaussians are formed inside the product: the [E, 41] features are never stored.
    edgeSourceGemm(source, weight, inputOffset, z.storage);
  } else {
    backend.gemm({
      ...{ transA: false, transB: true, m: edges, n: cols, k, alpha: 1, beta: 0 },
      ...{ a: (x as Tensor).storage, lda: k, b: weight.storage, bOffset: inputOffset },
      ...{ ldb: weight.cols, c: z.storage, ldc: cols },
    });
  }
  const stat = () => new Tensor(backend, backend.alloc("float32", cols, false), [cols]);
  const mean = moments ? stat() : null, variance = moments ? stat() : null;
  fused.edgeCombine({
    ...{ z: z.storage, bias: bias.storage, self: self.storage, other: other.storage },
    ...{ offsets: offsets.storage, neighbors: neighbors.storage, atoms, edges, cols },
    ...{ mean: mean?.storage ?? null, variance: variance?.storage ?? null },
  });
  return { z, mean, variance };
}

/**
 * CGCNN's BN1 → gate → neighbour sum in one pass: `out[i] = Σ_e σ(y_f) ⊙ softplus(y_c)` over
 * the edges of atom i, `y = [y_f | y_c] = batchNorm(z)` with the given statistics (the batch's
 * own with `batchStatistics`, gradient through them; else running ones). Neither the
 * normalised z nor the per-edge messages are stored.
 * @param z `[edges, 2A]`; `gamma`, `beta`, `mean`, `variance` `[2A]`. @returns `[atoms, A]`.
 */
export function gateSum(
  z: Tensor,
  gamma: Tensor,
  beta: Tensor,
  mean: Tensor,
  variance: Tensor,
  eps: number,
  batchStatistics: boolean,
  offsets: Tensor,
): Tensor {
  const backend = sameBackend("gateSum", z, gamma, beta, mean, variance);
  const fused = fusedEdgeBackend("gateSum", backend);
  indexTensor("gateSum", offsets, backend);
  if (z.shape.length !== 2 || z.cols % 2 !== 0) {
    throw new RangeError(`gateSum: ${fmt(z)} must be [edges, 2·A]`);
  }
  for (const t of [gamma, beta, mean, variance]) {
    if (t.size !== z.cols) throw new RangeError(`gateSum: ${fmt(t)} for ${z.cols} features`);
  }
  const cols = z.cols / 2, atoms = offsets.size - 1;
  const out = output(backend, [atoms, cols], {
    kind: "gateSum",
    ...{ z, gamma, beta, mean, variance, eps, batchStatistics, offsets },
  }, [z, gamma, beta]);
  fused.gateSum({
    ...{ z: z.storage, offsets: offsets.storage, atoms, edges: z.rows, cols },
    ...{ mean: mean.storage, variance: variance.storage, gamma: gamma.storage },
    ...{ beta: beta.storage, eps, out: out.storage },
  });
  return out;
}

/** Mean squared error `mean((pred − target)²)` → `[1]`; the target gets no gradient. */
export function mseLoss(pred: Tensor, target: Tensor): Tensor {
  const backend = sameBackend("mseLoss", pred, target);
  if (pred.size !== target.size) {
    throw new RangeError(`mseLoss: prediction ${fmt(pred)} vs target ${fmt(target)}`);
  }
  const out = output(backend, [1], { kind: "mseLoss", pred, target }, [pred]);
  const diff = backend.alloc("float32", pred.size, false);
  try {
    backend.binary("sub", pred.storage, target.storage, diff, pred.size, 1, "none");
    backend.unary("square", diff, diff, pred.size);
    backend.sumAll(diff, out.storage, pred.size);
    backend.affine(out.storage, out.storage, 1 / pred.size, 0, 1);
  } finally {
    backend.free(diff);
  }
  return out;
}
