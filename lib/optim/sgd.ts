/**
 * SGD with momentum and (coupled, L2) weight decay, PyTorch's `torch.optim.SGD` without
 * dampening or Nesterov:
 *
 *   d = g + wd · p;   buf = d on the first step, else momentum · buf + d;   p ← p − lr · buf
 *
 * With momentum 0 the buffer is just d (PyTorch keeps none; we keep one so the backend's
 * fused step has a single shape).
 * @module
 */

import type { Backend, Storage } from "../backend/backend.ts";
import {
  checkKind,
  checkParameterNames,
  downloadF32,
  dropGrads,
  gradOf,
  scalarOf,
  uploadBuffer,
} from "./buffers.ts";
import type { Optimizer, OptimizerParameter, OptimizerState } from "./optimizer.ts";

/**
 * Hyperparameters of {@link SGD}; the defaults are CGCNN's (`main.py`: lr 0.01, momentum 0.9).
 */
export interface SgdOptions {
  /** Learning rate (default 0.01). */
  lr?: number;
  /** Momentum (default 0.9). */
  momentum?: number;
  /** L2 weight decay added to the gradient (default 0). */
  weightDecay?: number;
}

interface SgdState {
  backend: Backend;
  buf: Storage;
  steps: number;
}

/**
 * SGD with momentum over a list of parameters (one parameter group).
 *
 * @example
 * ```ts
 * import { createModel, SGD } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "cgcnn", device: "cpu" });
 * const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
 * opt.dispose();
 * model.dispose();
 * ```
 */
export class SGD implements Optimizer {
  /** Always `"sgd"`. */
  readonly kind = "sgd" as const;
  /** Learning rate. */
  lr: number;
  /** Momentum. */
  momentum: number;
  /** Weight decay. */
  weightDecay: number;
  readonly #params: readonly OptimizerParameter[];
  readonly #state = new Map<string, SgdState>();

  /** Creates the optimizer; momentum buffers are allocated at each parameter's first step. */
  constructor(params: readonly OptimizerParameter[], options: SgdOptions = {}) {
    checkParameterNames(params);
    this.#params = [...params];
    this.lr = options.lr ?? 0.01;
    this.momentum = options.momentum ?? 0.9;
    this.weightDecay = options.weightDecay ?? 0;
    if (!(this.lr >= 0)) throw new RangeError(`lr must be ≥ 0, got ${this.lr}`);
    if (!(this.momentum >= 0)) throw new RangeError(`momentum must be ≥ 0`);
  }

  /** One SGD step of every parameter with a gradient. */
  step(): void {
    for (const p of this.#params) {
      const g = gradOf(p);
      if (g === null) continue;
      const x = p.value;
      let s = this.#state.get(p.name);
      if (s === undefined) {
        s = { backend: x.backend, buf: x.backend.alloc("float32", x.size), steps: 0 };
        this.#state.set(p.name, s);
      }
      x.backend.sgdStep(x.storage, s.buf, g, x.size, {
        lr: this.lr,
        momentum: this.momentum,
        weightDecay: this.weightDecay,
        firstStep: s.steps === 0,
      });
      s.steps += 1;
    }
  }

  /** Disposes every gradient and sets it to null. */
  zeroGrad(): void {
    dropGrads(this.#params);
  }

  /** No-op. */
  train(): void {}

  /** No-op. */
  eval(): void {}

  /** Host copy: hyperparameters, per-parameter step counts `steps/<name>` and buffers `buf/<name>`. */
  stateDict(): OptimizerState {
    const scalars: OptimizerState["scalars"] = {
      lr: this.lr,
      momentum: this.momentum,
      weightDecay: this.weightDecay,
    };
    const tensors: Record<string, Float32Array> = {};
    for (const p of this.#params) {
      const s = this.#state.get(p.name);
      if (s === undefined) continue;
      scalars[`steps/${p.name}`] = s.steps;
      tensors[`buf/${p.name}`] = downloadF32(s.backend, s.buf);
    }
    return { kind: this.kind, scalars, tensors };
  }

  /** Restores hyperparameters (as PyTorch does), step counts and momentum buffers by name. */
  loadStateDict(state: OptimizerState): void {
    checkKind(state, this.kind);
    const fresh = new Map<string, SgdState>();
    try {
      for (const p of this.#params) {
        if (state.scalars[`steps/${p.name}`] === undefined) continue;
        const b = p.value.backend;
        const steps = scalarOf(state, `steps/${p.name}`);
        fresh.set(p.name, {
          backend: b,
          buf: uploadBuffer(b, state, "buf", p.name, p.value.size),
          steps,
        });
      }
    } catch (err) {
      freeAll(fresh);
      throw err;
    }
    freeAll(this.#state);
    for (const [k, v] of fresh) this.#state.set(k, v);
    this.lr = scalarOf(state, "lr");
    this.momentum = scalarOf(state, "momentum");
    this.weightDecay = scalarOf(state, "weightDecay");
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    freeAll(this.#state);
  }
}

function freeAll(map: Map<string, SgdState>): void {
  for (const s of map.values()) s.backend.free(s.buf);
  map.clear();
}
