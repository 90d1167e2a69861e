/**
 * The CUDA backend: `Backend` on one NVIDIA GPU through `Deno.dlopen` bindings to cudart,
 * cuBLAS and the helper `libfacgcnn_kernels.so` (cuSPARSE optional, for `spmmCsr`).
 *
 * Everything is enqueued on one stream, so kernel order is program order and cached device
 * blocks can be reused at once; only `download` and `synchronize` wait. Every call checks its
 * status and throws `Error("CUDA <op>: <error string>")`.
 * @module
 */

import type { ProfileClock } from "../profiler.ts";
import { eventClock } from "./event_clock.ts";
import type {
  Backend,
  BackendInfo,
  BatchPart,
  DType,
  GemmArgs,
  MemoryInfo,
  Storage,
} from "../backend.ts";
import { buildScatterCsr } from "./scatter_csr.ts";
import { type AllocatorStats, CachingAllocator, type DeviceBlock } from "./allocator.ts";
import type { CudaLibraries } from "./cuda_context.ts";
import { deviceDescription, versionLine } from "./cuda_context.ts";
import { type ScatterMode, scatterSetting } from "../../util/settings.ts";
import type { CudaSparse } from "./cuda_sparse.ts";
import {
  CUBLAS_GEMM_DEFAULT,
  CUBLAS_STATUS_NAMES,
  CublasCompute,
  CublasMath,
  CublasOp,
  CUDA_R_32F,
} from "./ffi/cublas.ts";
import { cudaErrorString, CudaMemcpyKind } from "./ffi/cudart.ts";
import type { Kernels } from "./ffi/kernels.ts";

/** Uploads up to this size are staged and not waited for (targets, small tables). */
const SMALL_UPLOAD_BYTES = 64 << 10;

/** Options of `createCudaBackend`. */
export interface CudaBackendOptions {
  /** Let cuBLAS use TF32 tensor cores for float32 GEMM (faster, ~1e-3 relative error). Default: `FACGCNN_TF32=1`. */
  tf32?: boolean;
  /** Device ordinal. Default: `FACGCNN_CUDA_DEVICE` or 0. */
  device?: number;
  /**
   * Debug mode: graph ops check their indices on the host first, and every launch waits for
   * the device so a kernel error surfaces at the op that launched it. Default: `FACGCNN_CHECK=1`.
   */
  check?: boolean;
}

/** Host↔device traffic since creation or `resetTransferStats` (per-step bytes in benches). */
export interface TransferStats {
  /** Bytes copied host → device. */
  h2dBytes: number;
  /** Host → device copy calls. */
  h2dCopies: number;
  /** Bytes copied device → host. */
  d2hBytes: number;
  /** Device → host copy calls. */
  d2hCopies: number;
  /** Waits for the stream (`cudaStreamSynchronize`). */
  syncs: number;
}

/** The deterministic scatter plan of an index (`buildScatterCsr`), on the device. */
export interface ScatterPlan {
  /** Source rows grouped by destination `[n]`. */
  perm: Storage;
  /** `[nDst + 1]` destination ranges in `perm`. */
  offsets: Storage;
  /** Destination rows. */
  nDst: number;
}

/** Device storage: a block of the caching allocator. */
class CudaStorage implements Storage {
  /** For an index uploaded with `scatterRows`: its deterministic scatter plan. */
  plan: ScatterPlan | null = null;
  constructor(
    readonly dtype: DType,
    readonly length: number,
    readonly backend: Backend,
    public block: DeviceBlock | null,
    public ptr: Deno.PointerValue,
  ) {}
}

/**
 * Device, storage, GEMM and the checked-pointer helpers of the CUDA backend; the kernel ops
 * live in the subclass `CudaBackend` (cuda_backend.ts).
 */
export abstract class CudaDevice {
  /** Always "cuda". */
  readonly name = "cuda" as const;
  /** The opened libraries. */
  protected readonly libs: CudaLibraries;
  /** The helper's functions. */
  protected readonly k: Kernels;
  readonly #alloc: CachingAllocator;
  /** The one stream everything is enqueued on. */
  protected readonly cuStream: Deno.PointerValue;
  readonly #blas: Deno.PointerValue;
  readonly #tf32: boolean;
  readonly #device: number;
  /** cuSPARSE state, created by the first `spmmCsr`. */
  protected sparse: CudaSparse | null = null;
  #liveBuffers = 0;
  #liveBytes = 0;
  #peakBytes = 0;
  #scratch: CudaStorage | null = null;
  readonly #alpha = new Float32Array(1);
  readonly #beta = new Float32Array(1);
  #disposed = false;
  /** How scatters through a planned index run (`FACGCNN_SCATTER`, read at creation). */
  readonly scatter: ScatterMode = scatterSetting();
  /** Debug mode (see `CudaBackendOptions.check`). */
  protected readonly checkMode: boolean;
  /** Page-locked staging buffer of `uploadBatch` (null until first used or when unavailable). */
  #staging: { ptr: Deno.PointerValue; bytes: number } | null = null;
  /** True while the last staged copy may still be reading the staging buffer. */
  #stagingBusy = false;
  /** Bytes of the staging buffer handed out since the stream was last waited for. */
  #stagingUsed = 0;
  readonly #transfers: TransferStats = {
    h2dBytes: 0,
    h2dCopies: 0,
    d2hBytes: 0,
    d2hCopies: 0,
    syncs: 0,
  };
  // Safety net only: storages are meant to be freed explicitly (tidy scopes). A reclaimed
  // storage returns its block and leaves the live counts, as `free` would.
  readonly #finalizer = new FinalizationRegistry<{ block: DeviceBlock; bytes: number }>(
    (held) => this.reclaim(held),
  );

  /** Binds opened libraries; use `createCudaBackend`. */
  constructor(libs: CudaLibraries, options: { tf32: boolean; device: number; check?: boolean }) {
    this.libs = libs;
    this.checkMode = options.check ?? false;
    this.k = libs.kernels;
    this.#tf32 = options.tf32;
    this.#device = options.device;
    const rt = libs.cudart;
    this.#check("cudaSetDevice", rt.cudaSetDevice(options.device));
    const out = new BigUint64Array(1);
    this.#check("cudaStreamCreate", rt.cudaStreamCreate(out));
    this.cuStream = Deno.UnsafePointer.create(out[0]);
    this.#blasCheck("cublasCreate", libs.cublas.cublasCreate_v2(out));
    this.#blas = Deno.UnsafePointer.create(out[0]);
    this.#blasCheck("cublasSetStream", libs.cublas.cublasSetStream_v2(this.#blas, this.cuStream));
    const math = this.#tf32 ? CublasMath.tf32TensorOp : CublasMath.default;
    this.#blasCheck("cublasSetMathMode", libs.cublas.cublasSetMathMode(this.#blas, math));
    this.#alloc = new CachingAllocator({
      malloc: (bytes) => {
        const code = rt.cudaMalloc(out, BigInt(bytes));
        if (code === 2) { // cudaErrorMemoryAllocation: let the allocator release its cache
          // Reset the runtime's last error, or the next kernel launch check would report it.
          rt.cudaGetLastError();
          return null;
        }
        this.#check("cudaMalloc", code);
        return out[0];
      },
      free: (ptr) => this.#check("cudaFree", rt.cudaFree(Deno.UnsafePointer.create(ptr))),
    });
  }

  /** This object as the `Backend` it completes (storages point back to it). */
  protected abstract get asBackend(): Backend;

  /** Device address of a storage of this backend (for NCCL collectives on it). */
  devicePointer(s: Storage): Deno.PointerValue {
    return this.#ptr(s);
  }

  /** The raw stream handle (for events and benchmarks). */
  get stream(): Deno.PointerValue {
    return this.cuStream;
  }

  /** Allocator counters (bucket bytes, cached bytes, device mallocs). */
  allocatorStats(): AllocatorStats {
    return this.#alloc.stats();
  }

  info(): BackendInfo {
    const { cudart, paths } = this.libs;
    const notes = [
      `cudart ${paths.cudart}`,
      `kernels ${paths.kernels}`,
      this.#tf32 ? "TF32 tensor-core GEMM (opt-in): ~1e-3 relative GEMM error" : "FP32 GEMM",
      `scatter: ${this.scatter}${
        this.scatter === "atomic" ? " (not deterministic)" : " (deterministic)"
      }`,
      ...(this.checkMode ? ["FACGCNN_CHECK: indices checked, every launch waited for"] : []),
      paths.cusparse
        ? `cusparse ${paths.cusparse}`
        : `cuSPARSE unavailable: ${this.libs.cusparseError}`,
    ];
    return {
      name: "cuda",
      device: `${deviceDescription(cudart, this.#device)}; ${versionLine(this.libs)}`,
      gemm: `cuBLAS ${this.#tf32 ? "cublasGemmEx (TF32)" : "cublasSgemm_v2"} (${paths.cublas})`,
      notes,
    };
  }

  memory(): MemoryInfo {
    return {
      liveBuffers: this.#liveBuffers,
      liveBytes: this.#liveBytes,
      peakBytes: this.#peakBytes,
    };
  }

  resetPeak(): void {
    this.#peakBytes = this.#liveBytes;
    this.#alloc.resetPeak();
  }

  // --- storage ---------------------------------------------------------------------------

  alloc(dtype: DType, length: number): Storage {
    const s = this.#allocRaw(dtype, length);
    const bytes = BigInt(length * 4);
    if (length > 0) {
      this.#check(
        "cudaMemsetAsync",
        this.libs.cudart.cudaMemsetAsync(s.ptr, 0, bytes, this.cuStream),
      );
    }
    return s;
  }

  free(storage: Storage): void {
    if (!(storage instanceof CudaStorage) || storage.backend !== this.asBackend) {
      throw new Error("CUDA free: storage belongs to another backend");
    }
    const s = storage;
    if (s.block === null) return; // freeing twice is a no-op
    if (s.plan) {
      const { perm, offsets } = s.plan;
      s.plan = null;
      this.free(perm);
      this.free(offsets);
    }
    this.#finalizer.unregister(s);
    this.#alloc.release(s.block);
    s.block = null;
    s.ptr = null;
    this.#liveBuffers--;
    this.#liveBytes -= s.length * 4;
  }

  upload(data: Float32Array | Int32Array): Storage {
    const s = this.#allocRaw(data instanceof Float32Array ? "float32" : "int32", data.length);
    if (data.length > 0 && data.byteLength <= SMALL_UPLOAD_BYTES) {
      // Small arrays (a batch's targets) go through the pinned staging buffer without a wait,
      // so a training step's one wait stays the loss download.
      const staging = this.#stagingBuffer(data.byteLength);
      staging.view.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      const h2d = CudaMemcpyKind.hostToDevice;
      this.#check(
        "upload",
        this.libs.cudart.cudaMemcpyAsync(
          s.ptr,
          staging.ptr,
          BigInt(data.byteLength),
          h2d,
          this.cuStream,
        ),
      );
      this.#transfers.h2dBytes += data.byteLength;
      this.#transfers.h2dCopies++;
      if (staging.pinned) this.#claimStaging(data.byteLength);
      else this.#sync("upload");
    } else if (data.length > 0) {
      const rt = this.libs.cudart;
      const src = Deno.UnsafePointer.of(data as Float32Array<ArrayBuffer>);
      this.#check(
        "upload",
        rt.cudaMemcpyAsync(
          s.ptr,
          src,
          BigInt(data.byteLength),
          CudaMemcpyKind.hostToDevice,
          this.cuStream,
        ),
      );
      this.#transfers.h2dBytes += data.byteLength;
      this.#transfers.h2dCopies++;
      // Wait so the caller may reuse `data` at once (pageable copies are staged anyway).
      this.#sync("upload");
    }
    return s;
  }

  /**
   * One batch: the arrays (and the scatter plans of parts with `scatterRows`) are packed into
   * one page-locked staging buffer, copied to the device with one asynchronous copy, and split
   * into storages by device-to-device copies on the stream. Nothing waits; the staging buffer
   * is reused by the next call once the stream has passed this copy (the step's loss download
   * has synchronised by then, so that wait is free).
   */
  uploadBatch(parts: readonly BatchPart[]): Storage[] {
    const arrays: (Float32Array | Int32Array)[] = [];
    const plans: { part: number; perm: number; offsets: number; nDst: number }[] = [];
    for (let i = 0; i < parts.length; i++) {
      const { data, scatterRows } = parts[i];
      arrays.push(data);
      if (scatterRows !== undefined) {
        if (!(data instanceof Int32Array)) {
          throw new TypeError("uploadBatch: a scatter index is int32");
        }
        const csr = buildScatterCsr(data, scatterRows);
        plans.push({ part: i, perm: arrays.length, offsets: arrays.length + 1, nDst: scatterRows });
        arrays.push(csr.perm, csr.offsets);
      }
    }
    const total = arrays.reduce((n, a) => n + a.length, 0);
    const storages = arrays.map((a) =>
      this.#allocRaw(a instanceof Float32Array ? "float32" : "int32", a.length)
    );
    if (total > 0) {
      const staging = this.#stagingBuffer(total * 4);
      const block = this.#alloc.alloc(total * 4);
      try {
        let at = 0;
        for (const a of arrays) {
          new Uint8Array(staging.view.buffer, staging.view.byteOffset + at * 4, a.byteLength)
            .set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
          at += a.length;
        }
        const rt = this.libs.cudart;
        const dev = Deno.UnsafePointer.create(block.ptr);
        const h2d = CudaMemcpyKind.hostToDevice;
        this.#check(
          "uploadBatch",
          rt.cudaMemcpyAsync(dev, staging.ptr, BigInt(total * 4), h2d, this.cuStream),
        );
        this.#transfers.h2dBytes += total * 4;
        this.#transfers.h2dCopies++;
        if (staging.pinned) this.#claimStaging(total * 4);
        else this.#sync("uploadBatch"); // pageable: the host buffer must outlive the copy
        at = 0;
        for (let i = 0; i < arrays.length; i++) {
          const n = arrays[i].length;
          if (n > 0) {
            const src = Deno.UnsafePointer.create(block.ptr + BigInt(at * 4));
            const d2d = CudaMemcpyKind.deviceToDevice;
            this.#check(
              "uploadBatch",
              rt.cudaMemcpyAsync(storages[i].ptr, src, BigInt(n * 4), d2d, this.cuStream),
            );
          }
          at += n;
        }
      } finally {
        this.#alloc.release(block); // stream-ordered: later work on the stream may reuse it
      }
    }
    for (const p of plans) {
      storages[p.part].plan = {
        perm: storages[p.perm],
        offsets: storages[p.offsets],
        nDst: p.nDst,
      };
    }
    const planParts = new Set(plans.flatMap((p) => [p.perm, p.offsets]));
    return storages.filter((_, i) => !planParts.has(i));
  }

  /** The page-locked staging buffer of at least `bytes` (pageable memory when pinning fails). */
  #stagingBuffer(bytes: number): { ptr: Deno.PointerValue; view: Uint8Array; pinned: boolean } {
    const rt = this.libs.cudart;
    const fits = this.#staging !== null && this.#stagingUsed + bytes <= this.#staging.bytes;
    if (this.#stagingBusy && !fits) {
      this.#sync("uploadBatch"); // earlier copies of this step may still read the buffer
    }
    if (this.#stagingBusy) {
      // The region after the copies still in flight (those are not overwritten).
      const staging = this.#staging!;
      const view = new Uint8Array(
        Deno.UnsafePointerView.getArrayBuffer(staging.ptr!, bytes, this.#stagingUsed),
      );
      return {
        ptr: Deno.UnsafePointer.offset(staging.ptr!, this.#stagingUsed),
        view,
        pinned: true,
      };
    }
    this.#stagingUsed = 0;
    if (!this.#staging || this.#staging.bytes < bytes) {
      if (this.#staging) rt.cudaFreeHost(this.#staging.ptr);
      this.#staging = null;
      const size = Math.max(bytes, 1 << 20) * 1.25; // room for the next, slightly larger batch
      const out = new BigUint64Array(1);
      if (rt.cudaHostAlloc(out, BigInt(Math.ceil(size)), 0) === 0 && out[0] !== 0n) {
        this.#staging = { ptr: Deno.UnsafePointer.create(out[0]), bytes: Math.ceil(size) };
      } else {
        rt.cudaGetLastError(); // clear the failed allocation's error
        const host = new Uint8Array(bytes);
        return { ptr: Deno.UnsafePointer.of(host), view: host, pinned: false };
      }
    }
    const view = new Uint8Array(
      Deno.UnsafePointerView.getArrayBuffer(this.#staging.ptr!, this.#staging.bytes),
    );
    return { ptr: this.#staging.ptr, view, pinned: true };
  }

  /** Host↔device traffic counters (a copy). */
  transferStats(): TransferStats {
    return { ...this.#transfers };
  }

  /** Restarts the traffic counters. */
  resetTransferStats(): void {
    for (const k of Object.keys(this.#transfers) as (keyof TransferStats)[]) this.#transfers[k] = 0;
  }

  /** The scatter plan an index storage carries (from `uploadBatch`), or null. */
  protected planOf(index: Storage): ScatterPlan | null {
    return this.#own(index, "scatter plan").plan;
  }

  /** Marks `bytes` more of the staging buffer as read by copies in flight (256-byte aligned). */
  #claimStaging(bytes: number): void {
    this.#stagingBusy = true;
    this.#stagingUsed += Math.ceil(bytes / 256) * 256;
  }

  /** Waits for the stream, counted. */
  #sync(op: string): void {
    this.#transfers.syncs++;
    this.#check(op, this.libs.cudart.cudaStreamSynchronize(this.cuStream));
    this.#stagingBusy = false;
    this.#stagingUsed = 0;
  }

  download(storage: Storage): Float32Array | Int32Array {
    const s = this.#own(storage, "download");
    const out = s.dtype === "float32" ? new Float32Array(s.length) : new Int32Array(s.length);
    if (s.length > 0) {
      const rt = this.libs.cudart;
      const dst = Deno.UnsafePointer.of(out as Float32Array<ArrayBuffer>);
      this.#check(
        "download",
        rt.cudaMemcpyAsync(
          dst,
          this.#ptr(s),
          BigInt(out.byteLength),
          CudaMemcpyKind.deviceToHost,
          this.cuStream,
        ),
      );
      this.#transfers.d2hBytes += out.byteLength;
      this.#transfers.d2hCopies++;
    }
    this.#sync("download");
    return out;
  }

  copy(src: Storage, dst: Storage, length: number, srcOffset = 0, dstOffset = 0): void {
    const a = this.#need(src, srcOffset + length, "copy"),
      b = this.#need(dst, dstOffset + length, "copy");
    if (a.dtype !== b.dtype) throw new Error(`CUDA copy: ${a.dtype} → ${b.dtype}`);
    if (length <= 0) return;
    this.#check(
      "copy",
      this.libs.cudart.cudaMemcpyAsync(
        this.#ptr(b, dstOffset),
        this.#ptr(a, srcOffset),
        BigInt(length * 4),
        CudaMemcpyKind.deviceToDevice,
        this.cuStream,
      ),
    );
  }

  fill(dst: Storage, value: number): void {
    const d = this.#own(dst, "fill");
    const k = this.libs.kernels;
    if (d.dtype === "int32") {
      if (!Number.isInteger(value)) throw new Error(`CUDA fill: ${value} into int32 storage`);
      this.#check("fill", k.fa_fill_i32(this.#ptr(d), value, d.length, this.cuStream));
    } else {
      this.#check("fill", k.fa_fill_f32(this.#ptr(d), value, d.length, this.cuStream));
    }
  }

  synchronize(): void {
    this.#sync("synchronize");
  }

  /** A CUDA-event clock on this backend's stream, for the profiling mode (`../profiler.ts`). */
  eventClock(): ProfileClock {
    return eventClock(this.libs.cudart, this.cuStream);
  }

  // --- dense -----------------------------------------------------------------------------

  /**
   * Row-major GEMM by cuBLAS (column-major): a row-major `[r, c]` with stride ld is the
   * column-major `[c, r]` transpose, so C = op(A) op(B) is computed as Cᵀ = op(B)ᵀ op(A)ᵀ, i.e.
   * cuBLAS with the operands swapped and m ↔ n; transposition flags and leading dims carry over.
   */
  gemm(g: GemmArgs): void {
    const { m, n, k } = g;
    const aRows = g.transA ? k : m, aCols = g.transA ? m : k;
    const bRows = g.transB ? n : k, bCols = g.transB ? k : n;
    const aOff = g.aOffset ?? 0, bOff = g.bOffset ?? 0, cOff = g.cOffset ?? 0;
    this.#checkMatrix("A", g.a, aOff, aRows, aCols, g.lda);
    this.#checkMatrix("B", g.b, bOff, bRows, bCols, g.ldb);
    this.#checkMatrix("C", g.c, cOff, m, n, g.ldc);
    if (m === 0 || n === 0) return;
    this.#alpha[0] = g.alpha;
    this.#beta[0] = g.beta;
    const opA = g.transA ? CublasOp.T : CublasOp.N, opB = g.transB ? CublasOp.T : CublasOp.N;
    const A = this.#ptr(g.a, aOff), B = this.#ptr(g.b, bOff), C = this.#ptr(g.c, cOff);
    const blas = this.libs.cublas;
    const status = this.#tf32
      ? blas.cublasGemmEx(
        this.#blas,
        opB,
        opA,
        n,
        m,
        k,
        this.#alpha,
        B,
        CUDA_R_32F,
        g.ldb,
        A,
        CUDA_R_32F,
        g.lda,
        this.#beta,
        C,
        CUDA_R_32F,
        g.ldc,
        CublasCompute.f32FastTf32,
        CUBLAS_GEMM_DEFAULT,
      )
      : blas.cublasSgemm_v2(
        this.#blas,
        opB,
        opA,
        n,
        m,
        k,
        this.#alpha,
        B,
        g.ldb,
        A,
        g.lda,
        this.#beta,
        C,
        g.ldc,
      );
    this.#blasCheck("gemm", status);
  }

  /**
   * Frees every storage and handle; the backend is unusable afterwards and a second call is a
   * no-op. The libraries stay loaded (shared by the process; see cuda_context.ts).
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.sparse?.dispose();
    this.libs.cublas.cublasDestroy_v2(this.#blas);
    this.libs.cudart.cudaStreamSynchronize(this.cuStream);
    this.#alloc.releaseAll();
    if (this.#staging) this.libs.cudart.cudaFreeHost(this.#staging.ptr);
    this.#staging = null;
    this.libs.cudart.cudaStreamDestroy(this.cuStream);
    this.#liveBuffers = 0;
    this.#liveBytes = 0;
  }

  /** True once `dispose` ran. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * The garbage collector dropped a storage that was never freed: return its block and take
   * it out of the live counts. Called by the `FinalizationRegistry` (after `dispose`, nothing).
   */
  protected reclaim(held: { block: DeviceBlock; bytes: number }): void {
    if (this.#disposed) return;
    this.#alloc.release(held.block);
    this.#liveBuffers--;
    this.#liveBytes -= held.bytes;
  }

  // --- internals -------------------------------------------------------------------------

  #allocRaw(dtype: DType, length: number): CudaStorage {
    if (this.#disposed) throw new Error("CUDA alloc: the backend was disposed");
    if (!Number.isInteger(length) || length < 0 || length >= 2 ** 31) {
      throw new RangeError(`CUDA alloc: bad length ${length}`);
    }
    const block = this.#alloc.alloc(length * 4);
    const s = new CudaStorage(
      dtype,
      length,
      this.asBackend,
      block,
      Deno.UnsafePointer.create(block.ptr),
    );
    this.#finalizer.register(s, { block, bytes: length * 4 }, s);
    this.#liveBuffers++;
    this.#liveBytes += length * 4;
    this.#peakBytes = Math.max(this.#peakBytes, this.#liveBytes);
    return s;
  }

  /** A scratch buffer of at least `floats` floats, grown on demand and kept (null when 0). */
  protected workspace(floats: bigint): Deno.PointerValue {
    const n = Number(floats);
    if (n === 0) return null;
    if (!this.#scratch || this.#scratch.length < n) {
      if (this.#scratch) this.#alloc.release(this.#scratch.block!);
      const block = this.#alloc.alloc(n * 4);
      this.#scratch = new CudaStorage(
        "float32",
        n,
        this.asBackend,
        block,
        Deno.UnsafePointer.create(block.ptr),
      );
    }
    return this.#scratch.ptr;
  }

  #own(storage: Storage, op: string): CudaStorage {
    if (this.#disposed) throw new Error(`CUDA ${op}: the backend was disposed`);
    if (!(storage instanceof CudaStorage) || storage.backend !== this.asBackend) {
      throw new Error(`CUDA ${op}: storage belongs to another backend`);
    }
    if (storage.block === null) throw new Error(`CUDA ${op}: storage used after free`);
    return storage;
  }

  /** Checked float32 pointers of storages paired with the element counts they must hold. */
  protected fp(op: string, ...pairs: (readonly [Storage, number])[]): Deno.PointerValue[] {
    return pairs.map(([s, n]) => this.f(s, n, op));
  }

  /** Scratch for the column reductions of a `[rows, cols]` matrix. */
  protected columnWorkspace(rows: number, cols: number): Deno.PointerValue {
    return this.workspace(this.k.fa_column_reduce_workspace_floats(rows, cols));
  }

  /** Checked float32 storage of at least `length` elements. */
  protected f(s: Storage, length: number, op: string): Deno.PointerValue {
    return this.#ptr(this.#need(s, length, op, "float32"));
  }

  /** Checked int32 storage of at least `length` elements. */
  protected i(s: Storage, length: number, op: string): Deno.PointerValue {
    return this.#ptr(this.#need(s, length, op, "int32"));
  }

  #need(s: Storage, length: number, op: string, dtype?: DType): CudaStorage {
    const c = this.#own(s, op);
    if (dtype && c.dtype !== dtype) {
      throw new Error(`CUDA ${op}: expected ${dtype} storage, got ${c.dtype}`);
    }
    if (c.length < length) {
      throw new RangeError(`CUDA ${op}: storage of ${c.length} elements, need ${length}`);
    }
    return c;
  }

  #ptr(s: Storage, offset = 0): Deno.PointerValue {
    const c = this.#own(s, "pointer");
    return offset === 0 ? c.ptr : Deno.UnsafePointer.create(c.block!.ptr + BigInt(offset * 4));
  }

  #checkMatrix(
    name: string,
    s: Storage,
    offset: number,
    rows: number,
    cols: number,
    ld: number,
  ): void {
    if (ld < Math.max(1, cols)) {
      throw new RangeError(`CUDA gemm: ld${name.toLowerCase()} ${ld} < ${cols} columns`);
    }
    const need = rows === 0 || cols === 0 ? 0 : offset + (rows - 1) * ld + cols;
    this.#need(s, need, `gemm ${name}`, "float32");
  }

  /** Throws `CUDA <op>: <error>` unless `code` is cudaSuccess. */
  protected run(op: string, code: number): void {
    this.#check(op, code);
    if (this.checkMode) {
      // Debug mode: wait, so an error of this kernel is reported here and not by a later op.
      this.#sync(op);
      this.#check(op, this.libs.cudart.cudaGetLastError());
    }
  }

  #check(op: string, code: number): void {
    if (code !== 0) throw new Error(`CUDA ${op}: ${cudaErrorString(this.libs.cudart, code)}`);
  }

  #blasCheck(op: string, status: number): void {
    if (status !== 0) {
      throw new Error(`CUDA ${op}: ${CUBLAS_STATUS_NAMES[status] ?? "cuBLAS status"} (${status})`);
    }
  }
}
