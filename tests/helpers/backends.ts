/**
 * Run one test body on every available backend (candle's `test_device!`).
 *
 * The CPU backend comes in two flavours that must agree: OpenBLAS GEMM with the native CPU
 * kernels when they are built, and the all-TypeScript configuration (fallback GEMM and
 * TypeScript kernels). `forEachBackend` registers one `Deno.test` per flavour;
 * when OpenBLAS cannot be loaded (absent, hidden by `FACGCNN_BLAS`, or no `--allow-ffi`) its
 * case is registered as ignored with the reason in the test name.
 * @module
 */

import type { Backend } from "../../lib/backend/backend.ts";
import { type CpuBackend, createCpuBackend } from "../../lib/backend/cpu/cpu_backend.ts";

/** A path that never exists: hides OpenBLAS so the fallback GEMM is used. */
export const MISSING_BLAS = "/nonexistent/libopenblas.so";

/** One backend to run a test body on. */
export interface BackendCase {
  /** Short label used in test names: "openblas" or "fallback". */
  label: string;
  /** The backend, or null when it is unavailable. */
  backend: CpuBackend | null;
  /** Why the case is skipped (when `backend` is null). */
  skipReason?: string;
}

let cached: BackendCase[] | null = null;

function shorten(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The CPU backend cases, created once per test module. */
export function backendCases(): BackendCase[] {
  if (cached) return cached;
  const openblas = createCpuBackend();
  const fallback = createCpuBackend({ blasPath: MISSING_BLAS, nativeKernels: false });
  if (fallback.usesOpenBlas) throw new Error(`${MISSING_BLAS} unexpectedly loaded`);
  cached = [
    openblas.usesOpenBlas ? { label: "openblas", backend: openblas } : {
      label: "openblas",
      backend: null,
      skipReason: `OpenBLAS not loaded: ${shorten(openblas.info().notes.join("; "))}`,
    },
    { label: "fallback", backend: fallback },
  ];
  return cached;
}

/** Registers `name [label]` for each backend case; unavailable cases are ignored, with why. */
export function forEachBackend(
  name: string,
  fn: (backend: Backend, t: Deno.TestContext) => void | Promise<void>,
): void {
  for (const c of backendCases()) {
    if (c.backend === null) {
      Deno.test({ name: `${name} [${c.label}] (skipped: ${c.skipReason})`, ignore: true, fn() {} });
      continue;
    }
    const backend = c.backend;
    Deno.test(`${name} [${c.label}]`, (t) => fn(backend, t));
  }
}
