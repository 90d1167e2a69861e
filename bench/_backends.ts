/**
 * Registers each bench case once per backend present (the bench twin of
 * `tests/helpers/backends.ts`'s `forEachBackend`):
 * - `cpu-ts`: the CPU backend with TypeScript kernels only (fallback GEMM, no OpenBLAS);
 * - `cpu-native`: the CPU backend with the native C kernels and OpenBLAS GEMM (when built);
 * - `cuda`: the CUDA backend (TF32 as `FACGCNN_TF32` says), or, with `FACGCNN_GPU_STANDIN=cpu`,
 *   a CPU backend standing in for it so the CUDA cases register and run on a machine without
 *   a GPU (it times the CPU, not a GPU: it only shows the cases work).
 *
 * The group is the case (one op at one size), the bench name is `case [label]`: so
 * `deno bench --filter gatherRows` prints one table per size comparing the backends. A case
 * times `b.start()` → the calls → `backend.synchronize()` → `b.end()`: on CUDA the region ends
 * when the stream has drained, so the figure is device time, not launch time (a no-op on the
 * CPU). Deno's warm-up runs first (the first CUDA calls load modules and grow the pool).
 *
 * `BENCH_BACKENDS=cuda` (or any comma list of labels) creates and runs only those
 * configurations; the others show as skipped.
 * @module
 */

import type { Backend } from "../lib/backend/backend.ts";
import { createCpuBackend } from "../lib/backend/cpu/cpu_backend.ts";
import { createCudaBackend } from "../lib/backend/cuda/cuda_backend.ts";
import { envVar, flag, setting } from "../lib/util/settings.ts";

/** The three backend configurations a case runs on. */
export type BenchLabel = "cpu-ts" | "cpu-native" | "cuda";

/** One backend configuration; `backend` is null when it is absent here (with `why`). */
export interface BenchBackend {
  /** Label in bench names. */
  label: BenchLabel;
  /** The backend, or null when unavailable. */
  backend: Backend | null;
  /** Why it is unavailable. */
  why?: string;
  /** True when the GEMM is the all-TypeScript fallback (seconds per CGCNN-sized call). */
  slowGemm: boolean;
  /** True for the CPU stand-in of the `cuda` configuration (`FACGCNN_GPU_STANDIN=cpu`). */
  standIn: boolean;
}

/** Missing path: hides OpenBLAS so the TypeScript GEMM is used. */
const MISSING_BLAS = "/nonexistent/libopenblas.so";

let cached: BenchBackend[] | null = null;

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const line = text.split("\n").find((l) => l.trim() !== "") ?? text;
  return line.length > 140 ? `${line.slice(0, 139)}…` : line;
}

/** True when `FACGCNN_GPU_STANDIN` selects the CPU stand-in for the CUDA cases. */
export function gpuStandIn(): boolean {
  const v = setting("gpuStandIn");
  return v === "cpu" || v === "cpu-fp32";
}

function cudaConfig(): BenchBackend {
  if (gpuStandIn()) {
    const b = createCpuBackend();
    return { label: "cuda", backend: b, slowGemm: !b.usesOpenBlas, standIn: true };
  }
  try {
    const b = createCudaBackend({ tf32: flag("tf32") });
    return { label: "cuda", backend: b, slowGemm: false, standIn: false };
  } catch (e) {
    return { label: "cuda", backend: null, why: firstLine(e), slowGemm: false, standIn: false };
  }
}

/**
 * The configurations selected by `BENCH_BACKENDS` (a comma list of labels, default all):
 * `BENCH_BACKENDS=cuda` on a GPU machine skips the CPU configurations' setup and runs.
 */
export function selectedLabels(): Set<BenchLabel> {
  const all: BenchLabel[] = ["cpu-ts", "cpu-native", "cuda"];
  const raw = envVar("BENCH_BACKENDS");
  if (!raw) return new Set(all);
  const picked = raw.split(",").map((x) => x.trim()).filter((x) => x !== "");
  for (const p of picked) {
    if (!all.includes(p as BenchLabel)) {
      throw new RangeError(`BENCH_BACKENDS: unknown backend "${p}" (use ${all.join(", ")})`);
    }
  }
  return new Set(picked as BenchLabel[]);
}

function nativeConfig(): BenchBackend {
  const native = createCpuBackend();
  return native.usesNativeKernels
    ? { label: "cpu-native", backend: native, slowGemm: !native.usesOpenBlas, standIn: false }
    : {
      label: "cpu-native",
      backend: null,
      why: `native CPU kernels not loaded: ${native.info().notes.join("; ")}`,
      slowGemm: true,
      standIn: false,
    };
}

/** The configurations, created once per bench module. */
export function benchBackends(): BenchBackend[] {
  if (cached) return cached;
  const selected = selectedLabels();
  const off = (label: BenchLabel): BenchBackend => ({
    label,
    backend: null,
    why: "not selected by BENCH_BACKENDS",
    slowGemm: false,
    standIn: false,
  });
  const ts = (): BenchBackend => ({
    label: "cpu-ts",
    backend: createCpuBackend({ blasPath: MISSING_BLAS, nativeKernels: false }),
    slowGemm: true,
    standIn: false,
  });
  cached = [
    selected.has("cpu-ts") ? ts() : off("cpu-ts"),
    selected.has("cpu-native") ? nativeConfig() : off("cpu-native"),
    selected.has("cuda") ? cudaConfig() : off("cuda"),
  ];
  return cached;
}

/** One registered case, as `registerCase` saw it (for summaries and tests). */
export interface RegisteredCase {
  /** Bench name: `case [label]`. */
  name: string;
  /** Group: the case. */
  group: string;
  /** Backend label. */
  label: BenchLabel;
  /** False when registered as ignored (backend absent or case skipped). */
  runs: boolean;
  /** Seconds of each measured call (filled while `deno bench` runs). */
  seconds: number[];
}

/** Every case registered so far in this module. */
export const registered: RegisteredCase[] = [];

/** What registers a bench: `Deno.bench`, or a recorder in the tests. */
export type BenchRegistrar = (definition: Deno.BenchDefinition) => void;

let registrar: BenchRegistrar = (d) => Deno.bench(d);

/** Replaces `Deno.bench` (tests record the definitions); returns the previous registrar. */
export function setBenchRegistrar(r: BenchRegistrar): BenchRegistrar {
  const previous = registrar;
  registrar = r;
  return previous;
}

/** Options of {@linkcode registerCase}. */
export interface CaseOptions {
  /** A fixed iteration count (no warm-up) for slow configurations. */
  slowN?: number;
  /** Use `slowN` (no warm-up) on this configuration. */
  slow?: (c: BenchBackend) => boolean;
  /** Configurations to leave out, with why (shown in the ignored bench's name). */
  skipOn?: Partial<Record<BenchLabel, string>>;
  /** Iterations for every configuration (Deno picks when unset). */
  n?: number;
  /** Warm-up calls (Deno picks when unset). */
  warmup?: number;
}

/** One case of a list made for one backend by {@linkcode registerCases}. */
export interface CaseRun {
  /** The group (the case: op and size, with its work per call). */
  group: string;
  /** One call. */
  run: () => void;
  /** Run once without warm-up on this configuration (an all-TypeScript GEMM: seconds). */
  slow?: boolean;
}

function register(
  c: BenchBackend,
  group: string,
  run: (() => void) | null,
  skip: string | undefined,
  options: CaseOptions,
  slow: boolean,
): RegisteredCase {
  const label = c.standIn ? `${c.label} (stand-in: cpu)` : c.label;
  const name = `${group} [${label}]`;
  const rec: RegisteredCase = {
    name,
    group,
    label: c.label,
    runs: skip === undefined,
    seconds: [],
  };
  registered.push(rec);
  if (skip !== undefined || !c.backend || !run) {
    registrar({ name: `${name} (skipped: ${skip})`, group, ignore: true, fn() {} });
    return rec;
  }
  const backend = c.backend;
  registrar({
    name,
    group,
    n: slow ? (options.slowN ?? 1) : options.n,
    warmup: slow ? 0 : options.warmup,
    fn(b) {
      b.start();
      const t0 = performance.now();
      run();
      backend.synchronize();
      rec.seconds.push((performance.now() - t0) / 1000);
      b.end();
    },
  });
  return rec;
}

/**
 * Registers `group [label]` in group `group` for each configuration. `setup(backend)` runs at
 * registration and returns the call to time (its storages live for the process: bench modules
 * are short-lived). An absent configuration is registered as ignored, with why.
 */
export function registerCase(
  group: string,
  setup: (backend: Backend, config: BenchBackend) => () => void,
  options: CaseOptions = {},
): RegisteredCase[] {
  return benchBackends().map((c) => {
    const skip = options.skipOn?.[c.label] ?? (c.backend ? undefined : c.why);
    const run = skip === undefined && c.backend ? setup(c.backend, c) : null;
    return register(c, group, run, skip, options, options.slow?.(c) ?? false);
  });
}

/**
 * Registers a list of cases made once per configuration (`make(backend)` allocates the inputs
 * of all of them together): each case is one group, one bench per configuration; a
 * configuration that is absent or lacks a case (an optional fused kernel) shows as skipped in
 * that group.
 */
export function registerCases(
  make: (backend: Backend, config: BenchBackend) => CaseRun[],
  options: CaseOptions = {},
): RegisteredCase[] {
  const made = benchBackends().map((c) => {
    const skip = options.skipOn?.[c.label] ?? (c.backend ? undefined : c.why);
    const runs = skip === undefined && c.backend ? make(c.backend, c) : [];
    return { c, skip, byGroup: new Map(runs.map((r) => [r.group, r])) };
  });
  const groups = new Set(made.flatMap((m) => [...m.byGroup.keys()]));
  const out: RegisteredCase[] = [];
  for (const g of groups) {
    for (const { c, skip, byGroup } of made) {
      const r = byGroup.get(g);
      const why = skip ?? (r ? undefined : `not implemented on ${c.label}`);
      out.push(register(c, g, r?.run ?? null, why, options, r?.slow ?? false));
    }
  }
  return out;
}

/** Median of a list of seconds (NaN when empty). */
export function median(seconds: readonly number[]): number {
  if (seconds.length === 0) return NaN;
  const s = [...seconds].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}
