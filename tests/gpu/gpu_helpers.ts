/**
 * Shared pieces of the GPU tests: the skip rule, the backend pair, seeded random inputs and
 * running one op on both backends.
 *
 * Skip rule: without a usable CUDA setup the tests are `ignore`d with the probe's reason,
 * unless `FACGCNN_REQUIRE_CUDA=1` (set by `deno task test:gpu`), where a missing GPU fails.
 * @module
 */
import assert from "node:assert/strict";
import type { Backend, DType, Storage } from "../../lib/backend/backend.ts";
import { createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import { createCudaBackend, type CudaBackend } from "../../lib/backend/cuda/cuda_backend.ts";
import { probeCuda } from "../../lib/backend/cuda/probe.ts";

/** The probe's answer for this process. */
export const probe = probeCuda();
/** True when `FACGCNN_REQUIRE_CUDA=1`: a missing GPU is a failure, not a skip. */
export const requireCuda = Deno.env.get("FACGCNN_REQUIRE_CUDA") === "1";
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
