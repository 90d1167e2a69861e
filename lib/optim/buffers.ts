/**
 * Internals shared by the optimizers: parameter checks, gradient access, and `StateBuffers`,
 * the one place that allocates, saves, restores and frees per-parameter state in backend
 * storage. Not part of the public API.
 * @module
 */

import type { Backend, Storage } from "../backend/backend.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { OptimizerKind, OptimizerParameter, OptimizerState } from "./optimizer.ts";

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

/** The numeric fields `keys` of `source` (hyperparameters), as state scalars. */
export function pickScalars<K extends string>(
  source: Readonly<Record<K, number>>,
  keys: readonly K[],
): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of keys) out[k] = source[k];
  return out;
}

/** The numeric scalars `keys` of a saved state; throws naming the first one absent. */
export function readScalars<K extends string>(
  state: OptimizerState,
  keys: readonly K[],
): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of keys) out[k] = scalarOf(state, k);
  return out;
}

/** Throws unless `state` was saved by an optimizer of `kind`. */
export function checkKind(state: OptimizerState, kind: OptimizerKind): void {
  if (state.kind !== kind) {
    throw new Error(`cannot load ${state.kind} optimizer state into ${kind}`);
  }
}

/** The state of one parameter: its buffers (each as long as the parameter) and a step count. */
export interface ParamState<K extends string> {
  /** The backend that owns the buffers (the parameter's). */
  readonly backend: Backend;
  /** One float32 storage per buffer name. */
  readonly buffers: Record<K, Storage>;
  /** Per-parameter step counter (AdamW's t, SGD's steps); 0 when the optimizer keeps none. */
  count: number;
}

/**
 * Per-parameter optimizer state in backend storage, keyed by parameter name: buffers `names`
 * (saved as tensors `<buffer>/<parameter name>`) and, when `counter` is given, a step count
 * (saved as the scalar `<counter>/<parameter name>`). State is created at a parameter's first
 * step; parameters that never had a gradient have none and are not saved.
 */
export class StateBuffers<K extends string> {
  readonly #names: readonly K[];
  readonly #counter: string | null;
  readonly #map = new Map<string, ParamState<K>>();

  /** `names`: the buffers of each parameter; `counter`: the scalar prefix of its step count. */
  constructor(names: readonly [K, ...K[]], counter: string | null = null) {
    this.#names = names;
    this.#counter = counter;
  }

  /** The state of the parameter `name`, if it has any. */
  get(name: string): ParamState<K> | undefined {
    return this.#map.get(name);
  }

  /**
   * Calls `fn` for every parameter with a gradient (in order), with the gradient's storage and
   * the parameter's state, which `init` creates at its first step (buffers as long as `x`).
   */
  forEachWithGrad(
    params: readonly OptimizerParameter[],
    init: (x: Tensor) => Record<K, Storage>,
    fn: (x: Tensor, grad: Storage, state: ParamState<K>) => void,
  ): void {
    for (const p of params) {
      const g = gradOf(p);
      if (g === null) continue;
      let s = this.#map.get(p.name);
      if (s === undefined) {
        s = { backend: p.value.backend, buffers: init(p.value), count: 0 };
        this.#map.set(p.name, s);
      }
      fn(p.value, g, s);
    }
  }

  /** Host copies into a state dict: buffers into `tensors`, the step counts into `scalars`. */
  save(
    params: readonly OptimizerParameter[],
    scalars: OptimizerState["scalars"],
    tensors: OptimizerState["tensors"],
  ): void {
    for (const p of params) {
      const s = this.#map.get(p.name);
      if (s === undefined) continue;
      if (this.#counter !== null) scalars[`${this.#counter}/${p.name}`] = s.count;
      for (const k of this.#names) tensors[`${k}/${p.name}`] = downloadF32(s.backend, s.buffers[k]);
    }
  }

  /**
   * Replaces the state by the one saved in `state`, matched by parameter name (a parameter
   * absent from it starts fresh at its next step). All or nothing: on an error (a missing or
   * wrongly sized buffer) nothing is uploaded or kept and the current state stays.
   */
  load(params: readonly OptimizerParameter[], state: OptimizerState): void {
    const fresh = new Map<string, ParamState<K>>();
    try {
      for (const p of params) {
        const saved = this.#counter !== null
          ? state.scalars[`${this.#counter}/${p.name}`] !== undefined
          : state.tensors[`${this.#names[0]}/${p.name}`] !== undefined;
        if (!saved) continue;
        const backend = p.value.backend;
        const count = this.#counter !== null ? scalarOf(state, `${this.#counter}/${p.name}`) : 0;
        const buffers = {} as Record<K, Storage>;
        fresh.set(p.name, { backend, buffers, count }); // so that a later failure frees these
        for (const k of this.#names) {
          buffers[k] = uploadBuffer(backend, state, k, p.name, p.value.size);
        }
      }
    } catch (err) {
      freeStates(fresh);
      throw err;
    }
    freeStates(this.#map);
    for (const [k, v] of fresh) this.#map.set(k, v);
  }

  /** Frees every buffer; the optimizer starts fresh at its next step. */
  dispose(): void {
    freeStates(this.#map);
  }
}

function freeStates<K extends string>(map: Map<string, ParamState<K>>): void {
  for (const s of map.values()) {
    for (const b of Object.values<Storage>(s.buffers)) s.backend.free(b);
  }
  map.clear();
}
