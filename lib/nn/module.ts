/**
 * `Module`: a tree of named parameters and buffers, with train/eval mode and state dicts.
 * Names follow PyTorch's dotted convention (`convs.0.fc_full.weight`) so CGCNN state dicts
 * map one to one.
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import { Tensor } from "../tensor/tensor.ts";

/**
 * A named trainable tensor (a leaf that requires a gradient).
 */
export interface Parameter {
  /** Dotted name, e.g. `convs.0.fc_full.weight`. */
  name: string;
  /** The tensor (a leaf that requires grad). */
  value: Tensor;
}

/** A named non-trainable state tensor (e.g. BatchNorm running statistics). */
export interface Buffer {
  name: string;
  value: Tensor;
}

/** Host copies of every parameter and buffer, by dotted name. */
export type StateDict = Map<string, { shape: number[]; data: Float32Array }>;

/** Base class of layers and models: holds children, parameters, buffers, and the mode. */
export abstract class Module {
  readonly backend: Backend;
  #training = true;
  readonly #children: [string, Module][] = [];
  readonly #parameters: [string, Tensor][] = [];
  readonly #buffers: [string, Tensor][] = [];

  constructor(backend: Backend) {
    this.backend = backend;
  }

  /** Registers a child module under `name` and returns it. */
  protected child<M extends Module>(name: string, module: M): M {
    this.#children.push([name, module]);
    return module;
  }

  /** Registers a parameter (owned by this module) and returns it. */
  protected param(name: string, value: Tensor): Tensor {
    this.#parameters.push([name, value]);
    return value;
  }

  /** Registers a buffer (owned by this module) and returns it. */
  protected buffer(name: string, value: Tensor): Tensor {
    this.#buffers.push([name, value]);
    return value;
  }

  /** True in training mode (BatchNorm uses batch statistics). */
  get training(): boolean {
    return this.#training;
  }

  /** Sets training mode on this module and every child. */
  train(on = true): this {
    this.#training = on;
    for (const [, c] of this.#children) c.train(on);
    return this;
  }

  /** Sets evaluation mode (BatchNorm uses running statistics). */
  eval(): this {
    return this.train(false);
  }

  /** All parameters with dotted names, in registration order. */
  parameters(prefix = ""): Parameter[] {
    const out: Parameter[] = this.#parameters.map(([n, value]) => ({ name: prefix + n, value }));
    for (const [n, c] of this.#children) out.push(...c.parameters(`${prefix}${n}.`));
    return out;
  }

  /** All buffers with dotted names. */
  buffers(prefix = ""): Buffer[] {
    const out: Buffer[] = this.#buffers.map(([n, value]) => ({ name: prefix + n, value }));
    for (const [n, c] of this.#children) out.push(...c.buffers(`${prefix}${n}.`));
    return out;
  }

  /** Direct and indirect child modules. */
  modules(): Module[] {
    const out: Module[] = [];
    for (const [, c] of this.#children) out.push(c, ...c.modules());
    return out;
  }

  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.value.size, 0);
  }

  /** Clears (frees) the gradient of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.value.grad?.dispose();
      p.value.grad = null;
    }
  }

  /** Host copies of all parameters and buffers. */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const { name, value } of [...this.parameters(), ...this.buffers()]) {
      out.set(name, { shape: [...value.shape], data: value.toFloat32Array() });
    }
    return out;
  }

  /**
   * Copies values into parameters and buffers. Every name must be present with the same
   * shape (a missing or unexpected entry is an error naming it), unless `strict` is false.
   */
  loadStateDict(state: StateDict, strict = true): void {
    const targets = [...this.parameters(), ...this.buffers()];
    const known = new Set(targets.map((t) => t.name));
    if (strict) {
      const unexpected = [...state.keys()].filter((k) => !known.has(k));
      if (unexpected.length > 0) {
        throw new Error(`state dict has unexpected entries: ${unexpected.join(", ")}`);
      }
    }
    for (const { name, value } of targets) {
      const entry = state.get(name);
      if (!entry) {
        if (strict) throw new Error(`state dict is missing "${name}"`);
        continue;
      }
      if (entry.data.length !== value.size) {
        throw new Error(
          `state dict "${name}" has shape [${entry.shape.join(", ")}], ` +
            `the model expects [${value.shape.join(", ")}]`,
        );
      }
      const s = this.backend.upload(entry.data);
      this.backend.copy(s, value.storage, value.size);
      this.backend.free(s);
    }
  }

  /** Frees every parameter, gradient and buffer. */
  dispose(): void {
    for (const { value } of [...this.parameters(), ...this.buffers()]) value.dispose();
  }
}

/** A leaf tensor owned by a module (not tracked by `tidy` scopes). */
export function ownedTensor(
  backend: Backend,
  data: Float32Array,
  shape: number[],
  requiresGrad: boolean,
): Tensor {
  return new Tensor(backend, backend.upload(data), shape, { requiresGrad, tracked: false });
}
