/**
 * Run one test body on every backend (candle's `test_device!`).
 *
 * Three configurations, which must agree:
 * - `cpu-ts`: the CPU backend with TypeScript kernels only (the fallback GEMM, no OpenBLAS):
 *   what runs where neither OpenBLAS nor a C compiler is present;
 * - `cpu-native`: the CPU backend with the native C kernels (`bash native/build_cpu.sh`) and
 *   OpenBLAS GEMM when it loads;
 * - `cuda`: the CUDA backend, when it can be created here (TF32 off, so float32 GEMM).
 *
 * `forEachBackend` registers one `Deno.test` per configuration, named `name [label]`; an
 * unavailable configuration is registered as ignored, with the reason in the test name
 * (`FACGCNN_REQUIRE_CUDA=1` turns a missing CUDA backend into a failure instead).
 *
 * By default every body also runs under the leak check (`checkNoLeaks`, the debug mode of
 * tfjs `engine.ts`): a synchronous body runs in a `tidy` scope, and the backend must hold as
 * many live storages after it as before, else the test fails naming it (the op).
 * @module
 */

import type { Backend } from "../../lib/backend/backend.ts";
import { type CpuBackend, createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";
import { createCudaBackend } from "../../lib/backend/cuda/cuda_backend.ts";
import { checkNoLeaks } from "../../lib/tensor/scope.ts";

/** A path that never exists: hides OpenBLAS so the fallback GEMM is used. */
export const MISSING_BLAS = "/nonexistent/libopenblas.so";

/** The backend configurations a test body runs on. */
export type BackendLabel = "cpu-ts" | "cpu-native" | "cuda";

/** One backend to run a test body on. */
export interface BackendCase {
  /** Short label used in test names. */
  label: BackendLabel;
  /** The backend, or null when it is unavailable. */
  backend: Backend | null;
  /** Why the case is skipped (when `backend` is null). */
  skipReason?: string;
  /** Set when the case is unavailable but required (`FACGCNN_REQUIRE_CUDA=1`): the test fails. */
  requiredButMissing?: boolean;
}

/** Options of `forEachBackend`. */
export interface ForEachBackendOptions {
  /**
   * Check that the body leaks no storage (default true). Turn it off only for a body that
   * keeps tensors alive on purpose across tests (a shared fixture), and say why.
   */
  leakCheck?: boolean;
  /** When set, every configuration is registered as ignored with this reason. */
  skip?: string;
  /**
   * Configurations to leave out, each with the reason (shown in the ignored test's name), e.g.
   * a sweep too slow for the all-TypeScript GEMM whose maths other tests check there.
   */
  skipOn?: Partial<Record<BackendLabel, string>>;
}

let cached: BackendCase[] | null = null;

function shorten(text: string, max = 160): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

function cudaCase(): BackendCase {
  const required = env("FACGCNN_REQUIRE_CUDA") === "1";
  try {
    return { label: "cuda", backend: createCudaBackend({ tf32: false }) };
  } catch (e) {
    // The loader's message lists every path tried (indented lines): keep the headlines.
    const headlines = (e instanceof Error ? e.message : String(e)).split("\n")
      .filter((l) => l.trim() !== "" && !/^\s/.test(l));
    const why = [...new Set(headlines)].join("; ").replace(/:; /g, ": ");
    return {
      label: "cuda",
      backend: null,
      skipReason: `CUDA backend cannot be created: ${shorten(why)}`,
      requiredButMissing: required,
    };
  }
}

/** The backend cases, created once per test module. */
export function backendCases(): BackendCase[] {
  if (cached) return cached;
  const ts = createCpuBackend({ blasPath: MISSING_BLAS, nativeKernels: false });
  if (ts.usesOpenBlas || ts.usesNativeKernels) {
    throw new Error("the all-TypeScript CPU backend unexpectedly loaded a native library");
  }
  const native = createCpuBackend();
  cached = [
    { label: "cpu-ts", backend: ts },
    native.usesNativeKernels ? { label: "cpu-native", backend: native } : {
      label: "cpu-native",
      backend: null,
      skipReason: `native CPU kernels not loaded: ${shorten(native.info().notes.join("; "))}`,
    },
    cudaCase(),
  ];
  return cached;
}

let openBlas: { backend: CpuBackend | null; skipReason?: string } | null = null;

/**
 * The CPU backend with OpenBLAS GEMM (native kernels as available), or null with the reason
 * when OpenBLAS does not load (absent, hidden by `FACGCNN_BLAS`, or no `--allow-ffi`). For the
 * GEMM tests, which must compare OpenBLAS itself with the fallback.
 */
export function openBlasCase(): { backend: CpuBackend | null; skipReason?: string } {
  if (openBlas) return openBlas;
  const b = createCpuBackend();
  openBlas = b.usesOpenBlas ? { backend: b } : {
    backend: null,
    skipReason: `OpenBLAS not loaded: ${shorten(b.info().notes.join("; "))}`,
  };
  return openBlas;
}

/** The available backends (for tests that compare configurations with each other). */
export function availableBackends(): { label: BackendLabel; backend: Backend }[] {
  return backendCases().flatMap((c) => c.backend ? [{ label: c.label, backend: c.backend }] : []);
}

function isAsync(fn: unknown): boolean {
  return typeof fn === "function" && fn.constructor.name === "AsyncFunction";
}

/**
 * Registers `name [label]` for each backend configuration; unavailable ones are ignored, with
 * why. With the leak check on (the default), a synchronous body runs in `checkNoLeaks` (a
 * `tidy` scope, so it need not free its intermediates); an `async` body must free what it
 * makes, and the live storage count is compared around it.
 */
export function forEachBackend(
  name: string,
  fn: (backend: Backend, t: Deno.TestContext) => void | Promise<void>,
  options: ForEachBackendOptions = {},
): void {
  const leakCheck = options.leakCheck ?? true;
  for (const c of backendCases()) {
    const testName = `${name} [${c.label}]`;
    const skip = options.skip ?? options.skipOn?.[c.label];
    if (skip !== undefined) {
      Deno.test({ name: `${testName} (skipped: ${skip})`, ignore: true, fn() {} });
      continue;
    }
    if (c.backend === null) {
      if (c.requiredButMissing) {
        Deno.test(testName, () => {
          throw new Error(`FACGCNN_REQUIRE_CUDA=1 but ${c.skipReason}`);
        });
      } else {
        Deno.test({ name: `${testName} (skipped: ${c.skipReason})`, ignore: true, fn() {} });
      }
      continue;
    }
    const backend = c.backend;
    if (!leakCheck) {
      Deno.test(testName, (t) => fn(backend, t));
    } else if (isAsync(fn)) {
      Deno.test(testName, async (t) => {
        const before = backend.memory();
        await fn(backend, t);
        const after = backend.memory();
        if (after.liveBuffers !== before.liveBuffers) {
          throw new Error(
            `${testName} left ${after.liveBuffers - before.liveBuffers} storages alive ` +
              `(live storages ${before.liveBuffers} → ${after.liveBuffers})`,
          );
        }
      });
    } else {
      Deno.test(testName, (t) => checkNoLeaks(backend, testName, () => fn(backend, t)));
    }
  }
}
