/**
 * Test helpers: parameters on the CPU backend with hand-set gradients, and comparisons.
 * @module
 */

import assert from "node:assert/strict";
import type { Backend } from "../../lib/backend/backend.ts";
import { Tensor } from "../../lib/tensor/tensor.ts";
import type { OptimizerParameter } from "../../lib/optim/optimizer.ts";

/** A parameter leaf holding `data` (float32). */
export function param(backend: Backend, name: string, data: number[]): OptimizerParameter {
  const value = new Tensor(backend, backend.upload(new Float32Array(data)), [data.length], {
    requiresGrad: true,
    tracked: false,
  });
  return { name, value };
}

/**
 * Frees optimizers and parameters (with their gradients) at the end of a test, so that the
 * helper's leak check sees every storage the test made released.
 */
export function release(...items: ({ dispose(): void } | OptimizerParameter)[]): void {
  for (const item of items) ("value" in item ? item.value : item).dispose();
}

/** Replaces the parameter's gradient with `g`. */
export function setGrad(backend: Backend, p: OptimizerParameter, g: ArrayLike<number>): void {
  p.value.grad?.dispose();
  p.value.grad = new Tensor(backend, backend.upload(Float32Array.from(g)), [g.length], {
    tracked: false,
  });
}

/**
 * Steps `opt` with the toy gradient at the current values of `p`, salts `from` … `to − 1`
 * (the gradient of step t is `toyGrad(values(p), t)`).
 */
export function toySteps(
  backend: Backend,
  opt: { step(): void },
  p: OptimizerParameter,
  to: number,
  from = 0,
): void {
  for (let t = from; t < to; t++) {
    setGrad(backend, p, toyGrad(values(p), t));
    opt.step();
  }
}

/** Host values of a parameter as float64 numbers. */
export function values(p: OptimizerParameter): number[] {
  return [...p.value.toFloat32Array()];
}

/** Element-wise `|a − b| ≤ rel · max(|b|, 1)`. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel: number,
  label = "",
): void {
  assert.equal(actual.length, expected.length, `${label} length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(
      err <= rel * Math.max(Math.abs(expected[i]), 1),
      `${label}[${i}]: ${actual[i]} vs ${expected[i]} (err ${err.toExponential(2)})`,
    );
  }
}

/** A toy loss gradient: g = a ⊙ (p − t) + b, a fixed quadratic with an offset. */
export function toyGrad(p: ArrayLike<number>, salt: number): number[] {
  return Array.from(
    p,
    (x, i) => (1 + 0.5 * i) * (x - 0.3 * (i - 1)) + 0.05 * salt * (i % 2 ? 1 : -1),
  );
}
