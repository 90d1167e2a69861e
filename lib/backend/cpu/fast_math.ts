/**
 * Fast `exp`, `sigmoid` and `softplus` for the CPU kernels.
 *
 * V8's `Math.exp`/`Math.log1p` are correctly rounded float64 library calls (~10–40 ns each);
 * a CGCNN step evaluates tens of millions of them in the gate, so they dominated CPU time.
 * These versions use range reduction and short polynomials, inlined by the JIT, with a
 * relative error below 1e-8 — far below float32 rounding (6e-8), so results stored in
 * float32 match the library versions to the last bit or one ulp.
 * @module
 */

const INV_LN2 = 1.4426950408889634;
const LN2_HI = 0.6931471803691238; // high bits of ln 2 (exact product with small k)
const LN2_LO = 1.9082149292705877e-10;
const MIN_K = -1074, MAX_K = 1023;

/** 2^k for every k a float64 can hold, so scaling is a table load (no bit tricks). */
const POW2 = (() => {
  const t = new Float64Array(MAX_K - MIN_K + 1);
  for (let k = MIN_K; k <= MAX_K; k++) t[k - MIN_K] = 2 ** k;
  return t;
})();

/** eˣ with relative error < 3e-10 for |x| < 700; exact limits outside. */
export function fastExp(x: number): number {
  if (!(x > -700 && x < 700)) return Math.exp(x); // overflow, underflow, NaN: library handles
  const k = Math.round(x * INV_LN2);
  const r = (x - k * LN2_HI) - k * LN2_LO; // |r| ≤ ln2/2
  // Taylor polynomial of degree 9 (remainder < r¹⁰/10! ≈ 7e-12 relative).
  const p = 1 +
    r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 +
                            r * (1 / 5040 + r * (1 / 40320 + r * (1 / 362880)))))))));
  return p * POW2[k - MIN_K];
}

/** log(1 + e) for e in [0, 1], relative error < 3e-9 (atanh series in s = e / (2 + e) ≤ 1/3). */
export function log1pUnit(e: number): number {
  const s = e / (2 + e);
  const s2 = s * s;
  // 2·atanh(s) = 2(s + s³/3 + … + s¹⁷/17); the next term is below (1/9)⁹ relative.
  return 2 * s *
    (1 + s2 * (1 / 3 + s2 * (1 / 5 + s2 * (1 / 7 + s2 * (1 / 9 + s2 * (1 / 11 +
                          s2 * (1 / 13 + s2 * (1 / 15 + s2 * (1 / 17)))))))));
}

/** PyTorch's softplus threshold: above it softplus(x) = x. */
export const SOFTPLUS_THRESHOLD = 20;

/** softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e^−|x|); x above 20 passes through (PyTorch). */
export function softplus(x: number): number {
  if (x > SOFTPLUS_THRESHOLD) return x;
  return (x > 0 ? x : 0) + log1pUnit(fastExp(-Math.abs(x)));
}

/** Logistic sigmoid from e^−|x| (no overflow for any x). */
export function sigmoid(x: number): number {
  const e = fastExp(-Math.abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}
