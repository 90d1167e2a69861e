/**
 * Target standardisation (as in CGCNN's `main.py`): the model learns `(t − mean) / std` with
 * mean and std of the training targets; predictions are mapped back with `denorm`. CGCNN's
 * `Normalizer` estimates both from a random sample of 500 crystals; we use every training
 * target, which is cheap and removes one source of seed dependence.
 * @module
 */

/**
 * The two numbers a normaliser is, as saved in checkpoints (JSON).
 */
export interface NormalizerJSON {
  /** Mean of the training targets. */
  mean: number;
  /** Sample standard deviation of the training targets (1 if they are constant). */
  std: number;
}

/**
 * Mean/std standardisation of targets.
 *
 * @example
 * ```ts
 * import { Normalizer } from "@facgcnn/toolkit";
 * const n = Normalizer.fit([1, 2, 3, 4]);
 * const z = n.norm(new Float64Array([2.5])); // standardised
 * console.log(n.denorm(z)); // back to the original scale
 * ```
 */
export class Normalizer {
  /**
   * Creates a normaliser from known statistics. `std` must be finite and positive.
   */
  constructor(readonly mean: number, readonly std: number) {
    if (!Number.isFinite(mean)) throw new RangeError(`Normalizer mean must be finite, got ${mean}`);
    if (!(Number.isFinite(std) && std > 0)) {
      throw new RangeError(`Normalizer std must be finite and > 0, got ${std}`);
    }
  }

  /**
   * Fits mean and sample standard deviation (divisor n − 1, like `torch.std`) in float64.
   * A constant target set (or a single target) has no spread; std is then 1, so `norm` only
   * centres the targets instead of dividing by zero.
   */
  static fit(targets: ArrayLike<number>): Normalizer {
    const n = targets.length;
    if (n === 0) throw new RangeError("Normalizer.fit needs at least one target");
    let mean = 0;
    for (let i = 0; i < n; i++) mean += targets[i];
    mean /= n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (targets[i] - mean) ** 2;
    const std = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
    return new Normalizer(mean, std > 0 ? std : 1);
  }

  /** `(x − mean) / std`, element-wise, into a new array of the same type. */
  norm<T extends Float32Array | Float64Array>(x: T): T {
    const out = x.slice() as T;
    for (let i = 0; i < out.length; i++) out[i] = (x[i] - this.mean) / this.std;
    return out;
  }

  /** `x · std + mean`, element-wise, into a new array of the same type. */
  denorm<T extends Float32Array | Float64Array>(x: T): T {
    const out = x.slice() as T;
    for (let i = 0; i < out.length; i++) out[i] = x[i] * this.std + this.mean;
    return out;
  }

  /** Plain `{ mean, std }` for checkpoint metadata. */
  toJSON(): NormalizerJSON {
    return { mean: this.mean, std: this.std };
  }

  /** Restores a normaliser saved by {@link Normalizer.toJSON}; validates the fields. */
  static fromJSON(json: unknown): Normalizer {
    const j = json as Partial<NormalizerJSON> | null;
    if (
      typeof j !== "object" || j === null || typeof j.mean !== "number" || typeof j.std !== "number"
    ) {
      throw new TypeError(`not a normalizer: ${JSON.stringify(json)}`);
    }
    return new Normalizer(j.mean, j.std);
  }
}
