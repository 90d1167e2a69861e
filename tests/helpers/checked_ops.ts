/**
 * Per-op leak checks, the way tfjs `engine.ts` checks every kernel in its debug mode:
 * `checkedOps(ops)` wraps each function of an ops module so that a call runs in its own `tidy`
 * scope (the op's intermediates are freed there) and then the backend must hold exactly one
 * more live storage per tensor returned (alone, or in an array or plain object); otherwise the call throws naming the op, e.g.
 * `exp leaked 1 storage on the cpu backend (live storages 12 → 14, 1 returned)`.
 * @module
 */

import type { Backend } from "../../lib/backend/backend.ts";
import { tidy } from "../../lib/tensor/scope.ts";
import { Tensor } from "../../lib/tensor/tensor.ts";

/** The backend an op call works on: a `Backend` argument, else the first tensor's. */
function backendOf(args: readonly unknown[]): Backend | null {
  for (const a of args) {
    if (a instanceof Tensor) return a.backend;
    if (Array.isArray(a)) {
      const t = a.find((x) => x instanceof Tensor);
      if (t) return (t as Tensor).backend;
    }
    if (a !== null && typeof a === "object" && "memory" in a && "alloc" in a) return a as Backend;
  }
  return null;
}

/** Live tensors in what an op returned: a tensor, or tensors in an array or plain object. */
function returnedStorages(value: unknown): number {
  if (value instanceof Tensor) return value.disposed ? 0 : 1;
  if (Array.isArray(value)) return value.reduce((n, v) => n + returnedStorages(v), 0);
  if (
    value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.values(value).reduce((n: number, v) => n + returnedStorages(v), 0);
  }
  return 0;
}

/** `op` with the per-call leak check, reported under `name`. */
export function checkedOp<A extends unknown[], R>(
  name: string,
  op: (...args: A) => R,
): (...args: A) => R {
  return (...args: A): R => {
    const backend = backendOf(args);
    if (backend === null) return op(...args);
    const before = backend.memory().liveBuffers;
    const result = tidy(() => op(...args));
    const after = backend.memory().liveBuffers;
    const returned = returnedStorages(result);
    if (after - before !== returned) {
      const n = after - before - returned;
      throw new Error(
        `${name} ${n > 0 ? "leaked" : "freed"} ${Math.abs(n)} storage${
          Math.abs(n) === 1 ? "" : "s"
        } on the ${backend.name} backend (live storages ${before} → ${after}, ${returned} returned)`,
      );
    }
    return result;
  };
}

/** Every function of `ops` wrapped by `checkedOp` under its own name; other exports as they are. */
export function checkedOps<M extends Record<string, unknown>>(ops: M): M {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(ops)) {
    out[name] = typeof value === "function"
      ? checkedOp(name, value as (...args: unknown[]) => unknown)
      : value;
  }
  return out as M;
}
