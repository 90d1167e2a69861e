/**
 * Fused optimizer updates on the CPU (one pass per parameter, float64 arithmetic).
 * @module
 */

import type { AdamWScalars, ScheduleFreeScalars, SgdScalars } from "../backend.ts";

/**
 * Schedule-Free AdamW (Defazio et al. 2024), for one parameter holding y:
 * v ← β2 v + (1−β2) g²; ĝ = g / (sqrt(v / bc2) + eps) + wd·y;
 * y ← y + c (z − y) + lr (β1 (1 − c) − 1) ĝ; z ← z − lr ĝ (z used before its update).
 */
export function scheduleFreeAdamWKernel(
  y: Float32Array,
  z: Float32Array,
  v: Float32Array,
  g: Float32Array,
  n: number,
  s: ScheduleFreeScalars,
): void {
  const yCoef = s.lr * (s.beta1 * (1 - s.ckp1) - 1);
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const vi = s.beta2 * v[i] + (1 - s.beta2) * gi * gi;
    v[i] = vi;
    const yi = y[i];
    const zi = z[i];
    const gHat = gi / (Math.sqrt(vi / s.biasCorrection2) + s.eps) + s.weightDecay * yi;
    y[i] = yi + s.ckp1 * (zi - yi) + yCoef * gHat;
    z[i] = zi - s.lr * gHat;
  }
}

/** AdamW (PyTorch): p ← p(1 − lr·wd); m, v moments; p ← p − lr·m̂/(sqrt(v̂) + eps). */
export function adamWKernel(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  n: number,
  s: AdamWScalars,
): void {
  const decay = 1 - s.lr * s.weightDecay;
  const stepSize = s.lr / s.biasCorrection1;
  const sqrtBc2 = Math.sqrt(s.biasCorrection2);
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = s.beta1 * m[i] + (1 - s.beta1) * gi;
    const vi = s.beta2 * v[i] + (1 - s.beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - stepSize * mi / (Math.sqrt(vi) / sqrtBc2 + s.eps);
  }
}

/** SGD (PyTorch): d = g + wd·p; buf ← momentum·buf + d (buf = d on the first step); p ← p − lr·buf. */
export function sgdKernel(
  p: Float32Array,
  buf: Float32Array,
  g: Float32Array,
  n: number,
  s: SgdScalars,
): void {
  for (let i = 0; i < n; i++) {
    const d = g[i] + s.weightDecay * p[i];
    const b = s.momentum === 0 ? d : s.firstStep ? d : s.momentum * buf[i] + d;
    buf[i] = b;
    p[i] = p[i] - s.lr * b;
  }
}
