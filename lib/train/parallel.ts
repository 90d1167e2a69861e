/**
 * Data-parallel training epochs: every process trains on its part of each global batch (its
 * shards' crystals, see `BatchPlan`), with the loss scaled by its share of the batch so that
 * the summed gradients are those of the global batch's mean loss; BatchNorm statistics are
 * synchronised (SyncBN); the gradients and the loss go through one fused all-reduce per step
 * before the optimizer update, so every process applies the same update to the same weights.
 * A process that holds several shards (a one-process run with `shards: P`) trains on their
 * concatenation and reproduces the P-process run.
 * @module
 */

import type { Communicator } from "../distributed/communicator.ts";
import { GradientAllreduce } from "../distributed/gradients.ts";
import { NcclCommunicator, openNccl } from "../distributed/nccl.ts";
import type { Storage } from "../backend/backend.ts";
import { type BatchPlan, shardEpochOrder } from "../distributed/shards.ts";
import type { GraphSet } from "../crystal/types.ts";
import { collate } from "../graph/batch.ts";
import type { Model } from "../models/model.ts";
import { BatchNorm1d } from "../nn/layers.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { affine } from "../tensor/ops.ts";
import "../autograd/backward.ts"; // installs Tensor.backward()
import { rebuildBatchNormStats, type TrainHooks } from "./epoch.ts";
import { lossAndGradients, mseTargetLoss } from "./step.ts";
import type { Normalizer } from "./normalizer.ts";
import type { ShardedData } from "./shard_data.ts";

/** What a data-parallel epoch needs besides the model and optimizer. */
export interface ParallelRun {
  /** The process group. */
  comm: Communicator;
  /** Number of shards (the process count, or more in a one-process reproduction). */
  shards: number;
  /** This process's shards. */
  data: ShardedData;
  /** The batches of an epoch. */
  plan: BatchPlan;
  /** The fused gradient all-reduce. */
  reducer: GradientAllreduce;
  /** Run seed. */
  seed: number;
}

/**
 * Callbacks of a parallel epoch: the trainer's own epoch-start and batch hooks (a batch is
 * one global step; its loss and size are the global batch's).
 */
export type ParallelHooks = Pick<TrainHooks, "onEpochStart" | "onBatch">;

/** Turns SyncBN on in every BatchNorm of `model` when `comm` has more than one process. */
export function attachSyncBatchNorm(model: Model, comm: Communicator): void {
  if (comm.size < 2) return;
  const sum = (buf: Float64Array) => comm.allreduceSum(buf);
  for (const m of model.network.modules()) if (m instanceof BatchNorm1d) m.sync = sum;
}

/** The frame stream of an epoch: the one-process stream, or one per process. */
export function frameStream(epoch: number, comm: Communicator): number {
  return comm.size === 1 ? 100000 + epoch : 0x20000000 + comm.rank * 0x100000 + epoch;
}

/** This process's shard orders of `epoch` (indices into `run.data.train`). */
export function epochOrders(run: ParallelRun, epoch: number): Int32Array[] {
  return run.data.own.map((o) => {
    const order = shardEpochOrder(o.count, run.seed, epoch, o.shard, run.shards);
    for (let i = 0; i < order.length; i++) order[i] += o.start;
    return order;
  });
}

/** This process's crystals of step `s`: its shards' parts, in shard order. */
export function stepIndices(run: ParallelRun, orders: Int32Array[], s: number): Int32Array {
  const parts = run.data.own.map((o, k) => {
    const { start, end } = run.plan.range(s, o.shard);
    return orders[k].subarray(start, end);
  });
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Raised (on every process at the same step) when the global loss is not finite. */
export class ParallelDivergedError extends Error {}

/**
 * One data-parallel epoch; returns the mean global-batch loss (standardised MSE), the same on
 * every process. A non-finite loss anywhere makes the summed loss non-finite everywhere, so
 * all processes stop at the same step (no process is left waiting in a collective).
 */
export function parallelEpoch(
  model: Model,
  optimizer: Optimizer,
  run: ParallelRun,
  normalizer: Normalizer,
  epoch: number,
  epochs: number,
  hooks: ParallelHooks = {},
): number {
  const orders = epochOrders(run, epoch);
  const train: GraphSet = run.data.train;
  const batches = run.plan.steps;
  let lossSum = 0, count = 0;
  hooks.onEpochStart?.(epoch, epochs, batches);
  for (let s = 0; s < batches; s++) {
    const global = run.plan.stepCounts(s).reduce((a, b) => a + b, 0);
    if (global < 2) continue; // BatchNorm needs two crystals (one process: a lone remainder)
    const idx = stepIndices(run, orders, s);
    const batch = collate(train, idx);
    const targets = new Float32Array(normalizer.norm(batch.targets));
    // Mean over the global batch = Σ over processes of (local mean · local share).
    const share = idx.length / global;
    const local = lossAndGradients(
      model,
      batch,
      targets,
      (p, t) => affine(mseTargetLoss(p, t), share),
    );
    const loss = run.reducer.reduce(local);
    if (!Number.isFinite(loss)) {
      optimizer.zeroGrad();
      throw new ParallelDivergedError(
        `loss became ${loss} at epoch ${epoch} batch ${s + 1}/${batches}; ` +
          `the last good checkpoints are kept`,
      );
    }
    optimizer.step();
    optimizer.zeroGrad();
    lossSum += loss * global;
    count += global;
    hooks.onBatch?.({ epoch, epochs, batch: s + 1, batches, loss, crystals: global });
  }
  return lossSum / count;
}

/**
 * Re-estimates BatchNorm running statistics (Schedule-Free evaluates at weights x that never
 * ran forward) over up to `nBatches` full global batches of `epoch`'s order, with SyncBN, so
 * every process ends with the statistics one process would get on the same global batches.
 */
export function parallelReestimateBatchNorm(
  model: Model,
  run: ParallelRun,
  epoch: number,
  nBatches: number,
): void {
  const full = Math.min(
    ...run.plan.shardSizes.map((n, r) => Math.floor(n / run.plan.localBatch[r])),
  );
  const batches = Math.min(nBatches, full || 1);
  const orders = epochOrders(run, epoch);
  rebuildBatchNormStats(
    model,
    function* () {
      for (let s = 0; s < batches; s++) {
        if (run.plan.stepCounts(s).reduce((a, b) => a + b, 0) < 2) return;
        yield collate(run.data.train, stepIndices(run, orders, s));
      }
    }(),
  );
}

/**
 * The gradient all-reduce for `backend`: on CUDA with more than one process, NCCL on the
 * device when libnccl can be opened (else the host path over MPI, said in `log`); on the CPU,
 * MPI on a host buffer.
 */
export function gradientReducer(
  model: Model,
  comm: Communicator,
  log: (line: string) => void,
): GradientAllreduce {
  const params = model.parameters().map((p) => p.value);
  const backend = model.backend;
  if (backend.name === "cuda" && comm.size > 1) {
    const cuda = backend as unknown as {
      devicePointer(s: Storage): Deno.PointerValue;
      stream: Deno.PointerValue;
    };
    try {
      const nccl = NcclCommunicator.create(comm, openNccl());
      log(`gradients: ${nccl.api.description} on the compute stream`);
      return new GradientAllreduce(params, comm, backend, {
        nccl,
        devicePointer: (s) => cuda.devicePointer(s),
        stream: cuda.stream,
      });
    } catch (e) {
      log(
        `gradients: NCCL unavailable (${(e as Error).message.split("\n")[0]}); MPI on host copies`,
      );
    }
  }
  return new GradientAllreduce(params, comm, backend);
}
