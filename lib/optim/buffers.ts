/**
 * Internals shared by the optimizers: parameter checks, gradient access and state buffers
 * in backend storage (upload, download, clone). Not part of the public API.
 * @module
 */

import type { Backend, Storage } from "../backend/backend.ts";
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

/** Throws unless `state` was saved by an optimizer of `kind`. */
export function checkKind(state: OptimizerState, kind: OptimizerKind): void {
  if (state.kind !== kind) {
    throw new Error(`cannot load ${state.kind} optimizer state into ${kind}`);
  }
}
