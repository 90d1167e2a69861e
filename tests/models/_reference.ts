/**
 * An independent float64 implementation of the CGCNN / FACGCNN network (Xie & Grossman 2018; frame
 * inputs), written with plain loops for the model tests. It imports nothing from lib/models, lib/nn
 * or lib/tensor, and uses the reference code's concat form `fc_full(concat(v_i, v_j, u_ij))` (not
 * the node/edge split), BatchNorm with batch statistics (training) or running statistics
 * (evaluation), PyTorch's softplus (threshold 20), mean pooling and the head softplus → conv_to_fc
 * → softplus → [fc, softplus]* → fc_out.
 *
 * Its graph inputs are built straight from a `GraphSet` (not from `collate`), so the
 * batching code is under test too.
 * @module
 */

import type { GraphSet } from "../../lib/crystal/types.ts";

type F64 = Float64Array;

/** Network sizes. */
export interface RefShape {
  atomFeaLen: number;
  hFeaLen: number;
  nConv: number;
  nH: number;
}

/** Parameters and buffers by PyTorch-style dotted name, in float64. */
export type RefWeights = Map<string, F64>;

/** One stacked graph: every (frame copy, crystal) pair is a separate graph. */
export interface RefGraph {
  /** `[N, nodeIn]` node inputs (atom features, + 3 frame coordinates for FACGCNN). */
  nodeIn: F64;
  nodeInLen: number;
  /** `[E]` centre atom (global) and neighbour atom (global) of each edge. */
  center: Int32Array;
  neighbor: Int32Array;
  /** `[E, edgeInLen]` edge inputs (41 Gaussians, + 3 frame vector components). */
  edgeIn: F64;
  edgeInLen: number;
  /** `[N]` graph (copy·C + crystal) of each atom. */
  graphOf: Int32Array;
  /** Number of graphs (copies · crystals). */
  nGraphs: number;
  copies: number;
  crystals: number;
}

/** Deliberate deviations from CGCNN's network, used to show that the comparison can fail. */
export type Mutation =
  | "none"
  | "swap-ij" // concat(v_j, v_i, u) instead of concat(v_i, v_j, u)
  | "unbiased-var" // BatchNorm normalising with the unbiased batch variance
  | "sum-pool" // sum instead of mean pooling
  | "no-inner-softplus"; // conv_to_fc(pooled) without the softplus before it

/** PyTorch's `F.softplus` (beta 1, threshold 20). */
export function softplus64(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

function sigmoid64(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function get(w: RefWeights, name: string): F64 {
  const v = w.get(name);
  if (!v) throw new Error(`reference: no weight ${name}`);
  return v;
}

/** `y = W x + b` for every row of x `[rows, inF]`, W `[outF, inF]`. */
function linearRows(x: F64, rows: number, inF: number, W: F64, b: F64, outF: number): F64 {
  if (W.length !== outF * inF) {
    throw new Error(`reference: weight of ${W.length} for [${outF}, ${inF}]`);
  }
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b[o];
      for (let p = 0; p < inF; p++) s += W[o * inF + p] * x[r * inF + p];
      y[r * outF + o] = s;
    }
  }
  return y;
}

/** BatchNorm1d over the rows of x `[rows, cols]`, in place. */
function batchNorm64(
  x: F64,
  rows: number,
  cols: number,
  w: RefWeights,
  prefix: string,
  training: boolean,
  mutation: Mutation,
): void {
  const gamma = get(w, `${prefix}.weight`), beta = get(w, `${prefix}.bias`);
  const mean = new Float64Array(cols), variance = new Float64Array(cols);
  if (training) {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c] += x[r * cols + c];
    for (let c = 0; c < cols; c++) mean[c] /= rows;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) variance[c] += (x[r * cols + c] - mean[c]) ** 2;
    }
    const denom = mutation === "unbiased-var" ? rows - 1 : rows;
    for (let c = 0; c < cols; c++) variance[c] /= denom;
  } else {
    mean.set(get(w, `${prefix}.running_mean`));
    variance.set(get(w, `${prefix}.running_var`));
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      x[i] = (x[i] - mean[c]) / Math.sqrt(variance[c] + 1e-5) * gamma[c] + beta[c];
    }
  }
}

/**
 * The network on a stacked graph: `[crystals]` predictions (standardised scale), each the
 * mean over the graph's frame copies of that crystal.
 */
export function referenceForward(
  w: RefWeights,
  shape: RefShape,
  g: RefGraph,
  training: boolean,
  mutation: Mutation = "none",
): F64 {
  const { atomFeaLen: A, hFeaLen: H, nConv, nH } = shape;
  const N = g.graphOf.length, E = g.center.length;
  // embedding
  let v = linearRows(
    g.nodeIn,
    N,
    g.nodeInLen,
    get(w, "embedding.weight"),
    get(w, "embedding.bias"),
    A,
  );
  const inLen = 2 * A + g.edgeInLen;
  const x = new Float64Array(inLen);
  for (let l = 0; l < nConv; l++) {
    const p = `convs.${l}`;
    const W = get(w, `${p}.fc_full.weight`), b = get(w, `${p}.fc_full.bias`);
    if (W.length !== 2 * A * inLen) throw new Error(`reference: ${p}.fc_full has a bad size`);
    // z_e = fc_full(concat(v_i, v_j, u_ij)) for every edge
    const z = new Float64Array(E * 2 * A);
    for (let e = 0; e < E; e++) {
      let i = g.center[e], j = g.neighbor[e];
      if (mutation === "swap-ij") [i, j] = [j, i];
      for (let a = 0; a < A; a++) {
        x[a] = v[i * A + a];
        x[A + a] = v[j * A + a];
      }
      for (let k = 0; k < g.edgeInLen; k++) x[2 * A + k] = g.edgeIn[e * g.edgeInLen + k];
      for (let o = 0; o < 2 * A; o++) {
        let s = b[o];
        for (let q = 0; q < inLen; q++) s += W[o * inLen + q] * x[q];
        z[e * 2 * A + o] = s;
      }
    }
    batchNorm64(z, E, 2 * A, w, `${p}.bn1`, training, mutation);
    // s_i = Σ_j sigmoid(f) ⊙ softplus(c)
    const s = new Float64Array(N * A);
    for (let e = 0; e < E; e++) {
      const i = g.center[e];
      for (let a = 0; a < A; a++) {
        const f = z[e * 2 * A + a], c = z[e * 2 * A + A + a];
        s[i * A + a] += sigmoid64(f) * softplus64(c);
      }
    }
    batchNorm64(s, N, A, w, `${p}.bn2`, training, mutation);
    const next = new Float64Array(N * A);
    for (let i = 0; i < N * A; i++) next[i] = softplus64(v[i] + s[i]);
    v = next;
  }
  // mean pooling per graph
  const pooled = new Float64Array(g.nGraphs * A);
  const count = new Float64Array(g.nGraphs);
  for (let i = 0; i < N; i++) {
    const c = g.graphOf[i];
    count[c]++;
    for (let a = 0; a < A; a++) pooled[c * A + a] += v[i * A + a];
  }
  for (let c = 0; c < g.nGraphs; c++) {
    for (let a = 0; a < A; a++) {
      if (mutation !== "sum-pool") pooled[c * A + a] /= count[c];
      if (mutation !== "no-inner-softplus") pooled[c * A + a] = softplus64(pooled[c * A + a]);
    }
  }
  let h = linearRows(
    pooled,
    g.nGraphs,
    A,
    get(w, "conv_to_fc.weight"),
    get(w, "conv_to_fc.bias"),
    H,
  );
  h = h.map(softplus64);
  for (let l = 0; l < nH - 1; l++) {
    h = linearRows(h, g.nGraphs, H, get(w, `fcs.${l}.weight`), get(w, `fcs.${l}.bias`), H);
    h = h.map(softplus64);
  }
  const out = linearRows(h, g.nGraphs, H, get(w, "fc_out.weight"), get(w, "fc_out.bias"), 1);
  const pred = new Float64Array(g.crystals);
  for (let f = 0; f < g.copies; f++) {
    for (let c = 0; c < g.crystals; c++) pred[c] += out[f * g.crystals + c] / g.copies;
  }
  return pred;
}

/** Frame inputs of one crystal: a 3×3 row-major matrix M (x̃ = (x − t)·M) or none. */
export type FrameMatrix = F64 | null;

/**
 * Builds the stacked reference graph of crystals `indices` of `graphs`.
 *
 * @param atomRows `[(maxZ + 1), featLen]` atom feature table (row z = atomic number z).
 * @param frames null for CGCNN; otherwise `frames[f][c]` is the 3×3 matrix of frame copy f of
 *   crystal c (identity for the "w/o FA" inputs): node input gets (x − t)·M, edge input
 *   (x_j − x_i)·M, with t the mean atom position.
 */
export function referenceGraph(
  graphs: GraphSet,
  indices: ArrayLike<number>,
  atomRows: Float32Array,
  featLen: number,
  frames: FrameMatrix[][] | null,
): RefGraph {
  const C = indices.length;
  const copies = frames ? frames.length : 1;
  const fa = frames !== null;
  const nodeInLen = featLen + (fa ? 3 : 0);
  const G = 41;
  const edgeInLen = G + (fa ? 3 : 0);
  const nodeIn: number[] = [], edgeIn: number[] = [];
  const center: number[] = [], neighbor: number[] = [], graphOf: number[] = [];
  let base = 0;
  for (let f = 0; f < copies; f++) {
    for (let ci = 0; ci < C; ci++) {
      const c = indices[ci];
      const a0 = graphs.atomOffsets[c], a1 = graphs.atomOffsets[c + 1];
      const M = frames ? frames[f][ci] : null;
      const t = [0, 0, 0];
      for (let a = a0; a < a1; a++) {
        for (let k = 0; k < 3; k++) t[k] += graphs.positions[3 * a + k] / (a1 - a0);
      }
      const rot = (x: number[]) => {
        if (!M) return x;
        return [0, 1, 2].map((col) => x[0] * M[col] + x[1] * M[3 + col] + x[2] * M[6 + col]);
      };
      for (let a = a0; a < a1; a++) {
        const z = graphs.numbers[a];
        for (let k = 0; k < featLen; k++) nodeIn.push(atomRows[z * featLen + k]);
        if (fa) {
          nodeIn.push(...rot([0, 1, 2].map((k) => graphs.positions[3 * a + k] - t[k])));
        }
        graphOf.push(f * C + ci);
        for (let e = graphs.edgeOffsets[a]; e < graphs.edgeOffsets[a + 1]; e++) {
          center.push(base + a - a0);
          neighbor.push(base + graphs.neighbors[e]);
          const d = graphs.distances[e];
          for (let k = 0; k < G; k++) edgeIn.push(Math.exp(-((d - 0.2 * k) ** 2) / 0.04));
          if (fa) edgeIn.push(...rot([0, 1, 2].map((k) => graphs.vectors[3 * e + k])));
        }
      }
      base += a1 - a0;
    }
  }
  return {
    nodeIn: Float64Array.from(nodeIn),
    nodeInLen,
    center: Int32Array.from(center),
    neighbor: Int32Array.from(neighbor),
    edgeIn: Float64Array.from(edgeIn),
    edgeInLen,
    graphOf: Int32Array.from(graphOf),
    nGraphs: copies * C,
    copies,
    crystals: C,
  };
}

/** `U·diag(s)` of sign pattern p (bit k set: column k negated), row-major. */
export function signedFrame(U: ArrayLike<number>, pattern: number): F64 {
  const M = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let k = 0; k < 3; k++) M[3 * i + k] = ((pattern >> k) & 1 ? -1 : 1) * U[3 * i + k];
  }
  return M;
}

/** 3×3 identity. */
export const IDENTITY3: F64 = Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);

/** Mean squared error of predictions against targets. */
export function mse64(pred: ArrayLike<number>, target: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < pred.length; i++) s += (pred[i] - target[i]) ** 2;
  return s / pred.length;
}

/** `‖a − b‖∞ / ‖b‖∞`. */
export function maxRelative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}
