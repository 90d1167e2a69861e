/**
 * `Tensor`: a 1-D or 2-D array of float32 values (or int32 indices) in a backend's storage,
 * with an optional gradient and the `Op` that produced it.
 * @module
 */

import type { Backend, DType, Storage } from "../backend/backend.ts";
import type { Op } from "./op.ts";
import { isGradEnabled, trackTensor } from "./scope.ts";

/**
 * A tensor shape: `[n]` or `[rows, cols]`.
 */
export type Shape = readonly number[];

let nextId = 0;

/**
 * Reverse-mode differentiation from a one-element tensor, as {@linkcode Tensor.backward} runs
 * it. Autograd sits above the tensor layer: `lib/autograd/backward.ts` installs its
 * implementation with {@linkcode setBackward} when it is imported (`mod.ts` does), so this
 * module imports nothing from it.
 */
export type BackwardFn = (root: Tensor) => void;

let backwardFn: BackwardFn | null = null;

/**
 * Installs the implementation behind {@linkcode Tensor.backward} (called once by
 * `lib/autograd/backward.ts`). Internal.
 * @ignore
 */
export function setBackward(fn: BackwardFn): void {
  backwardFn = fn;
}

/** Checks a shape and returns its element count. */
export function shapeSize(shape: Shape): number {
  if (shape.length < 1 || shape.length > 2) {
    throw new RangeError(`tensors are 1-D or 2-D; got shape [${shape.join(", ")}]`);
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad shape [${shape.join(", ")}]`);
  }
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A float32 or int32 tensor in device storage.
 *
 * @example
 * ```ts
 * import { selectBackend, Tensor } from "@facgcnn/toolkit";
 * const be = selectBackend("cpu");
 * const t = new Tensor(be, be.upload(new Float32Array([1, 2, 3, 4, 5, 6])), [2, 3]);
 * console.log(String(t), t.toFloat32Array()); // Tensor[2, 3] float32 cpu …
 * t; // in a Deno notebook: shape, dtype, device and the first values
 * t.dispose();
 * ```
 */
export class Tensor {
  /** Creation order; autograd uses it to break ties deterministically. */
  readonly id: number;
  /** The backend that owns the storage. */
  readonly backend: Backend;
  /** Shape: `[n]` or `[rows, cols]`. */
  readonly shape: Shape;
  /** Element count. */
  readonly size: number;
  /** Element type: "float32" or "int32". */
  readonly dtype: DType;
  /** True for parameters and for results of ops on them (while grad mode is on). */
  readonly requiresGrad: boolean;
  /** Accumulated gradient (leaves only), owned by this tensor. */
  grad: Tensor | null = null;
  /**
   * How this tensor was computed; null for leaves and for results under `noGrad`. Internal.
   * @ignore
   */
  readonly op: Op | null;
  #storage: Storage | null;

  /**
   * Wraps `storage` (the tensor takes ownership). Registered with the current `tidy` scope
   * unless `tracked` is false (parameters, gradients, optimizer state).
   */
  constructor(
    backend: Backend,
    storage: Storage,
    shape: Shape,
    options: { op?: Op | null; requiresGrad?: boolean; tracked?: boolean } = {},
  ) {
    const size = shapeSize(shape);
    if (storage.length !== size) {
      throw new RangeError(`storage of ${storage.length} elements for shape [${shape.join(", ")}]`);
    }
    this.id = nextId++;
    this.backend = backend;
    this.#storage = storage;
    this.shape = Object.freeze([...shape]);
    this.size = size;
    this.dtype = storage.dtype;
    const op = options.op && isGradEnabled() ? options.op : null;
    this.op = op;
    this.requiresGrad = options.requiresGrad ?? op !== null;
    if (options.tracked !== false) trackTensor(this);
  }

  /** The storage; throws once disposed. */
  get storage(): Storage {
    if (this.#storage === null) {
      throw new Error(`tensor #${this.id} [${this.shape.join(", ")}] used after dispose()`);
    }
    return this.#storage;
  }

  /** Rows: `shape[0]`. */
  get rows(): number {
    return this.shape[0];
  }

  /** Columns: `shape[1]` for 2-D, 1 for 1-D. */
  get cols(): number {
    return this.shape.length === 2 ? this.shape[1] : 1;
  }

  /** True once the storage was freed. */
  get disposed(): boolean {
    return this.#storage === null;
  }

  /** Frees the storage (and the gradient). Idempotent. */
  dispose(): void {
    if (this.#storage === null) return;
    this.backend.free(this.#storage);
    this.#storage = null;
    this.grad?.dispose();
    this.grad = null;
  }

  /** Copies the values to the host. */
  toArray(): Float32Array | Int32Array {
    return this.backend.download(this.storage);
  }

  /** Copies float32 values to the host (throws for int32 tensors). */
  toFloat32Array(): Float32Array {
    const a = this.toArray();
    if (!(a instanceof Float32Array)) throw new TypeError("toFloat32Array() on an int32 tensor");
    return a;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item() on a tensor of ${this.size} elements`);
    return this.toArray()[0];
  }

  /**
   * Backpropagates from this scalar: accumulates `grad` on every leaf that requires it. Needs
   * `lib/autograd/backward.ts` to have been imported (`mod.ts` and the trainer import it).
   */
  backward(): void {
    if (backwardFn === null) {
      throw new Error(
        "Tensor.backward(): no autograd loaded; import lib/autograd/backward.ts (mod.ts does)",
      );
    }
    backwardFn(this);
  }

  /** A short description: `Tensor[3840, 64] float32 cpu`. */
  toString(): string {
    return `Tensor[${this.shape.join(", ")}] ${this.dtype} ${this.backend.name}`;
  }
}
