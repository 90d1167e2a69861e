/**
 * The interface every optimizer implements, its serialisable state, and small helpers for
 * per-parameter state buffers in backend storage.
 *
 * Optimizers keep their state on the device (one fused backend launch per parameter per
 * step, `Backend.*Step`); only a handful of scalars (step counts, the learning rate, the
 * Schedule-Free weight sum) live on the host, in float64.
 * @module
 */

import type { Backend, Storage } from "../backend/backend.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * What an optimizer needs from a parameter: a stable name (the key of its state in
 * checkpoints) and the tensor it updates in place, whose `.grad` holds the gradient.
 * `nn`'s `Parameter` has exactly this shape.
 */
export interface OptimizerParameter {
  name: string;
  value: Tensor;
}

/** The optimizers this toolkit has (the `--optimizer` values). */
export type OptimizerKind = "sf-adamw" | "adamw" | "sgd";

/**
 * An optimizer's state as plain host data, for checkpoints. `scalars` holds
 * hyperparameters and counters (JSON-safe float64 numbers); `tensors` holds per-parameter
 * buffers keyed `<buffer>/<parameter name>` (e.g. `z/conv.0.fc.weight`).
 */
export interface OptimizerState {
  kind: OptimizerKind;
  scalars: Record<string, number | boolean | string>;
  tensors: Record<string, Float32Array>;
}

/** The common optimizer interface the trainer drives. */
export interface Optimizer {
  /** Which algorithm this is. */
  readonly kind: OptimizerKind;
  /** Base learning rate (schedulers set it; Schedule-Free warmup scales it inside `step`). */
  lr: number;
  /** One update of every parameter that has a gradient; parameters with `grad === null` are skipped. */
  step(): void;
  /** Drops the gradients (disposes them and sets `grad = null`, PyTorch's `set_to_none`). */
  zeroGrad(): void;
  /** Puts the parameters in training form (Schedule-Free: y). A no-op for AdamW and SGD. */
  train(): void;
  /** Puts the parameters in evaluation form (Schedule-Free: x). A no-op for AdamW and SGD. */
  eval(): void;
  /** A host copy of the state (hyperparameters, counters, buffers). */
  stateDict(): OptimizerState;
  /** Restores a state from {@link Optimizer.stateDict}; buffers are matched by parameter name. */
  loadStateDict(state: OptimizerState): void;
  /** Frees the state storage. The optimizer must not be used afterwards. */
  dispose(): void;
}

/** Checks that names are unique, since state is keyed by name. */
export function checkParameterNames(params: readonly OptimizerParameter[]): void {
  const seen = new Set<string>();
  for (const p of params) {
    if (seen.has(p.name)) throw new Error(`duplicate parameter name "${p.name}" in optimizer`);
    seen.add(p.name);
  }
}

/** The gradient storage of `p`, or null when it has none; checks its length. */
export function gradOf(p: OptimizerParameter): Storage | null {
  const g = p.value.grad;
  if (g === null) return null;
  if (g.size !== p.value.size) {
    throw new RangeError(
      `gradient of "${p.name}" has ${g.size} elements, parameter ${p.value.size}`,
    );
  }
  return g.storage;
}

/** Disposes every gradient and sets it to null. */
export function dropGrads(params: readonly OptimizerParameter[]): void {
  for (const p of params) {
    p.value.grad?.dispose();
    p.value.grad = null;
  }
}

/** New float32 storage holding a copy of `src`'s first `length` elements. */
export function cloneStorage(backend: Backend, src: Storage, length: number): Storage {
  const out = backend.alloc("float32", length);
  backend.copy(src, out, length);
  return out;
}

/** Downloads a float32 state buffer. */
export function downloadF32(backend: Backend, s: Storage): Float32Array {
  const a = backend.download(s);
  if (!(a instanceof Float32Array)) throw new TypeError("optimizer state must be float32");
  return a;
}

/** Uploads a saved buffer for parameter `name`, checking its length. */
export function uploadBuffer(
  backend: Backend,
  state: OptimizerState,
  buffer: string,
  name: string,
  length: number,
): Storage {
  const key = `${buffer}/${name}`;
  const data = state.tensors[key];
  if (data === undefined) throw new Error(`optimizer state has no "${key}"`);
  if (data.length !== length) {
    throw new RangeError(
      `optimizer state "${key}" has ${data.length} elements, expected ${length}`,
    );
  }
  return backend.upload(data);
}

/** Reads a numeric scalar from a saved state, with a clear error when absent. */
export function scalarOf(state: OptimizerState, key: string): number {
  const v = state.scalars[key];
  if (typeof v !== "number") throw new Error(`optimizer state has no number "${key}"`);
  return v;
}

/** Throws unless `state` was saved by an optimizer of `kind`. */
export function checkKind(state: OptimizerState, kind: OptimizerKind): void {
  if (state.kind !== kind) {
    throw new Error(`cannot load ${state.kind} optimizer state into ${kind}`);
  }
}
