/**
 * Profiling mode (`FACGCNN_PROFILE=1`): every backend op of a training or prediction step is
 * bracketed by two clock marks — a CUDA event pair recorded on the backend's stream (see
 * `cuda/event_clock.ts`), or `performance.now()` on the CPU — and `train` / `predict` print
 * at the end a table of time per op kind, its share of the step, calls per step and the
 * achieved GB/s or GFLOP/s against the backend's measured copy bandwidth and GEMM rate.
 *
 * The backend is wrapped only when the switch is on (`profiledBackend`), so with it off no op
 * pays anything. A "call" is one backend op: on CUDA one kernel launch or cuBLAS/cuSPARSE
 * call, or a few for the composite ops (a planned scatter). Bytes are the sizes of the storages
 * an op is given (an upper bound of its traffic when it touches part of a storage); GEMM FLOP
 * are 2·m·n·k. Only ops inside a step (`stepBegin` … `stepEnd`) are tallied.
 * @module
 */

import type { Backend, GemmArgs, Storage } from "./backend.ts";
import { flag } from "../util/settings.ts";

/** A clock the profiler brackets each op with. */
export interface ProfileClock {
  /** Marks now (for CUDA: records an event on the stream); returns the mark's handle. */
  mark(): number;
  /** Milliseconds from one mark to another (waits for the second mark on a device). */
  elapsed(from: number, to: number): number;
  /** Forgets every mark so far (their events are reused by later marks). */
  reset(): void;
  /** Releases the clock's resources. */
  dispose(): void;
}

/** The host clock: `performance.now()` marks (for the CPU backend and the GPU stand-in). */
export function hostClock(): ProfileClock {
  let marks: number[] = [];
  return {
    mark: () => marks.push(performance.now()) - 1,
    elapsed: (a, b) => marks[b] - marks[a],
    reset: () => {
      marks = [];
    },
    dispose: () => {
      marks = [];
    },
  };
}

/** One op kind's totals over the profiled steps. */
export interface OpKindProfile {
  /** Op kind: the backend method (`gemm`, `gatherRows`, `unary sigmoid`, …). */
  kind: string;
  /** Milliseconds over all steps. */
  ms: number;
  /** Calls over all steps. */
  calls: number;
  /** Bytes of the storages given over all calls. */
  bytes: number;
  /** FLOP over all calls (GEMM only). */
  flops: number;
}

/** What the profiler measured. */
export interface ProfileSummary {
  /** The phase (`train` or `predict`). */
  phase: string;
  /** Profiled steps. */
  steps: number;
  /** Milliseconds of all steps, measured on the same clock from step start to step end. */
  stepMs: number;
  /** Per op kind, longest first. */
  kinds: OpKindProfile[];
}

interface Pending {
  kind: string;
  from: number;
  to: number;
  bytes: number;
  flops: number;
}

/** Collects op timings between step marks. */
export class Profiler {
  readonly #clock: ProfileClock;
  #pending: Pending[] = [];
  #stepMark = -1;
  #phase = "train";
  readonly #phases = new Map<
    string,
    { steps: number; stepMs: number; kinds: Map<string, OpKindProfile> }
  >();

  /** A profiler on `clock`. */
  constructor(clock: ProfileClock) {
    this.#clock = clock;
  }

  /** The clock the profiler marks with. */
  get clock(): ProfileClock {
    return this.#clock;
  }

  /** True between `stepBegin` and `stepEnd`. */
  get inStep(): boolean {
    return this.#stepMark >= 0;
  }

  /**
   * Marks the start of a step of `phase` (`train`, the default, or `predict`: tallied apart,
   * so evaluation batches during training do not dilute the training step's table).
   */
  stepBegin(phase = "train"): void {
    this.#phase = phase;
    this.#clock.reset();
    this.#pending = [];
    this.#stepMark = this.#clock.mark();
  }

  /** Marks the end of a step and tallies its ops (waits for the device on CUDA). */
  stepEnd(): void {
    if (this.#stepMark < 0) return;
    const end = this.#clock.mark();
    let phase = this.#phases.get(this.#phase);
    if (!phase) this.#phases.set(this.#phase, phase = { steps: 0, stepMs: 0, kinds: new Map() });
    phase.stepMs += this.#clock.elapsed(this.#stepMark, end);
    phase.steps++;
    for (const p of this.#pending) {
      let k = phase.kinds.get(p.kind);
      if (!k) phase.kinds.set(p.kind, k = { kind: p.kind, ms: 0, calls: 0, bytes: 0, flops: 0 });
      k.ms += this.#clock.elapsed(p.from, p.to);
      k.calls++;
      k.bytes += p.bytes;
      k.flops += p.flops;
    }
    this.#pending = [];
    this.#stepMark = -1;
    this.#clock.reset();
  }

  /** Runs `fn` as one op of kind `kind` (timed only inside a step). */
  op<T>(kind: string, bytes: number, flops: number, fn: () => T): T {
    if (this.#stepMark < 0) return fn();
    const from = this.#clock.mark();
    try {
      return fn();
    } finally {
      this.#pending.push({ kind, from, to: this.#clock.mark(), bytes, flops });
    }
  }

  /** The totals so far. */
  summary(phase = "train"): ProfileSummary {
    const p = this.#phases.get(phase);
    const kinds = [...(p?.kinds.values() ?? [])].map((k) => ({ ...k }))
      .sort((a, b) => b.ms - a.ms);
    return { phase, steps: p?.steps ?? 0, stepMs: p?.stepMs ?? 0, kinds };
  }

  /** The phases with profiled steps, in the order first seen. */
  phases(): string[] {
    return [...this.#phases.keys()];
  }

  /** Releases the clock. */
  dispose(): void {
    this.#clock.dispose();
  }
}

/** Reference rates of the device the table compares achieved rates with. */
export interface DeviceRates {
  /** Copy bandwidth, GB/s (read + write bytes). */
  copyGBs: number;
  /** float32 GEMM rate, GFLOP/s. */
  gemmGFLOPs: number;
}

/**
 * The table: one row per op kind (ms per step, share of the step, calls per step, achieved
 * rate and its fraction of the reference), then the time outside ops and the step total.
 */
export function profileTable(s: ProfileSummary, rates?: DeviceRates): string {
  if (s.steps === 0) return `profile (${s.phase}): no step was profiled`;
  const perStep = (x: number) => x / s.steps;
  const lines = [
    `profile (${s.phase}): ${s.steps} steps, ${perStep(s.stepMs).toFixed(2)} ms per step` +
    (rates
      ? ` (reference: copy ${rates.copyGBs.toFixed(1)} GB/s, GEMM ${
        rates.gemmGFLOPs.toFixed(1)
      } GFLOP/s)`
      : ""),
    `${"op kind".padEnd(28)} ${"ms/step".padStart(9)} ${"share".padStart(7)} ${
      "calls/step".padStart(10)
    }  achieved`,
  ];
  let opMs = 0;
  for (const k of s.kinds) {
    opMs += k.ms;
    const sec = k.ms / 1000;
    let rate = "";
    if (sec > 0 && k.flops > 0) {
      const g = k.flops / sec / 1e9;
      rate = `${g.toFixed(1)} GFLOP/s` +
        (rates ? ` (${(100 * g / rates.gemmGFLOPs).toFixed(0)}% of GEMM)` : "");
    } else if (sec > 0 && k.bytes > 0) {
      const g = k.bytes / sec / 1e9;
      rate = `${g.toFixed(2)} GB/s` +
        (rates ? ` (${(100 * g / rates.copyGBs).toFixed(0)}% of copy)` : "");
    }
    lines.push(
      `${k.kind.slice(0, 28).padEnd(28)} ${perStep(k.ms).toFixed(3).padStart(9)} ${
        pct(k.ms, s.stepMs)
      } ${perStep(k.calls).toFixed(1).padStart(10)}  ${rate}`,
    );
  }
  lines.push(
    `${"(outside ops: host work)".padEnd(28)} ${perStep(s.stepMs - opMs).toFixed(3).padStart(9)} ${
      pct(s.stepMs - opMs, s.stepMs)
    }`,
    `${"step".padEnd(28)} ${perStep(s.stepMs).toFixed(3).padStart(9)} ${pct(s.stepMs, s.stepMs)}`,
  );
  return lines.join("\n");
}

function pct(x: number, total: number): string {
  return `${(total > 0 ? 100 * x / total : 0).toFixed(1)}%`.padStart(7);
}

/** Methods that are bookkeeping, not device work: never timed. */
const UNTIMED = new Set([
  "info",
  "memory",
  "resetPeak",
  "alloc",
  "free",
  "dispose",
  "allocatorStats",
  "transferStats",
  "resetTransferStats",
  "devicePointer",
  "synchronize",
  "constructor",
]);

function isStorage(x: unknown): x is Storage {
  return typeof x === "object" && x !== null && "dtype" in x &&
    typeof (x as { length?: unknown }).length === "number";
}

/** Bytes of the storages among an op's arguments (positional, or fields of one args object). */
function storageBytes(args: unknown[]): number {
  let bytes = 0;
  for (const a of args) {
    if (isStorage(a)) bytes += 4 * a.length;
    else if (a instanceof Float32Array || a instanceof Int32Array) bytes += a.byteLength;
    else if (typeof a === "object" && a !== null && !Array.isArray(a)) {
      for (const v of Object.values(a)) if (isStorage(v)) bytes += 4 * v.length;
    }
  }
  return bytes;
}

function kindOf(method: string, args: unknown[]): string {
  return (method === "unary" || method === "unaryBackward" || method === "binary") &&
      typeof args[0] === "string"
    ? `${method} ${args[0]}`
    : method;
}

const profilers = new WeakMap<object, Profiler>();

/**
 * `backend` with every op timed by `profiler` (a Proxy: storages still belong to the inner
 * backend, methods run with it as `this`).
 */
export function profiledBackend<B extends Backend>(backend: B, profiler: Profiler): B {
  const wrapped = new Map<PropertyKey, unknown>();
  const proxy = new Proxy(backend, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== "function") return v;
      let w = wrapped.get(prop);
      if (!w) {
        const name = String(prop);
        const fn = v as (...a: unknown[]) => unknown;
        w = UNTIMED.has(name) ? fn.bind(target) : (...args: unknown[]) => {
          if (!profiler.inStep) return fn.apply(target, args);
          if (name === "gemm") {
            const g = args[0] as GemmArgs;
            const bytes = 4 * (g.m * g.k + g.k * g.n + g.m * g.n);
            return profiler.op("gemm", bytes, 2 * g.m * g.n * g.k, () => fn.apply(target, args));
          }
          return profiler.op(
            kindOf(name, args),
            storageBytes(args),
            0,
            () => fn.apply(target, args),
          );
        };
        wrapped.set(prop, w);
      }
      return w;
    },
  });
  profilers.set(proxy, profiler);
  return proxy;
}

/** The profiler of a backend made by {@linkcode profiledBackend}, else null. */
export function profilerOf(backend: Backend): Profiler | null {
  return profilers.get(backend) ?? null;
}

/**
 * Measures the reference rates on `backend` (outside any step): a 64 MiB device copy and a
 * square float32 GEMM (`n`³, 1024 by default), each the best of three after a warm-up.
 */
export function measureRates(backend: Backend, clock: ProfileClock, n = 1024): DeviceRates {
  const len = 16 << 20;
  const src = backend.alloc("float32", len), dst = backend.alloc("float32", len);
  const a = backend.alloc("float32", n * n), b = backend.alloc("float32", n * n);
  const c = backend.alloc("float32", n * n);
  try {
    backend.fill(a, 1);
    backend.fill(b, 1);
    const best = (fn: () => void) => {
      fn();
      let ms = Infinity;
      for (let i = 0; i < 3; i++) {
        clock.reset();
        const m0 = clock.mark();
        fn();
        ms = Math.min(ms, clock.elapsed(m0, clock.mark()));
      }
      clock.reset();
      return Math.max(ms, 1e-6) / 1000;
    };
    const copySec = best(() => backend.copy(src, dst, len));
    const gemm = { m: n, n, k: n, alpha: 1, beta: 0, a, b, c, lda: n, ldb: n, ldc: n };
    const gemmSec = best(() => backend.gemm({ ...gemm, transA: false, transB: false }));
    return { copyGBs: 2 * 4 * len / copySec / 1e9, gemmGFLOPs: 2 * n * n * n / gemmSec / 1e9 };
  } finally {
    for (const s of [src, dst, a, b, c]) backend.free(s);
  }
}

/**
 * `backend` itself, or with `FACGCNN_PROFILE=1` the backend profiled on its own clock (CUDA
 * events when it has them, else the host clock). Used by `selectBackend`.
 */
export function maybeProfiled<B extends Backend>(backend: B): B {
  if (!flag("profile")) return backend;
  const withEvents = backend as B & { eventClock?: () => ProfileClock };
  const clock = typeof withEvents.eventClock === "function" ? withEvents.eventClock() : hostClock();
  return profiledBackend(backend, new Profiler(clock));
}

/**
 * The profile table of a profiled backend, with the reference rates measured now (a square
 * GEMM of 2048 on CUDA, 512 on the CPU); null when `backend` is not profiled.
 */
export function profileReport(backend: Backend): string | null {
  const p = profilerOf(backend);
  if (!p) return null;
  if (p.phases().length === 0) return "profile: no step was profiled";
  const rates = measureRates(backend, p.clock, backend.name === "cuda" ? 2048 : 512);
  return p.phases().map((phase) => profileTable(p.summary(phase), rates)).join("\n\n");
}
