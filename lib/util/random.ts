/**
 * A small seeded pseudo-random generator (xoshiro128**), so that synthetic data, splits and
 * frame sampling are reproducible for a seed on every platform (Math.random is not seedable).
 * @module
 */

/** splitmix32 step: scrambles a 32-bit state into a well-mixed 32-bit output. */
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Deterministic random numbers: xoshiro128** seeded through splitmix32.
 * `new Rng(seed, stream)` gives independent-looking sequences for different streams of one
 * seed (e.g. one stream per crystal index, so item i does not depend on items before it).
 *
 * @example
 * ```ts
 * import { Rng } from "@facgcnn/toolkit";
 * const rng = new Rng(42);
 * console.log(rng.next(), rng.int(10)); // uniform [0, 1), integer in 0..9
 * ```
 */
export class Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  #spare = NaN;

  /**
   * A generator for `seed` (any finite number; its integer part is used) and sub-sequence
   * `stream` (default 0).
   */
  constructor(seed: number, stream = 0) {
    if (!Number.isFinite(seed) || !Number.isFinite(stream)) {
      throw new RangeError(`Rng seed and stream must be finite numbers, got ${seed}, ${stream}`);
    }
    const lo = Math.trunc(seed) >>> 0;
    const hi = Math.trunc(seed / 4294967296) >>> 0;
    let x = splitmix32(lo ^ splitmix32(hi ^ 0x5bd1e995));
    x = splitmix32(x ^ splitmix32((Math.trunc(stream) >>> 0) ^ 0x27d4eb2f));
    this.#s0 = x = splitmix32(x);
    this.#s1 = x = splitmix32(x);
    this.#s2 = x = splitmix32(x);
    this.#s3 = splitmix32(x);
    // The all-zero state is a fixed point of xoshiro; splitmix makes it practically impossible.
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const s0 = this.#s0, s1 = this.#s1, s2 = this.#s2, s3 = this.#s3;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    this.#s2 = s2 ^ s0;
    this.#s3 = s3 ^ s1;
    this.#s1 = s1 ^ this.#s2;
    this.#s0 = s0 ^ this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return r >>> 0;
  }

  /** Uniform number in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform number in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in 0 .. n−1 (n ≥ 1). */
  int(n: number): number {
    if (!(n >= 1)) throw new RangeError(`Rng.int needs n >= 1, got ${n}`);
    return Math.floor(this.next() * Math.floor(n));
  }

  /** Standard normal deviate (Box–Muller; the second value of each pair is kept for later). */
  normal(): number {
    if (!Number.isNaN(this.#spare)) {
      const v = this.#spare;
      this.#spare = NaN;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    const phi = 2 * Math.PI * this.next();
    this.#spare = r * Math.sin(phi);
    return r * Math.cos(phi);
  }

  /** One element of a non-empty array, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<A extends { length: number; [i: number]: unknown }>(items: A): A {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
