/**
 * `Linear` and `BatchNorm1d`, PyTorch's layouts and defaults.
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import type { Rng } from "../util/random.ts";
import { batchNorm, linear } from "../tensor/ops.ts";
import { noGrad } from "../tensor/scope.ts";
import { Tensor } from "../tensor/tensor.ts";
import { Module, ownedTensor } from "./module.ts";
import { globalBatchMoments } from "./sync_batch_norm.ts";

/**
 * `y = x·Wᵀ + b` with W `[out, in]`. Initialised like PyTorch's `nn.Linear`:
 * W, b ~ U(−1/√in, 1/√in) (kaiming-uniform with a = √5 reduces to that bound).
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** `[out, in]`. */
  readonly weight: Tensor;
  /** `[out]` or null. */
  readonly bias: Tensor | null;

  constructor(backend: Backend, inFeatures: number, outFeatures: number, rng: Rng, bias = true) {
    super(backend);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const bound = 1 / Math.sqrt(inFeatures);
    const uniform = (n: number) => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = (2 * rng.next() - 1) * bound;
      return a;
    };
    this.weight = this.param(
      "weight",
      ownedTensor(backend, uniform(outFeatures * inFeatures), [outFeatures, inFeatures], true),
    );
    this.bias = bias
      ? this.param("bias", ownedTensor(backend, uniform(outFeatures), [outFeatures], true))
      : null;
  }

  /** `[rows, in]` → `[rows, out]`. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/**
 * Batch normalisation over rows (`BatchNorm1d` on `[rows, features]`): eps 1e-5,
 * momentum 0.1, running variance updated with the unbiased batch variance (as PyTorch).
 * `momentum = null` gives a cumulative average, used to re-estimate statistics.
 */
export class BatchNorm1d extends Module {
  readonly features: number;
  readonly eps: number;
  momentum: number | null;
  /** γ, `[features]`. */
  readonly weight: Tensor;
  /** β, `[features]`. */
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  /** Batches seen since the last reset (PyTorch's `num_batches_tracked`). */
  batchesTracked = 0;
  /**
   * Data-parallel training (SyncBN): sums a float64 buffer over all processes in place. When
   * set, training-mode statistics are those of the global batch (every process's rows) and the
   * backward uses the global batch sums, so N processes compute what one process would on
   * the whole batch. Null (the default): this process's rows only.
   */
  sync: ((buf: Float64Array) => void) | null = null;

  constructor(
    backend: Backend,
    features: number,
    options: { eps?: number; momentum?: number } = {},
  ) {
    super(backend);
    this.features = features;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    const ones = new Float32Array(features).fill(1);
    this.weight = this.param("weight", ownedTensor(backend, ones, [features], true));
    this.bias = this.param(
      "bias",
      ownedTensor(backend, new Float32Array(features), [features], true),
    );
    this.runningMean = this.buffer(
      "running_mean",
      ownedTensor(backend, new Float32Array(features), [features], false),
    );
    this.runningVar = this.buffer("running_var", ownedTensor(backend, ones, [features], false));
  }

  /** Resets the running statistics to mean 0, variance 1 and the batch count to 0. */
  resetRunningStats(): void {
    this.backend.fill(this.runningMean.storage, 0);
    this.backend.fill(this.runningVar.storage, 1);
    this.batchesTracked = 0;
  }

  /**
   * Folds one training batch's statistics (`[features]`, biased variance over `rows` rows) into
   * the running ones, as PyTorch does (unbiased variance). `forward` calls it; a fused kernel
   * that computes the statistics itself (lib/models/cgcnn.ts) calls it directly.
   */
  trackBatch(mean: Tensor, variance: Tensor, rows: number): void {
    if (rows < 2) {
      throw new RangeError("BatchNorm1d in training mode needs more than one row per batch");
    }
    const b = this.backend;
    this.batchesTracked++;
    const m = this.momentum ?? 1 / this.batchesTracked;
    const unbiased = rows / (rows - 1);
    b.axpby(m, mean.storage, 1 - m, this.runningMean.storage, this.features);
    b.axpby(m * unbiased, variance.storage, 1 - m, this.runningVar.storage, this.features);
  }

  /** `[rows, features]` → same shape. */
  forward(x: Tensor): Tensor {
    if (x.cols !== this.features) {
      throw new RangeError(`BatchNorm1d(${this.features}) got [${x.shape.join(", ")}]`);
    }
    if (!this.training) {
      return batchNorm(
        x,
        this.weight,
        this.bias,
        this.runningMean,
        this.runningVar,
        this.eps,
        false,
      );
    }
    const b = this.backend;
    let rows = x.rows;
    let mean: Tensor, variance: Tensor;
    if (this.sync !== null) {
      const sync = this.sync;
      const g = globalBatchMoments(b.download(x.storage) as Float32Array, x.rows, x.cols, sync);
      rows = g.count;
      [mean, variance] = noGrad(() => [
        new Tensor(b, b.upload(g.mean), [this.features]),
        new Tensor(b, b.upload(g.variance), [this.features]),
      ]);
    } else {
      [mean, variance] = noGrad(() => {
        const m = new Tensor(b, b.alloc("float32", this.features), [this.features]);
        const v = new Tensor(b, b.alloc("float32", this.features), [this.features]);
        b.columnMoments(x.storage, m.storage, v.storage, x.rows, this.features);
        return [m, v];
      });
    }
    this.trackBatch(mean, variance, rows);
    return batchNorm(
      x,
      this.weight,
      this.bias,
      mean,
      variance,
      this.eps,
      true,
      this.sync ?? undefined,
    );
  }
}
