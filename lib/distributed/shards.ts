/**
 * How a data-parallel run splits its training set and batches: the training set (in its
 * split order) is cut into P contiguous shards, one per process; each global batch of B
 * crystals takes ⌊B/P⌋ or ⌈B/P⌉ crystals from every shard (shard r's own shuffled order, one
 * random stream per shard and epoch). The global batch is therefore the same whether P
 * processes each hold one shard or one process holds all P shards, which is what makes a
 * P-process run reproducible in one process.
 * @module
 */

import { Rng } from "../util/random.ts";

/** Shard `index` of `n` items in `shards` contiguous parts (sizes differ by at most one). */
export function shardRange(
  n: number,
  shards: number,
  index: number,
): { start: number; end: number } {
  checkShards(shards, index);
  const base = Math.floor(n / shards), extra = n % shards;
  const start = index * base + Math.min(index, extra);
  return { start, end: start + base + (index < extra ? 1 : 0) };
}

function checkShards(shards: number, index: number): void {
  if (!Number.isInteger(shards) || shards < 1) {
    throw new RangeError(`shards must be a positive integer, got ${shards}`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= shards) {
    throw new RangeError(`shard index ${index} outside 0..${shards - 1}`);
  }
}

/**
 * The batches of one epoch over P shards.
 *
 * @example
 * ```ts
 * import { BatchPlan } from "./shards.ts";
 * const plan = new BatchPlan([50, 50], 32); // two shards of 50, global batch 32
 * console.log(plan.steps, plan.stepCounts(0)); // 4 [16, 16]
 * ```
 */
export class BatchPlan {
  /** Training crystals per shard. */
  readonly shardSizes: readonly number[];
  /** Crystals each shard gives to a full global batch (sum: the global batch size). */
  readonly localBatch: readonly number[];
  /** Steps per epoch: every shard still has crystals left for each of them. */
  readonly steps: number;

  /** Plans `batchSize`-crystal global batches over shards of the given sizes. */
  constructor(shardSizes: readonly number[], batchSize: number) {
    const P = shardSizes.length;
    if (P < 1) throw new RangeError("BatchPlan needs at least one shard");
    if (!Number.isInteger(batchSize) || batchSize < P) {
      throw new RangeError(
        `batch size ${batchSize} is smaller than the ${P} processes: every process needs at least one crystal per step`,
      );
    }
    const small = shardSizes.findIndex((n) => n < 1);
    if (small >= 0) throw new RangeError(`shard ${small} has no training crystals`);
    this.shardSizes = [...shardSizes];
    this.localBatch = shardSizes.map((_, r) =>
      Math.floor(batchSize / P) + (r < batchSize % P ? 1 : 0)
    );
    // The last step of an epoch may be short; the epoch ends when the first shard runs out
    // (the few crystals other shards still hold wait for the next epoch's shuffle).
    this.steps = Math.min(...shardSizes.map((n, r) => Math.ceil(n / this.localBatch[r])));
  }

  /** Positions `[start, end)` in shard `r`'s epoch order used by step `s`. */
  range(step: number, r: number): { start: number; end: number } {
    const start = step * this.localBatch[r];
    return { start, end: Math.min(this.shardSizes[r], start + this.localBatch[r]) };
  }

  /** Crystals every shard contributes to step `s`. */
  stepCounts(step: number): number[] {
    return this.shardSizes.map((_, r) => {
      const { start, end } = this.range(step, r);
      return end - start;
    });
  }
}

/**
 * Shard `r`'s crystal order in `epoch` (indices local to the shard). One shard uses the
 * single-process stream (`Rng(seed, 1000 + epoch)`), so a one-shard plan is the ordinary
 * shuffled epoch; shard r of P > 1 has its own stream.
 */
export function shardEpochOrder(
  count: number,
  seed: number,
  epoch: number,
  shard: number,
  shards: number,
): Int32Array {
  checkShards(shards, shard);
  const stream = shards === 1 ? 1000 + epoch : 0x40000000 + shard * 0x100000 + epoch;
  return new Rng(seed, stream).shuffle(new Int32Array(count).map((_, i) => i));
}
