/**
 * AdamW with PyTorch's semantics (`torch.optim.AdamW`, decoupled weight decay): per
 * parameter, with its own step count t (parameters without a gradient do not advance):
 *
 *   p ← p (1 − lr·wd);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
 *   p ← p − lr / (1 − β1^t) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
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
 * Hyperparameters of {@link AdamW}; the defaults are PyTorch's.
 */
export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** (β1, β2) (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Denominator term (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay (default 0.01, as PyTorch's AdamW). */
  weightDecay?: number;
}

interface AdamState {
  backend: Backend;
  m: Storage;
  v: Storage;
  t: number;
}

/**
 * AdamW over a list of parameters (one parameter group).
 *
 * @example
 * ```ts
 * import { AdamW, createModel } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "facgcnn", device: "cpu" });
 * const opt = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 1e-2 });
 * // forward, loss.backward(), then:
 * opt.step();
 * opt.zeroGrad();
 * opt.dispose();
 * model.dispose();
 * ```
 */
export class AdamW implements Optimizer {
  /** Always `"adamw"`. */
  readonly kind = "adamw" as const;
  /** Learning rate. */
  lr: number;
  /** β1. */
  beta1: number;
  /** β2. */
  beta2: number;
  /** eps. */
  eps: number;
  /** Weight decay. */
  weightDecay: number;
  readonly #params: readonly OptimizerParameter[];
  readonly #state = new Map<string, AdamState>();

  /** Creates the optimizer; moments are allocated at each parameter's first step. */
  constructor(params: readonly OptimizerParameter[], options: AdamWOptions = {}) {
    checkParameterNames(params);
    this.#params = [...params];
    this.lr = options.lr ?? 1e-3;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    if (!(this.lr >= 0)) throw new RangeError(`lr must be ≥ 0, got ${this.lr}`);
  }

  /** One AdamW step of every parameter with a gradient. */
  step(): void {
    for (const p of this.#params) {
      const g = gradOf(p);
      if (g === null) continue;
      const x = p.value;
      let s = this.#state.get(p.name);
      if (s === undefined) {
        const b = x.backend;
        s = { backend: b, m: b.alloc("float32", x.size), v: b.alloc("float32", x.size), t: 0 };
        this.#state.set(p.name, s);
      }
      s.t += 1;
      x.backend.adamWStep(x.storage, s.m, s.v, g, x.size, {
        lr: this.lr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        weightDecay: this.weightDecay,
        biasCorrection1: 1 - this.beta1 ** s.t,
        biasCorrection2: 1 - this.beta2 ** s.t,
      });
    }
  }

  /** Disposes every gradient and sets it to null. */
  zeroGrad(): void {
    dropGrads(this.#params);
  }

  /** No-op (AdamW evaluates at its iterate). */
  train(): void {}

  /** No-op (AdamW evaluates at its iterate). */
  eval(): void {}

  /** Host copy: hyperparameters, per-parameter step `t/<name>`, moments `m/<name>`, `v/<name>`. */
  stateDict(): OptimizerState {
    const scalars: OptimizerState["scalars"] = {
      lr: this.lr,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      weightDecay: this.weightDecay,
    };
    const tensors: Record<string, Float32Array> = {};
    for (const p of this.#params) {
      const s = this.#state.get(p.name);
      if (s === undefined) continue;
      scalars[`t/${p.name}`] = s.t;
      tensors[`m/${p.name}`] = downloadF32(s.backend, s.m);
      tensors[`v/${p.name}`] = downloadF32(s.backend, s.v);
    }
    return { kind: this.kind, scalars, tensors };
  }

  /** Restores hyperparameters (as PyTorch does), step counts and moments by parameter name. */
  loadStateDict(state: OptimizerState): void {
    checkKind(state, this.kind);
    const fresh = new Map<string, AdamState>();
    try {
      for (const p of this.#params) {
        if (state.scalars[`t/${p.name}`] === undefined) continue;
        const b = p.value.backend;
        const t = scalarOf(state, `t/${p.name}`);
        const m = uploadBuffer(b, state, "m", p.name, p.value.size);
        let v: Storage;
        try {
          v = uploadBuffer(b, state, "v", p.name, p.value.size);
        } catch (err) {
          b.free(m);
          throw err;
        }
        fresh.set(p.name, { backend: b, m, v, t });
      }
    } catch (err) {
      freeAll(fresh);
      throw err;
    }
    freeAll(this.#state);
    for (const [k, v] of fresh) this.#state.set(k, v);
    this.lr = scalarOf(state, "lr");
    this.beta1 = scalarOf(state, "beta1");
    this.beta2 = scalarOf(state, "beta2");
    this.eps = scalarOf(state, "eps");
    this.weightDecay = scalarOf(state, "weightDecay");
  }

  /** Frees the moments. */
  dispose(): void {
    freeAll(this.#state);
  }
}

function freeAll(map: Map<string, AdamState>): void {
  for (const s of map.values()) {
    s.backend.free(s.m);
    s.backend.free(s.v);
  }
  map.clear();
}
