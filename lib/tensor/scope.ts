/**
 * Memory scopes (`tidy`) and the no-grad mode.
 *
 * Every tensor created inside `tidy(fn)` is freed when `fn` returns, except the tensors it
 * returns (which move to the enclosing scope) and tensors passed to `keep`. This is how a
 * training step frees all of its intermediates (tfjs `engine.ts` works the same way).
 * A `FinalizationRegistry` is deliberately not relied on: device memory must be freed on time.
 * @module
 */

/**
 * What a scope needs of a tensor.
 */
export interface Disposable {
  /** Frees the resource; idempotent. */
  dispose(): void;
  /** True once freed. */
  readonly disposed: boolean;
}

const scopes: Set<Disposable>[] = [];
let gradEnabled = true;

/** Registers a newly created tensor with the innermost scope (if any). */
export function trackTensor(t: Disposable): void {
  if (scopes.length > 0) scopes[scopes.length - 1].add(t);
}

/**
 * Exempts `t` from every enclosing scope: the caller now owns it. Returns `t`.
 *
 * @example
 * ```ts
 * import { keep, selectBackend, Tensor, tidy } from "@facgcnn/toolkit";
 * const be = selectBackend("cpu");
 * const kept = tidy(() => {
 *   const tmp = new Tensor(be, be.upload(new Float32Array(3)), [3]); // freed when tidy ends
 *   return keep(new Tensor(be, be.upload(new Float32Array([1, 2, 3])), [3])); // survives
 * });
 * kept.dispose();
 * ```
 */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Disposable>): void {
  if (value === null || typeof value !== "object") return;
  if ("dispose" in value && "disposed" in value) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) { for (const v of value) collect(v, out); }
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out);
  }
}

/**
 * Runs `fn` in a memory scope: tensors created inside and not returned (directly, or in an
 * array or plain object) are disposed when it ends, also when it throws. `fn` must be
 * synchronous: device work inside a scope cannot await.
 *
 * @example
 * ```ts
 * import { selectBackend, Tensor, tidy } from "@facgcnn/toolkit";
 * const be = selectBackend("cpu");
 * const sum = tidy(() => {
 *   const t = new Tensor(be, be.upload(new Float32Array([1, 2, 3])), [3]);
 *   return t.toFloat32Array().reduce((a, b) => a + b, 0); // t is freed on return
 * });
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new Error("tidy() takes a synchronous function; await outside the scope");
    }
  } catch (e) {
    // Nothing is returned on a throw: every tensor of the scope is freed.
    for (const t of scope) if (!t.disposed) t.dispose();
    throw e;
  } finally {
    scopes.pop();
  }
  const returned = new Set<Disposable>();
  collect(result, returned);
  for (const t of scope) {
    if (returned.has(t)) trackTensor(t);
    else if (!t.disposed) t.dispose();
  }
  return result;
}

/** True unless inside `noGrad`. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs `fn` without recording operations for backpropagation (inference, BN re-estimation).
 *
 * @example
 * ```ts
 * import { collate, createModel, loadGraphs, noGrad, tidy } from "@facgcnn/toolkit";
 * const { graphs } = await loadGraphs("synthetic:4", { cacheDir: null });
 * const model = createModel({ kind: "cgcnn", device: "cpu" }).eval();
 * const out = tidy(() => noGrad(() => model.forward(collate(graphs, [0, 1, 2, 3])).toFloat32Array()));
 * model.dispose();
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/**
 * Frees intermediates at once when no gradient is being recorded (inside `noGrad`): nothing
 * will read them again, yet the enclosing `tidy` would keep them until it ends. An inference
 * pass then holds about one layer's tensors instead of all of them, so its arrays come back
 * to the allocator's cache while still hot (a conv's `[E, 2A]` pre-activation is reused by the
 * next conv instead of a new block). With gradients on it does nothing: backward needs them.
 */
export function releaseUnrecorded(...ts: Disposable[]): void {
  if (gradEnabled) return;
  for (const t of ts) t.dispose();
}

/** What the leak check reads of a backend: its name and its count of live storages. */
export interface StorageCounter {
  /** Backend name, for the message. */
  readonly name: string;
  /** Live storages and bytes now. */
  memory(): { liveBuffers: number; liveBytes: number };
}

/**
 * Debug check that `fn` leaks no storage, the check tfjs `engine.ts` runs around every kernel
 * in its debug mode. `fn` runs in a `tidy` scope and its result is dropped, so every tensor it
 * makes is freed; if `backend` then holds a different number of live storages than before, a
 * kernel allocated a buffer that no tensor owns, or an untracked tensor (a parameter, a
 * gradient) was left alive. Throws an `Error` naming `label` (the op) and the counts.
 *
 * @example
 * ```ts
 * import { checkNoLeaks, selectBackend, Tensor } from "@facgcnn/toolkit";
 * const be = selectBackend("cpu");
 * checkNoLeaks(be, "upload", () => new Tensor(be, be.upload(new Float32Array(3)), [3])); // passes
 * ```
 */
export function checkNoLeaks(backend: StorageCounter, label: string, fn: () => unknown): void {
  const before = backend.memory();
  tidy(() => {
    const result = fn();
    if (result instanceof Promise) {
      throw new Error(`checkNoLeaks(${label}): fn must be synchronous (it runs in a tidy scope)`);
    }
  });
  const after = backend.memory();
  if (after.liveBuffers !== before.liveBuffers) {
    const n = after.liveBuffers - before.liveBuffers;
    const what = n > 0
      ? `leaked ${n} storage${n === 1 ? "" : "s"} (${after.liveBytes - before.liveBytes} bytes)`
      : `freed ${-n} storage${n === -1 ? "" : "s"} it did not create`;
    throw new Error(
      `${label} ${what} on the ${backend.name} backend: live storages ${before.liveBuffers} → ${after.liveBuffers}`,
    );
  }
}
