/**
 * The fused CGCNN edge kernels in TypeScript (the reference for, and fallback of, the C ones in
 * native/cpu/facgcnn_cpu.c): the edge pre-activation with BN1's statistics, and BN1 → gate →
 * neighbour sum with its backward (Xie & Grossman 2018, eq. 5). They replace five E×2A
 * temporaries of the composed ops (expanded self rows, gathered neighbour rows, two sums, the
 * normalised z) and the E×A messages by one stored z.
 * @module
 */

import type {
  EdgeCombineArgs,
  EdgeCombineBackwardArgs,
  GateSumArgs,
  GateSumBackwardArgs,
} from "../backend.ts";
import { fastExp, log1pUnit, sigmoid, softplus, SOFTPLUS_THRESHOLD } from "./fast_math.ts";
import {
  checkIndices,
  checkOffsets,
  scatterAddRowsKernel,
  segmentReduceKernel,
  sumRowsKernel,
} from "./graph_kernels.ts";

type F = Float32Array;
type I = Int32Array;

/** The host form of {@linkcode EdgeCombineArgs}. */
export type EdgeCombineHost = Omit<EdgeCombineArgs<F>, "offsets" | "neighbors"> & {
  offsets: I;
  neighbors: I;
};
/** The host form of {@linkcode EdgeCombineBackwardArgs}. */
export type EdgeCombineBackwardHost =
  & Omit<EdgeCombineBackwardArgs<F>, "offsets" | "neighbors">
  & { offsets: I; neighbors: I };
/** The host form of {@linkcode GateSumArgs}. */
export type GateSumHost = Omit<GateSumArgs<F>, "offsets"> & { offsets: I };
/** The host form of {@linkcode GateSumBackwardArgs}. */
export type GateSumBackwardHost = Omit<GateSumBackwardArgs<F>, "offsets"> & { offsets: I };

/** Checks the CSR offsets and neighbour indices of a fused edge call (the C kernels trust them). */
export function checkEdgeGraph(
  name: string,
  offsets: I,
  atoms: number,
  edges: number,
  neighbors?: I,
): void {
  checkOffsets(name, offsets, atoms, edges);
  if (offsets[atoms] !== edges) {
    throw new RangeError(`${name}: offsets end at ${offsets[atoms]} for ${edges} edges`);
  }
  if (neighbors) checkIndices(name, neighbors, edges, atoms);
}

/** `z[e] += bias + self[i] + other[nbr[e]]`, with z's column moments in float64. */
export function edgeCombineKernel(a: EdgeCombineHost): void {
  const { z, bias, self, other, offsets, neighbors, atoms, cols, mean, variance } = a;
  checkEdgeGraph("edgeCombine", offsets, atoms, a.edges, neighbors);
  const s = new Float64Array(cols), q = new Float64Array(cols);
  for (let i = 0; i < atoms; i++) {
    const si = i * cols;
    for (let e = offsets[i]; e < offsets[i + 1]; e++) {
      const ze = e * cols, oj = neighbors[e] * cols;
      for (let j = 0; j < cols; j++) {
        const v = z[ze + j] = Math.fround(z[ze + j] + bias[j] + self[si + j] + other[oj + j]);
        s[j] += v;
        q[j] += v * v;
      }
    }
  }
  if (mean && variance) {
    const n = a.edges;
    for (let j = 0; j < cols; j++) {
      const m = n > 0 ? s[j] / n : 0;
      mean[j] = m;
      variance[j] = n > 0 ? Math.max(q[j] / n - m * m, 0) : 0;
    }
  }
}

/**
 * Backward of `edgeCombineKernel` for the atom rows and the bias: exactly the three graph kernels
 * the unfused rule runs (segment sums, neighbour scatter, column sums), so the TypeScript backend
 * computes bit for bit what it computed before; the native kernel does it in one pass over dz.
 */
export function edgeCombineBackwardKernel(a: EdgeCombineBackwardHost): void {
  const { dz, offsets, neighbors, atoms, edges, cols } = a;
  checkEdgeGraph("edgeCombineBackward", offsets, atoms, edges, neighbors);
  if (a.dSelf) segmentReduceKernel(dz, offsets, a.dSelf, atoms, cols, false);
  if (a.dOther) scatterAddRowsKernel(dz, neighbors, a.dOther, edges, cols);
  if (a.dBias) sumRowsKernel(dz, a.dBias, edges, cols);
}

/** BN1's `scale = γ/√(σ²+ε)`, `shift = β − μ·scale` and `1/√(σ²+ε)` per column. */
function scaleShift(a: Omit<GateSumArgs<F>, "out" | "offsets">, n: number) {
  const scale = new Float64Array(n), shift = new Float64Array(n), inv = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    inv[j] = 1 / Math.sqrt(a.variance[j] + a.eps);
    scale[j] = a.gamma[j] * inv[j];
    shift[j] = a.beta[j] - a.mean[j] * scale[j];
  }
  return { scale, shift, inv };
}

/** `out[i] = Σ_e σ(y_f) ⊙ softplus(y_c)`, y = BN1(z_e). */
export function gateSumKernel(a: GateSumHost): void {
  const { z, offsets, atoms, cols, out } = a;
  checkEdgeGraph("gateSum", offsets, atoms, a.edges);
  const c2 = 2 * cols;
  const { scale, shift } = scaleShift(a, c2);
  const acc = new Float64Array(cols);
  for (let i = 0; i < atoms; i++) {
    acc.fill(0);
    for (let e = offsets[i]; e < offsets[i + 1]; e++) {
      const zf = e * c2, zc = zf + cols;
      for (let j = 0; j < cols; j++) {
        const f = Math.fround(z[zf + j] * scale[j] + shift[j]);
        const c = Math.fround(z[zc + j] * scale[cols + j] + shift[cols + j]);
        acc[j] += sigmoid(f) * softplus(c);
      }
    }
    for (let j = 0; j < cols; j++) out[i * cols + j] = acc[j];
  }
}

/** Backward of `gateSumKernel` through the gate and BN1. */
export function gateSumBackwardKernel(a: GateSumBackwardHost): void {
  const { z, offsets, atoms, cols, dOut, dz, dGamma, dBeta, mean } = a;
  checkEdgeGraph("gateSumBackward", offsets, atoms, a.edges);
  const c2 = 2 * cols, edges = a.edges;
  const { scale, shift, inv } = scaleShift(a, c2);
  const sdy = new Float64Array(c2), sdyx = new Float64Array(c2);
  for (let i = 0; i < atoms; i++) {
    const gi = i * cols;
    for (let e = offsets[i]; e < offsets[i + 1]; e++) {
      const zf = e * c2, zc = zf + cols;
      for (let j = 0; j < cols; j++) {
        const f = Math.fround(z[zf + j] * scale[j] + shift[j]);
        const c = Math.fround(z[zc + j] * scale[cols + j] + shift[cols + j]);
        const g = dOut[gi + j];
        const s = sigmoid(f);
        const ec = fastExp(-Math.abs(c));
        const sigC = c >= 0 ? 1 / (1 + ec) : ec / (1 + ec);
        const sp = c > SOFTPLUS_THRESHOLD ? c : (c > 0 ? c : 0) + log1pUnit(ec);
        const df = dz[zf + j] = Math.fround(g * s * (1 - s) * sp);
        const dc = dz[zc + j] = Math.fround(c > SOFTPLUS_THRESHOLD ? g * s : g * s * sigC);
        sdy[j] += df;
        sdyx[j] += df * (z[zf + j] - mean[j]) * inv[j];
        sdy[cols + j] += dc;
        sdyx[cols + j] += dc * (z[zc + j] - mean[cols + j]) * inv[cols + j];
      }
    }
  }
  const k1 = new Float64Array(c2), k2 = new Float64Array(c2), k3 = new Float64Array(c2);
  for (let j = 0; j < c2; j++) {
    dBeta[j] = sdy[j];
    dGamma[j] = sdyx[j];
    k1[j] = a.gamma[j] * inv[j];
    // dz = γ/σ·(dy − Σdy/E − x̂·Σ(dy·x̂)/E) with batch statistics (Ioffe & Szegedy 2015).
    k2[j] = a.batchStatistics && edges > 0 ? k1[j] * sdy[j] / edges : 0;
    k3[j] = a.batchStatistics && edges > 0 ? k1[j] * sdyx[j] / edges : 0;
  }
  for (let e = 0; e < edges; e++) {
    const o = e * c2;
    for (let j = 0; j < c2; j++) {
      dz[o + j] = k1[j] * dz[o + j] - k2[j] - k3[j] * (z[o + j] - mean[j]) * inv[j];
    }
  }
}
