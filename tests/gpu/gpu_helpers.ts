/**
 * Shared pieces of the GPU tests: the skip rule, the backend pair, seeded random inputs and
 * running one op on both backends.
 *
 * Skip rule: without a usable CUDA setup the tests are `ignore`d with the probe's reason,
 * unless `FACGCNN_REQUIRE_CUDA=1` (set by `deno task test:gpu`), where a missing GPU fails.
 * @module
 */
import assert from "node:assert/strict";
import type { Backend, DType, GemmArgs, Storage } from "../../lib/backend/backend.ts";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import { createCudaBackend, type CudaBackend } from "../../lib/backend/cuda/cuda_backend.ts";
import { probeCuda } from "../../lib/backend/cuda/probe.ts";
import {
  type AllocatorStats,
  CachingAllocator,
  type DeviceBlock,
} from "../../lib/backend/cuda/allocator.ts";
import { flag, setting } from "../../lib/util/settings.ts";

/** The probe's answer for this process. */
export const probe = probeCuda();
/** True when `FACGCNN_REQUIRE_CUDA=1`: a missing GPU is a failure, not a skip. */
export const requireCuda = flag("requireCuda");
/** Skip the GPU tests (no CUDA and not required). */
export const skipGpu = !probe.available && !requireCuda;
if (skipGpu) console.warn(`tests/gpu skipped: ${probe.reason}`);

let pair: { cuda: CudaBackend; cpu: Backend } | null = null;
/** The CUDA backend and the CPU reference, created on first use. */
export function backends(): { cuda: CudaBackend; cpu: Backend } {
  if (!probe.available) throw new Error(`FACGCNN_REQUIRE_CUDA=1 but ${probe.reason}`);
  pair ??= { cuda: createCudaBackend({ tf32: false }), cpu: createCpuBackend() };
  return pair;
}

/**
 * Registers a last test in the calling file that disposes this file's CUDA backend: streams,
 * handles and device memory are released while the libraries are still loaded (they stay loaded
 * for the process), never by the test runner's teardown on another thread.
 */
export function disposeBackendsAtEnd(): void {
  Deno.test({
    name: "gpu: dispose the CUDA backend of this file",
    ignore: skipGpu,
    fn() {
      pair?.cuda.dispose();
      pair = null;
    },
  });
}

/** Deterministic uniform numbers in [lo, hi) (a 32-bit LCG, seeded per test). */
export function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (hi - lo) * (s / 2 ** 32);
  }
  return out;
}

/** Deterministic integers in [0, hi). */
export function randInt(n: number, seed: number, hi: number): Int32Array {
  return Int32Array.from(rand(n, seed, 0, 1), (x) => Math.min(hi - 1, Math.floor(x * hi)));
}

type Host = Float32Array | Int32Array;

/**
 * Uploads `inputs`, allocates zeroed `outs` (`[dtype, length]`), runs `op`, and returns every
 * storage downloaded (inputs first: in-place ops change them), then frees them all.
 */
export function runOn(
  b: Backend,
  inputs: Host[],
  outs: [DType, number][],
  op: (ins: Storage[], outs: Storage[]) => void,
): Host[] {
  const ins = inputs.map((x) => b.upload(x));
  const os = outs.map(([dt, n]) => b.alloc(dt, n));
  try {
    op(ins, os);
    return [...ins, ...os].map((s) => b.download(s));
  } finally {
    for (const s of [...ins, ...os]) b.free(s);
  }
}

/** The same op on CUDA and on the CPU: `[cuda results, cpu results]`. */
export function onBoth(
  inputs: Host[],
  outs: [DType, number][],
  op: (b: Backend, ins: Storage[], outs: Storage[]) => void,
): [Host[], Host[]] {
  const { cuda, cpu } = backends();
  return [
    runOn(cuda, inputs, outs, (i, o) => op(cuda, i, o)),
    runOn(cpu, inputs, outs, (i, o) => op(cpu, i, o)),
  ];
}

/**
 * Asserts `|gpu − cpu| ≤ rtol · max(|cpu|, rms(cpu))` element-wise: relative, with the
 * tensor's RMS as the floor so values that cancel to near zero are not judged alone.
 */
export function assertClose(
  label: string,
  gpu: ArrayLike<number>,
  cpu: ArrayLike<number>,
  rtol = 1e-5,
) {
  assert.equal(gpu.length, cpu.length, `${label}: length`);
  let ss = 0;
  for (let i = 0; i < cpu.length; i++) ss += cpu[i] * cpu[i];
  const rms = Math.sqrt(ss / Math.max(1, cpu.length));
  for (let i = 0; i < cpu.length; i++) {
    const tol = rtol * Math.max(Math.abs(cpu[i]), rms) + 1e-30;
    if (!(Math.abs(gpu[i] - cpu[i]) <= tol) && !(Number.isNaN(gpu[i]) && Number.isNaN(cpu[i]))) {
      assert.fail(`${label}[${i}]: cuda ${gpu[i]} vs cpu ${cpu[i]} (tol ${tol.toExponential(2)})`);
    }
  }
}

/** Compares every array of two result lists. */
export function assertAllClose(label: string, [gpu, cpu]: [Host[], Host[]], rtol = 1e-5) {
  gpu.forEach((g, i) => assertClose(`${label}#${i}`, g, cpu[i], rtol));
}

// --- model-level helpers (tests/gpu/model_step.test.ts) -------------------------------------

/** The device side of a model test: a `Backend` with the CUDA allocator's counters. */
export type DeviceBackend = Backend & { allocatorStats(): AllocatorStats };

/**
 * `FACGCNN_GPU_STANDIN=cpu`: run the GPU model tests without a GPU, with {@linkcode cpuStandIn}
 * as the device. It exercises the test code itself (batches, weight copies, tolerances, the
 * memory assertions) on a machine without CUDA; it proves nothing about the CUDA backend.
 */
export const standIn = setting("gpuStandIn") === "cpu" || setting("gpuStandIn") === "cpu-fp32";

/** `FACGCNN_GPU_STANDIN=cpu-fp32`: the stand-in's GEMM accumulates in float32 as a GPU does. */
export const standInFp32 = setting("gpuStandIn") === "cpu-fp32";

/** Rounds float32 values to TF32 (10-bit mantissa, round to nearest even), in place. */
export function roundToTf32(x: Float32Array): Float32Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < u.length; i++) {
    const v = u[i];
    if ((v & 0x7f800000) === 0x7f800000) continue; // inf / NaN
    u[i] = ((v + 0x0fff + ((v >>> 13) & 1)) & 0xffffe000) >>> 0;
  }
  return x;
}

/**
 * A CPU backend dressed as the device under test: GEMM through the TypeScript fallback (another
 * summation order than OpenBLAS, so FP32 rounding differs from the reference as a GPU's does),
 * with `tf32` GEMM inputs rounded to TF32 as tensor cores do, and every storage also booked in
 * a real {@linkcode CachingAllocator} over fake addresses, so `allocatorStats()` behaves as the
 * CUDA backend's (without the CUDA backend's private kernel workspace).
 */
export function cpuStandIn(
  options: { tf32?: boolean; fp32Accumulate?: boolean } = {},
): DeviceBackend {
  const inner = createCpuBackend({ blasPath: "/nonexistent/libopenblas.so" });
  let next = 0n;
  const allocator = new CachingAllocator({
    malloc: (bytes) => (next += BigInt(bytes) + 512n),
    free: () => {},
  });
  const blocks = new WeakMap<Storage, DeviceBlock>();
  const book = (s: Storage) => {
    blocks.set(s, allocator.alloc(s.length * 4));
    return s;
  };
  const tf32Copy = (s: Storage) =>
    inner.upload(roundToTf32(Float32Array.from(inner.download(s) as Float32Array)));
  const overrides: Partial<DeviceBackend> = {
    alloc: (dtype, length) => book(inner.alloc(dtype, length)),
    upload: (data) => book(inner.upload(data)),
    uploadBatch: (parts) => inner.uploadBatch(parts).map(book),
    free: (s) => {
      const b = blocks.get(s);
      if (b) allocator.release(b);
      blocks.delete(s);
      inner.free(s);
    },
    allocatorStats: () => allocator.stats(),
    resetPeak: () => {
      inner.resetPeak();
      allocator.resetPeak();
    },
    gemm: (args) => {
      if (options.fp32Accumulate && !options.tf32) return fp32Gemm(inner, args);
      if (!options.tf32) return inner.gemm(args);
      const a = tf32Copy(args.a), b = tf32Copy(args.b);
      try {
        inner.gemm({ ...args, a, b });
      } finally {
        inner.free(a);
        inner.free(b);
      }
    },
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop in overrides) return overrides[prop as keyof DeviceBackend];
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as unknown as DeviceBackend;
}

/**
 * Row-major GEMM accumulating in float32 with one rounding per multiply-add (a GPU's FFMA
 * chain: a float32 product is exact in double, so `fround(s + a·b)` is one fused step), for
 * the all-float32 stand-in (`FACGCNN_GPU_STANDIN=cpu-fp32`).
 */
function fp32Gemm(be: Backend, g: GemmArgs): void {
  const a = be.download(g.a) as Float32Array, b = be.download(g.b) as Float32Array;
  const c = be.download(g.c) as Float32Array;
  const ao = g.aOffset ?? 0, bo = g.bOffset ?? 0, co = g.cOffset ?? 0;
  for (let i = 0; i < g.m; i++) {
    for (let j = 0; j < g.n; j++) {
      let s = 0;
      for (let l = 0; l < g.k; l++) {
        const x = a[ao + (g.transA ? l * g.lda + i : i * g.lda + l)];
        const y = b[bo + (g.transB ? j * g.ldb + l : l * g.ldb + j)];
        s = Math.fround(s + x * y);
      }
      const o = co + i * g.ldc + j;
      c[o] = g.beta === 0 ? Math.fround(g.alpha * s) : Math.fround(g.alpha * s + g.beta * c[o]);
    }
  }
  const tmp = be.upload(c);
  be.copy(tmp, g.c, c.length);
  be.free(tmp);
}

/** How far a device tensor is from the reference, in the norm the model tests use. */
export interface Deviation {
  /** max_i |device_i − reference_i|. */
  maxAbs: number;
  /** The scale it is judged against: max(max_i |reference_i|, floor). */
  scale: number;
  /** `maxAbs / scale`. */
  rel: number;
  /** Index of the largest difference. */
  at: number;
}

/**
 * The per-tensor max norm: `max|Δ| / max(max|reference|, floor)`. With `slack` (per element,
 * ≥ 0) the difference of element i counts as `max(0, |Δ_i| − slack_i)`: used where an update
 * is only as well defined as its inputs allow.
 */
export function deviation(
  device: ArrayLike<number>,
  reference: ArrayLike<number>,
  floor = 0,
  slack?: ArrayLike<number>,
): Deviation {
  if (device.length !== reference.length) {
    throw new RangeError(`deviation: ${device.length} vs ${reference.length} elements`);
  }
  let maxAbs = 0, maxRef = 0, at = -1;
  for (let i = 0; i < reference.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(reference[i]));
    let d = Math.abs(device[i] - reference[i]);
    if (Number.isNaN(d)) d = Infinity;
    if (slack) d = Math.max(0, d - slack[i]);
    if (d > maxAbs || at < 0) maxAbs = d, at = i;
  }
  const scale = Math.max(maxRef, floor);
  return { maxAbs, scale, rel: scale > 0 ? maxAbs / scale : maxAbs, at };
}

/** Asserts `deviation(...).rel ≤ rtol` and returns the deviation (for the report line). */
export function assertDeviation(
  label: string,
  device: ArrayLike<number>,
  reference: ArrayLike<number>,
  rtol: number,
  floor = 0,
  slack?: ArrayLike<number>,
): Deviation {
  const d = deviation(device, reference, floor, slack);
  if (!(d.rel <= rtol)) {
    assert.fail(
      `${label}: max|Δ|/scale = ${d.rel.toExponential(2)} > ${rtol} (max|Δ| ${
        d.maxAbs.toExponential(2)
      } at [${d.at}]: device ${device[d.at]} vs reference ${reference[d.at]}; scale ${
        d.scale.toExponential(2)
      })`,
    );
  }
  return d;
}
