/**
 * The data-parallel gradient step: every parameter gradient is packed into one fused float32
 * buffer (one collective per step instead of one per tensor), summed over all processes in
 * place, and unpacked. On the CPU the buffer lives on the host and MPI sums it; on CUDA with
 * NCCL it stays on the device and `ncclAllReduce` runs on the compute stream.
 * @module
 */

import type { Backend, Storage } from "../backend/backend.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Communicator } from "./communicator.ts";
import type { NcclCommunicator } from "./nccl.ts";

/** Device-side reduction (NCCL): the device address of a storage and the compute stream. */
export interface DeviceReduction {
  /** The NCCL communicator. */
  nccl: NcclCommunicator;
  /** Device address of a float32 storage of the backend. */
  devicePointer: (s: Storage) => Deno.PointerValue;
  /** The backend's compute stream. */
  stream: Deno.PointerValue;
}

/** Counters of the reductions done so far (for benchmarks and logs). */
export interface AllreduceStats {
  /** Reductions done. */
  calls: number;
  /** Bytes per reduction (gradients plus the loss). */
  bytes: number;
  /** Seconds spent in the reductions (packing included). */
  seconds: number;
}

/**
 * Sums parameter gradients over the processes of `comm`.
 *
 * @example
 * ```ts
 * import { GradientAllreduce } from "./gradients.ts";
 * import { initDistributed } from "@facgcnn/toolkit";
 * // after loss.backward() on each rank's part of the batch (loss scaled by its share):
 * // const reducer = new GradientAllreduce(model.parameters(), initDistributed(), model.backend);
 * // const globalLoss = reducer.reduce(localScaledLoss); then optimizer.step()
 * ```
 */
export class GradientAllreduce {
  readonly #params: readonly Tensor[];
  readonly #comm: Communicator;
  readonly #backend: Backend;
  readonly #device: DeviceReduction | null;
  readonly #offsets: number[];
  readonly #length: number;
  #host: Float32Array | null = null;
  #fused: Storage | null = null;
  /** What was reduced so far. */
  readonly stats: AllreduceStats = { calls: 0, bytes: 0, seconds: 0 };

  /** Plans the fused layout: the parameters in order, then one slot for the loss. */
  constructor(
    params: readonly Tensor[],
    comm: Communicator,
    backend: Backend,
    device: DeviceReduction | null = null,
  ) {
    this.#params = params;
    this.#comm = comm;
    this.#backend = backend;
    this.#device = device;
    this.#offsets = [];
    let at = 0;
    for (const p of params) {
      this.#offsets.push(at);
      at += p.size;
    }
    this.#length = at;
    this.stats.bytes = 4 * (at + 1);
  }

  /** Float32 elements in the fused buffer (gradients only). */
  get length(): number {
    return this.#length;
  }

  /**
   * Sums every gradient over all processes, in place, and returns the sum of `loss` over the
   * processes. Every process runs the same network, so the same parameters have gradients
   * everywhere; a missing one is sent as zeros and left missing.
   */
  reduce(loss: number): number {
    const t0 = performance.now();
    const total = this.#device ? this.#reduceOnDevice(loss) : this.#reduceOnHost(loss);
    this.stats.calls++;
    this.stats.seconds += (performance.now() - t0) / 1000;
    return total;
  }

  #reduceOnHost(loss: number): number {
    const b = this.#backend;
    const host = this.#host ??= new Float32Array(this.#length + 1);
    host.fill(0);
    this.#params.forEach((p, i) => {
      if (p.grad) host.set(b.download(p.grad.storage) as Float32Array, this.#offsets[i]);
    });
    host[this.#length] = loss;
    this.#comm.allreduceSum(host);
    const fused = b.upload(host);
    try {
      this.#unpack(fused);
    } finally {
      b.free(fused);
    }
    return host[this.#length];
  }

  #reduceOnDevice(loss: number): number {
    const b = this.#backend, d = this.#device!;
    const fused = this.#fused ??= b.alloc("float32", this.#length);
    b.fill(fused, 0);
    this.#params.forEach((p, i) => {
      if (p.grad) b.copy(p.grad.storage, fused, p.size, 0, this.#offsets[i]);
    });
    d.nccl.allreduceSumDevice(d.devicePointer(fused), this.#length, d.stream);
    this.#unpack(fused);
    const l = new Float64Array([loss]);
    this.#comm.allreduceSum(l); // 8 bytes over MPI; the gradients went over NCCL
    return l[0];
  }

  #unpack(fused: Storage): void {
    const b = this.#backend;
    this.#params.forEach((p, i) => {
      if (p.grad) b.copy(fused, p.grad.storage, p.size, this.#offsets[i], 0);
    });
  }

  /** Frees the device buffer and the NCCL communicator. */
  dispose(): void {
    if (this.#fused) this.#backend.free(this.#fused);
    this.#fused = null;
    this.#device?.nccl.destroy();
  }
}
