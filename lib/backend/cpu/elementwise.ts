/**
 * Element-wise CPU kernels on Float32Array (math in float64, rounded once when stored).
 * @module
 */

import type { BinaryOp, Broadcast, UnaryOp } from "../backend.ts";

import { fastExp, log1pUnit, sigmoid, softplus, SOFTPLUS_THRESHOLD } from "./fast_math.ts";

export { sigmoid, softplus, SOFTPLUS_THRESHOLD };

/** `out[i] = f(x[i])`. */
export function unaryKernel(op: UnaryOp, x: Float32Array, out: Float32Array, n: number): void {
  switch (op) {
    case "sigmoid":
      for (let i = 0; i < n; i++) out[i] = sigmoid(x[i]);
      return;
    case "softplus":
      for (let i = 0; i < n; i++) out[i] = softplus(x[i]);
      return;
    case "exp":
      for (let i = 0; i < n; i++) out[i] = fastExp(x[i]);
      return;
    case "log":
      for (let i = 0; i < n; i++) out[i] = Math.log(x[i]);
      return;
    case "neg":
      for (let i = 0; i < n; i++) out[i] = -x[i];
      return;
    case "square":
      for (let i = 0; i < n; i++) out[i] = x[i] * x[i];
      return;
    case "sqrt":
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]);
      return;
    case "abs":
      for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]);
      return;
  }
}

/** `dx[i] = dy[i]·f'(x[i])`, using the saved output y where that is cheaper. */
export function unaryBackwardKernel(
  op: UnaryOp,
  x: Float32Array,
  y: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  n: number,
): void {
  switch (op) {
    case "sigmoid":
      for (let i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
      return;
    case "softplus":
      // d/dx log(1+e^x) = sigmoid(x); PyTorch uses 1 above the threshold.
      for (let i = 0; i < n; i++) dx[i] = x[i] > SOFTPLUS_THRESHOLD ? dy[i] : dy[i] * sigmoid(x[i]);
      return;
    case "exp":
      for (let i = 0; i < n; i++) dx[i] = dy[i] * y[i];
      return;
    case "log":
      for (let i = 0; i < n; i++) dx[i] = dy[i] / x[i];
      return;
    case "neg":
      for (let i = 0; i < n; i++) dx[i] = -dy[i];
      return;
    case "square":
      for (let i = 0; i < n; i++) dx[i] = 2 * x[i] * dy[i];
      return;
    case "sqrt":
      for (let i = 0; i < n; i++) dx[i] = dy[i] / (2 * y[i]);
      return;
    case "abs":
      for (let i = 0; i < n; i++) dx[i] = dy[i] * Math.sign(x[i]);
      return;
  }
}

function apply(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case "add":
      return a + b;
    case "sub":
      return a - b;
    case "mul":
      return a * b;
    case "div":
      return a / b;
  }
}

/** `out = a ∘ b` with b broadcast over `[rows, cols]`. */
export function binaryKernel(
  op: BinaryOp,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  rows: number,
  cols: number,
  broadcast: Broadcast,
): void {
  const n = rows * cols;
  if (broadcast === "none") {
    // Specialised loops for the common ops keep the hot path free of a switch per element.
    if (op === "add") { for (let i = 0; i < n; i++) out[i] = a[i] + b[i]; }
    else if (op === "mul") { for (let i = 0; i < n; i++) out[i] = a[i] * b[i]; }
    else if (op === "sub") { for (let i = 0; i < n; i++) out[i] = a[i] - b[i]; }
    else for (let i = 0; i < n; i++) out[i] = a[i] / b[i];
  } else if (broadcast === "row") {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      if (op === "add") { for (let j = 0; j < cols; j++) out[o + j] = a[o + j] + b[j]; }
      else for (let j = 0; j < cols; j++) out[o + j] = apply(op, a[o + j], b[j]);
    }
  } else if (broadcast === "col") {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const br = b[r];
      for (let j = 0; j < cols; j++) out[o + j] = apply(op, a[o + j], br);
    }
  } else {
    const s = b[0];
    for (let i = 0; i < n; i++) out[i] = apply(op, a[i], s);
  }
}

/** CGCNN gate on z = [f | c]: `out[r, j] = sigmoid(f[r, j])·softplus(c[r, j])`. */
export function gateKernel(z: Float32Array, out: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const zf = 2 * r * cols, zc = zf + cols, o = r * cols;
    for (let j = 0; j < cols; j++) out[o + j] = sigmoid(z[zf + j]) * softplus(z[zc + j]);
  }
}

/** Backward of the gate: df = dOut·σ'(f)·softplus(c), dc = dOut·σ(f)·σ(c), into dz = [df | dc]. */
export function gateBackwardKernel(
  z: Float32Array,
  dOut: Float32Array,
  dz: Float32Array,
  rows: number,
  cols: number,
): void {
  for (let r = 0; r < rows; r++) {
    const zf = 2 * r * cols, zc = zf + cols, o = r * cols;
    for (let j = 0; j < cols; j++) {
      const s = sigmoid(z[zf + j]);
      const c = z[zc + j];
      const g = dOut[o + j];
      // softplus(c) and sigmoid(c) share e^−|c|.
      const e = fastExp(-Math.abs(c));
      const sigC = c >= 0 ? 1 / (1 + e) : e / (1 + e);
      const sp = c > SOFTPLUS_THRESHOLD ? c : (c > 0 ? c : 0) + log1pUnit(e);
      dz[zf + j] = g * s * (1 - s) * sp;
      dz[zc + j] = c > SOFTPLUS_THRESHOLD ? g * s : g * s * sigC;
    }
  }
}
