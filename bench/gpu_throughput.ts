/**
 * Training and inference throughput of CGCNN and FACGCNN on the CUDA backend (or the CPU with
 * `--cpu`), at the paper's settings, next to the same model in PyTorch on the same graphs.
 *
 *   deno task bench:gpu [--quick] [--cpu] [--no-peer] [--tf32] [--python python3]
 *
 * Settings (full): batch 2048, A = 128, H = 128, 3 convolutions, n_h = 1, 20480 synthetic
 * crystals (10 batches an epoch) of 10 to 21 atoms (about 15) and 12 neighbours each (radius
 * 8 Å), SF-AdamW at the paper's lr 5e-4, FACGCNN with stochastic frames (k = 1). `--quick`:
 * batch 256, A = 64, 4 batches an epoch.
 *
 * Ours: training throughput over one epoch after 2 warm-up steps, each step as the trainer runs
 * it (forward with host-side input building and upload, MSE loss, backward, `item()`, optimizer
 * step), the device synchronised before the clock stops; inference the same in eval mode
 * without gradients. The host-side input building alone (Gaussians, frames) is timed too.
 * Peak memory: the backend's peak live bytes over the timed steps (and, on CUDA, the caching
 * allocator's peak reserved bytes). Achieved GB/s: the minimum kernel traffic of one training
 * step (counted by running the same step on {@linkcode TrafficBackend}, which computes nothing
 * and counts each kernel's bytes) divided by the mean step time, next to the device-to-device
 * copy bandwidth measured in the same run (a large `copy`, read + write bytes).
 *
 * PyTorch peer (`bench/peer/cgcnn_torch.py`): the batches are exported once to a binary file
 * (a JSON header, then raw little-endian arrays; FACGCNN frame coordinates and relative
 * vectors from one stochastic draw per batch) and the script is run on it (`--json`); its
 * figures join the table.
 *
 * Output: a table on stdout, and `gpu_throughput.md` / `gpu_throughput.json` under `$OUT` when
 * set, else under `.cache/bench/` (git-ignored).
 * @module
 */

import { parseArgs } from "node:util";
import type {
  AdamWScalars,
  Backend,
  BackendInfo,
  BatchNormArgs,
  BatchNormBackwardArgs,
  BatchPart,
  BinaryOp,
  Broadcast,
  CopyColsArgs,
  DType,
  FrameApplyArgs,
  FrameBuildArgs,
  GaussianArgs,
  GemmArgs,
  MemoryInfo,
  ScheduleFreeScalars,
  SgdScalars,
  Storage,
  UnaryOp,
} from "../lib/backend/backend.ts";
import { createCpuBackend } from "../lib/backend/cpu/cpu_backend.ts";
import { createCudaBackend, type CudaBackend } from "../lib/backend/cuda/cuda_backend.ts";
import { probeCuda } from "../lib/backend/cuda/probe.ts";
import { atomFeatureTable, BUILTIN_ATOM_FEATURES } from "../lib/crystal/atom_features.ts";
import { loadGraphs } from "../lib/data/featurize.ts";
import { subsetGraphs } from "../lib/graph/subset.ts";
import { Rng } from "../lib/util/random.ts";
import { gaussianSize } from "../lib/crystal/rbf.ts";
import type { GraphSet } from "../lib/crystal/types.ts";
import { collate, type GraphBatch } from "../lib/graph/batch.ts";
import { buildHostInputs } from "../lib/models/inputs.ts";
import { Model, type ModelConfig } from "../lib/models/model.ts";
import { createOptimizer } from "../lib/optim/create.ts";
import type { Optimizer } from "../lib/optim/optimizer.ts";
import { noGrad, tidy } from "../lib/tensor/scope.ts";
import "../lib/autograd/backward.ts"; // installs Tensor.backward()
import { trainStep as runTrainStep } from "../lib/train/step.ts";

type Kind = "cgcnn" | "facgcnn";

/** Benchmark sizes. */
export interface Settings {
  batch: number;
  batches: number;
  atomFeaLen: number;
  hFeaLen: number;
  nConv: number;
  warmup: number;
  /** Crystals with this many atoms (inclusive) are drawn from the synthetic pool. */
  atomRange: [number, number];
  lr: number;
  /** Bytes of each buffer of the copy-bandwidth measurement. */
  copyBytes: number;
}

const FULL: Settings = {
  batch: 2048,
  batches: 10,
  atomFeaLen: 128,
  hFeaLen: 128,
  nConv: 3,
  warmup: 2,
  atomRange: [10, 21],
  lr: 5e-4,
  copyBytes: 1 << 30,
};
const QUICK: Settings = {
  ...FULL,
  batch: 256,
  batches: 4,
  atomFeaLen: 64,
  warmup: 1,
  copyBytes: 64 << 20,
};

/** Our figures for one model. */
export interface OursResult {
  kind: Kind;
  trainCrystalsPerS: number;
  trainStepMs: number;
  inferCrystalsPerS: number;
  inferBatchMs: number;
  /** Host-side input building (Gaussians, frames) per batch, included in the step times. */
  hostInputsMs: number;
  peakLiveBytes: number;
  peakReservedBytes: number | null;
  stepKernelBytes: number;
  stepGemmFlops: number;
  stepH2DBytes: number;
  /**
   * Measured per training step on the CUDA backend (its transfer counters): host→device and
   * device→host bytes and stream waits; null on the CPU.
   */
  measured: { h2dBytes: number; d2hBytes: number; h2dCopies: number; syncs: number } | null;
  stepLaunches: number;
  achievedGBs: number;
  trafficByOp: Record<string, number>;
  losses: number[];
  /**
   * Degenerate frames counted over the training steps (FACGCNN; on CUDA the device's counter,
   * read once after the timed steps).
   */
  degenerateFrames: number;
}

/** The PyTorch script's figures for one model (its `--json` output, `models[kind]`). */
export interface PeerResult {
  train_crystals_per_s: number;
  infer_crystals_per_s: number;
  train_step_ms: number;
  infer_batch_ms: number;
  peak_allocated_bytes: number | null;
  peak_reserved_bytes: number | null;
  losses?: number[];
}

function parseFlags() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      cpu: { type: "boolean", default: false },
      "no-peer": { type: "boolean", default: false },
      tf32: { type: "boolean", default: false },
      python: { type: "string", default: "python3" },
      "peer-args": { type: "string", default: "" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      "deno task bench:gpu [--quick] [--cpu] [--no-peer] [--tf32] [--python python3] " +
        "[--peer-args='...']",
    );
    Deno.exit(0);
  }
  return values;
}

function env(k: string): string | undefined {
  try {
    return Deno.env.get(k);
  } catch {
    return undefined;
  }
}

/**
 * `count` crystals of `atomRange` atoms: a synthetic pool filtered to that size, cycled and
 * shuffled (repeats are harmless for throughput).
 */
export async function benchGraphs(s: Settings, count: number): Promise<GraphSet> {
  const pool = (await loadGraphs("synthetic:3000:11", { cacheDir: null, quiet: true })).graphs;
  const keep: number[] = [];
  for (let c = 0; c < pool.count; c++) {
    const n = pool.atomOffsets[c + 1] - pool.atomOffsets[c];
    if (n >= s.atomRange[0] && n <= s.atomRange[1]) keep.push(c);
  }
  if (keep.length === 0) throw new Error("no synthetic crystal of the requested size");
  const rng = new Rng(17, 1);
  const idx = Int32Array.from({ length: count }, (_, i) => keep[i % keep.length]);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return subsetGraphs(pool, idx);
}

/** The epoch's batches and standardised targets. */
function makeBatches(
  graphs: GraphSet,
  s: Settings,
): { batch: GraphBatch; targets: Float32Array }[] {
  const t = graphs.targets, n = t.length;
  const mean = t.reduce((a, x) => a + x, 0) / n;
  const std = Math.sqrt(t.reduce((a, x) => a + (x - mean) ** 2, 0) / n) || 1;
  const out = [];
  for (let b = 0; b < s.batches; b++) {
    const idx = Int32Array.from({ length: s.batch }, (_, i) => b * s.batch + i);
    const batch = collate(graphs, idx);
    out.push({ batch, targets: Float32Array.from(batch.targets, (x) => (x - mean) / std) });
  }
  return out;
}

function modelConfig(kind: Kind, s: Settings): ModelConfig {
  return {
    kind,
    atomFeaLen: s.atomFeaLen,
    hFeaLen: s.hFeaLen,
    nConv: s.nConv,
    nH: 1,
    frames: "stochastic",
    frameKind: "pca", // the paper's frames, as exported to the peer and timed on the host
    seed: 1,
  };
}

/** One training step as the trainer runs it (`lib/train/step.ts`); returns the loss. */
function trainStep(
  model: Model,
  optimizer: Optimizer,
  b: { batch: GraphBatch; targets: Float32Array },
): number {
  return runTrainStep(model, optimizer, b.batch, b.targets);
}

/** Device-to-device copy bandwidth (read + write bytes per second) with two `bytes` buffers. */
export function copyBandwidth(backend: Backend, bytes: number): number {
  const n = Math.floor(bytes / 4);
  const a = backend.alloc("float32", n), b = backend.alloc("float32", n);
  try {
    backend.copy(a, b, n);
    backend.copy(b, a, n);
    backend.synchronize();
    let reps = 0;
    const t0 = performance.now();
    let t = t0;
    while (reps < 5 || (t - t0 < 200 && reps < 200)) {
      backend.copy(reps % 2 ? b : a, reps % 2 ? a : b, n);
      reps++;
      if (reps % 5 === 0) {
        backend.synchronize();
        t = performance.now();
      }
    }
    backend.synchronize();
    t = performance.now();
    return (2 * 4 * n * reps) / ((t - t0) / 1000);
  } finally {
    backend.free(a);
    backend.free(b);
  }
}

/**
 * Bytes, flops and launches of one training step of `kind`, counted on a TrafficBackend named
 * as the device (so the model takes that device's input path: on CUDA, frames built on it).
 */
function stepTraffic(
  kind: Kind,
  s: Settings,
  b: { batch: GraphBatch; targets: Float32Array },
  device: "cpu" | "cuda" = "cpu",
) {
  const backend = new TrafficBackend(device);
  const model = new Model(modelConfig(kind, s), backend);
  const optimizer = createOptimizer("sf-adamw", model.parameters(), { lr: s.lr });
  try {
    trainStep(model, optimizer, b); // first step creates the optimizer state
    backend.reset();
    trainStep(model, optimizer, b);
    return backend.traffic();
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

function allocatorPeak(backend: Backend): number | null {
  const stats = (backend as Partial<CudaBackend>).allocatorStats?.();
  return stats ? stats.peakReservedBytes : null;
}

/** Times our training and inference for one model kind. */
export function benchOurs(
  backend: Backend,
  kind: Kind,
  s: Settings,
  batches: { batch: GraphBatch; targets: Float32Array }[],
): OursResult {
  const traffic = stepTraffic(kind, s, batches[0], backend.name);
  // Host-side input building alone (it is part of every forward pass).
  const rng = new Rng(3, 3);
  const h0 = performance.now();
  for (const b of batches) {
    // As the model builds them: on CUDA the device computes and applies the frames (the host
    // draws the sign patterns and sends the float64 positions).
    const framePlace = backend.name === "cuda" ? "device" : "host";
    buildHostInputs(
      b.batch,
      { kind, frames: "stochastic", frameKind: "pca", framePlace, frameBuild: framePlace },
      () => rng.next(),
    );
  }
  const hostInputsMs = (performance.now() - h0) / batches.length;

  const model = new Model(modelConfig(kind, s), backend);
  const optimizer = createOptimizer("sf-adamw", model.parameters(), { lr: s.lr });
  try {
    model.train();
    for (let i = 0; i < s.warmup; i++) trainStep(model, optimizer, batches[i % batches.length]);
    backend.synchronize();
    backend.resetPeak();
    const losses: number[] = [];
    const counters = backend as Partial<CudaBackend>;
    counters.resetTransferStats?.();
    const t0 = performance.now();
    for (const b of batches) losses.push(trainStep(model, optimizer, b));
    backend.synchronize();
    const trainMs = performance.now() - t0;
    const t = counters.transferStats?.();
    const per = (x: number) => x / batches.length;
    const measured = t
      ? {
        h2dBytes: per(t.h2dBytes),
        d2hBytes: per(t.d2hBytes),
        h2dCopies: per(t.h2dCopies),
        syncs: per(t.syncs - 1), // the synchronize() after the loop
      }
      : null;
    const peakLiveBytes = backend.memory().peakBytes;
    const peakReservedBytes = allocatorPeak(backend);
    const degenerateFrames = model.degenerateSeen; // one read, after the timed steps

    model.eval();
    const infer = (b: { batch: GraphBatch }) =>
      tidy(() => noGrad(() => model.forward(b.batch).toFloat32Array()));
    for (let i = 0; i < s.warmup; i++) infer(batches[i % batches.length]);
    backend.synchronize();
    const t1 = performance.now();
    for (const b of batches) infer(b);
    backend.synchronize();
    const inferMs = performance.now() - t1;

    const crystals = s.batch * batches.length;
    const trainStepMs = trainMs / batches.length;
    return {
      kind,
      trainCrystalsPerS: crystals / (trainMs / 1000),
      trainStepMs,
      inferCrystalsPerS: crystals / (inferMs / 1000),
      inferBatchMs: inferMs / batches.length,
      hostInputsMs,
      peakLiveBytes,
      peakReservedBytes,
      stepKernelBytes: traffic.kernelBytes,
      stepGemmFlops: traffic.gemmFlops,
      stepH2DBytes: traffic.h2dBytes,
      measured,
      stepLaunches: traffic.launches,
      degenerateFrames,
      achievedGBs: traffic.kernelBytes / (trainStepMs / 1000) / 1e9,
      trafficByOp: traffic.byOp,
      losses,
    };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

// --- export for the PyTorch peer -------------------------------------------------------------

interface ArrayEntry {
  dtype: "float32" | "int32";
  shape: number[];
  offset: number;
}

/**
 * Writes the batches for `bench/peer/cgcnn_torch.py`: `FACGPEER` (8 bytes), the header length
 * (u32 LE), the JSON header, zero padding to a multiple of 64, then the arrays (little-endian,
 * each at a 64-byte aligned `offset` from the start of the data section). Per batch: `numbers`
 * [N], `centre` [E] and `neighbor` [E] (edge i → j, batch-global), `distance` [E],
 * `crystal` [N] (crystal of each atom), `target` [C] (standardised), `coords` [N, 3] and
 * `rel` [E, 3] (FACGCNN inputs from one stochastic frame draw).
 */
export async function exportForPeer(
  path: string,
  s: Settings,
  batches: { batch: GraphBatch; targets: Float32Array }[],
): Promise<number> {
  const chunks: Uint8Array[] = [];
  let at = 0;
  const add = (a: Float32Array | Int32Array, shape: number[]): ArrayEntry => {
    const pad = (64 - (at % 64)) % 64;
    if (pad) chunks.push(new Uint8Array(pad)), at += pad;
    const entry: ArrayEntry = {
      dtype: a instanceof Float32Array ? "float32" : "int32",
      shape,
      offset: at,
    };
    chunks.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    at += a.byteLength;
    return entry;
  };
  const { maxZ, length } = BUILTIN_ATOM_FEATURES;
  const atomTable = add(atomFeatureTable(BUILTIN_ATOM_FEATURES), [maxZ + 1, length]);
  const rng = new Rng(5, 5);
  const G = gaussianSize();
  const list = batches.map(({ batch, targets }) => {
    const { nCrystals: C, nAtoms: N, nEdges: E } = batch;
    const centre = new Int32Array(E);
    for (let a = 0; a < N; a++) centre.fill(a, batch.edgeOffsets[a], batch.edgeOffsets[a + 1]);
    const crystal = new Int32Array(N);
    for (let c = 0; c < C; c++) {
      crystal.fill(c, batch.crystalOffsets[c], batch.crystalOffsets[c + 1]);
    }
    const h = buildHostInputs(
      batch,
      { kind: "facgcnn", frames: "stochastic", frameKind: "pca" },
      () => rng.next(),
    );
    const rel = h.relative!.subarray(0, 3 * E); // frame relative vectors of the one copy
    return {
      nCrystals: C,
      nAtoms: N,
      nEdges: E,
      arrays: {
        numbers: add(batch.numbers, [N]),
        centre: add(centre, [E]),
        neighbor: add(batch.neighbors, [E]),
        distance: add(batch.distances, [E]),
        crystal: add(crystal, [N]),
        target: add(targets, [C]),
        coords: add(h.coords!, [N, 3]),
        rel: add(rel, [E, 3]),
      },
    };
  });
  const header = {
    format: "facgcnn-peer-batches",
    version: 1,
    settings: {
      batch: s.batch,
      atomFeaLen: s.atomFeaLen,
      hFeaLen: s.hFeaLen,
      nConv: s.nConv,
      nH: 1,
      warmup: s.warmup,
      lr: s.lr,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      gaussian: { count: G, start: 0, step: 0.2, sigma: 0.2 },
    },
    atomTable,
    batches: list,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const pre = new Uint8Array(12);
  pre.set(new TextEncoder().encode("FACGPEER"));
  new DataView(pre.buffer).setUint32(8, json.length, true);
  const headPad = (64 - ((12 + json.length) % 64)) % 64;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (const c of [pre, json, new Uint8Array(headPad), ...chunks]) {
      let off = 0;
      while (off < c.length) off += await file.write(c.subarray(off));
    }
  } finally {
    file.close();
  }
  return 12 + json.length + headPad + at;
}

/** Runs the PyTorch script; its parsed JSON, or the reason it could not run. */
export async function runPeer(
  python: string,
  file: string,
  device: "cuda" | "cpu",
  extra: string[],
): Promise<{ ok: true; json: Record<string, unknown> } | { ok: false; reason: string }> {
  const script = new URL("./peer/cgcnn_torch.py", import.meta.url).pathname;
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(python, {
      args: [script, file, "--json", "--device", device, ...extra],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    return { ok: false, reason: `cannot run ${python}: ${e instanceof Error ? e.message : e}` };
  }
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (stderr.trim()) {
    console.error(stderr.trimEnd().split("\n").map((l) => `  [peer] ${l}`).join("\n"));
  }
  if (!out.success) {
    const last = stderr.trim().split("\n").slice(-1)[0] ?? "";
    return { ok: false, reason: `peer exited with ${out.code}: ${last}` };
  }
  const line = stdout.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) return { ok: false, reason: "peer printed no JSON" };
  try {
    return { ok: true, json: JSON.parse(line) };
  } catch (e) {
    return { ok: false, reason: `peer JSON: ${e instanceof Error ? e.message : e}` };
  }
}

// --- report ----------------------------------------------------------------------------------

const MiB = 1024 * 1024;
const f0 = (
  x: number | null | undefined,
) => (x == null || !Number.isFinite(x) ? "n/a" : x.toFixed(0));
const mib = (x: number | null | undefined) => (x == null ? "n/a" : `${(x / MiB).toFixed(0)} MiB`);

/** The result table (Markdown). */
export function table(
  device: string,
  ours: OursResult[],
  peer: Record<string, PeerResult> | null,
  peerDevice: string,
  copyGBs: number,
): string {
  const rows = [
    "| model | ours train cr/s | torch train cr/s | ratio | ours infer cr/s | torch infer cr/s | " +
    "ratio | ours peak live | torch peak alloc | ours step GB/s (of copy) | device |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const o of ours) {
    const p = peer?.[o.kind];
    const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}×` : "n/a");
    rows.push(
      `| ${o.kind} | ${f0(o.trainCrystalsPerS)} | ${f0(p?.train_crystals_per_s)} | ${
        ratio(o.trainCrystalsPerS, p?.train_crystals_per_s)
      } | ${f0(o.inferCrystalsPerS)} | ${f0(p?.infer_crystals_per_s)} | ${
        ratio(o.inferCrystalsPerS, p?.infer_crystals_per_s)
      } | ${mib(o.peakLiveBytes)} | ${mib(p?.peak_allocated_bytes)} | ${
        o.achievedGBs.toFixed(1)
      } (${(100 * o.achievedGBs / copyGBs).toFixed(1)}%) | ${device}${
        peer && peerDevice !== device ? ` / torch: ${peerDevice}` : ""
      } |`,
    );
  }
  return rows.join("\n");
}

function details(ours: OursResult[], copyGBs: number): string {
  const lines = [`copy bandwidth (device-to-device, read + write): ${copyGBs.toFixed(1)} GB/s`];
  for (const o of ours) {
    const top = Object.entries(o.trafficByOp).sort((a, b) => b[1] - a[1]).slice(0, 6)
      .map(([k, v]) => `${k} ${(v / 1e9).toFixed(2)}`).join(", ");
    lines.push(
      `${o.kind}: train step ${o.trainStepMs.toFixed(1)} ms (host inputs ${
        o.hostInputsMs.toFixed(1)
      } ms of it), inference ${o.inferBatchMs.toFixed(1)} ms/batch; step kernel traffic ${
        (o.stepKernelBytes / 1e9).toFixed(2)
      } GB in ${o.stepLaunches} launches (${top} GB), GEMM ${
        (o.stepGemmFlops / 1e9).toFixed(1)
      } GFLOP, upload ${(o.stepH2DBytes / 1e6).toFixed(1)} MB${
        o.measured
          ? ` (measured per step: H2D ${(o.measured.h2dBytes / 1e6).toFixed(2)} MB in ${
            o.measured.h2dCopies.toFixed(1)
          } copies, D2H ${(o.measured.d2hBytes / 1e3).toFixed(1)} kB, ${
            o.measured.syncs.toFixed(1)
          } waits)`
          : ""
      }; peak live ${mib(o.peakLiveBytes)}${
        o.peakReservedBytes != null ? `, allocator peak reserved ${mib(o.peakReservedBytes)}` : ""
      }; losses ${o.losses.map((l) => l.toFixed(3)).join(" ")}${
        o.kind === "facgcnn" ? `; degenerate frames seen ${o.degenerateFrames}` : ""
      }`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const flags = parseFlags();
  const s = flags.quick ? QUICK : FULL;
  let backend: Backend;
  if (flags.cpu) {
    backend = createCpuBackend();
  } else {
    const probe = probeCuda();
    if (!probe.available) {
      throw new Error(`${probe.reason} (run with --cpu to benchmark the CPU backend)`);
    }
    backend = createCudaBackend({ tf32: flags.tf32 });
  }
  const info = backend.info();
  const device = `${info.name}: ${info.device}`;
  console.error(`backend ${device}; ${info.gemm}; ${info.notes.join("; ")}`);

  const t0 = performance.now();
  const graphs = await benchGraphs(s, s.batch * s.batches);
  const batches = makeBatches(graphs, s);
  const atoms = batches.reduce((a, b) => a + b.batch.nAtoms, 0);
  const edges = batches.reduce((a, b) => a + b.batch.nEdges, 0);
  const crystals = s.batch * s.batches;
  const shape = `batch ${s.batch}, A = ${s.atomFeaLen}, H = ${s.hFeaLen}, ${s.nConv} convs, ` +
    `${s.batches} batches of ${(atoms / crystals).toFixed(1)} atoms and ${
      (edges / atoms).toFixed(1)
    } neighbours per crystal/atom (${crystals} crystals, built in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s)${flags.tf32 ? ", TF32 GEMM" : ""}`;
  console.error(shape);

  const copyGBs = copyBandwidth(backend, s.copyBytes) / 1e9;
  const ours: OursResult[] = [];
  for (const kind of ["cgcnn", "facgcnn"] as const) {
    console.error(`ours: ${kind} …`);
    // On the CPU each model gets a fresh backend (an empty allocator cache, as a fresh process
    // would): with one shared backend the second model ran on the first one's warm cache and
    // looked 1.5–2× faster. Both then have the same warm-up steps.
    ours.push(benchOurs(flags.cpu ? createCpuBackend() : backend, kind, s, batches));
  }

  let peer: Record<string, PeerResult> | null = null;
  let peerJson: Record<string, unknown> | null = null;
  let peerNote = "PyTorch peer skipped (--no-peer)";
  let peerDevice = "";
  if (!flags["no-peer"]) {
    const dir = await Deno.makeTempDir({ prefix: "facgcnn-peer-" });
    try {
      const file = `${dir}/batches.bin`;
      const bytes = await exportForPeer(file, s, batches);
      console.error(`peer: exported ${(bytes / 1e6).toFixed(0)} MB to ${file}; running PyTorch …`);
      const extra = flags["peer-args"].split(" ").filter((x) => x);
      // On the CPU both sides get the same threads (torch here defaulted to 1 on a 2-core VM).
      if (flags.cpu && !extra.includes("--threads")) {
        const threads = Number(Deno.env.get("OMP_NUM_THREADS")) || navigator.hardwareConcurrency;
        extra.push("--threads", String(threads));
      }
      const r = await runPeer(flags.python, file, flags.cpu ? "cpu" : "cuda", extra);
      if (r.ok) {
        peerJson = r.json;
        peer = r.json.models as Record<string, PeerResult>;
        peerDevice = String(r.json.device ?? "");
        peerNote = `PyTorch ${r.json.torch_version} on ${peerDevice}: ${r.json.note ?? ""}`;
      } else {
        peerNote = `PyTorch peer unavailable: ${r.reason}`;
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }

  const text = [
    `# bench:gpu (${new Date().toISOString()})`,
    "",
    shape,
    "",
    table(device, ours, peer, peerDevice, copyGBs),
    "",
    details(ours, copyGBs),
    oursNote(flags.cpu ? "cpu" : "cuda"),
    peerNote,
    "cr/s = crystals per second; ratio = ours / torch; peak live = the backend's live tensor " +
    "bytes (torch: max_memory_allocated); GB/s = minimum kernel bytes of one training step / " +
    "step time (ours), in % of the measured copy bandwidth.",
  ].join("\n");
  const outDir = env("OUT") ? `${env("OUT")}` : ".cache/bench";
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(`${outDir}/gpu_throughput.md`, text + "\n");
  await Deno.writeTextFile(
    `${outDir}/gpu_throughput.json`,
    JSON.stringify({ device, backend: info, settings: s, copyGBs, ours, peer: peerJson }, null, 2),
  );
  console.log(text);
  console.error(`written: ${outDir}/gpu_throughput.md, ${outDir}/gpu_throughput.json`);
  if (!flags.cpu) (backend as CudaBackend).dispose();
}

/**
 * What our side does per step, printed next to the peer's note so the two modes can be
 * compared: both copy each batch from pinned host memory and expand the Gaussians on the
 * device; ours also draws the stochastic frames every step (the peer's are drawn once, at
 * export): on CUDA the device computes them (PCA eigensolves, signs, scale: `buildFrames`) and
 * applies them from the float64 positions, on the CPU the host builds the frame coordinates.
 */
function oursNote(device: "cpu" | "cuda"): string {
  return device === "cuda"
    ? "ours: one packed pinned upload per step (inputs; targets staged), Gaussians on the " +
      "device, frames drawn per step: PCA eigensolves, signs and scale on the device " +
      "(buildFrames), applied there (applyFrames); degenerate count kept on the device; " +
      "one wait per step (the loss)"
    : "ours (CPU): inputs built on the host each step (frames drawn per step), Gaussians by " +
      "the backend";
}

// --- byte counting ---------------------------------------------------------------------------
//
// A `Backend` that computes nothing and counts bytes: one training step run on it gives the
// minimum memory traffic of the step's kernels (every input read once, every output written
// once, read-modify-write outputs read and written), GEMM flops and host↔device bytes. They
// depend only on the op sequence and sizes, so they hold for the CUDA backend, which runs the
// same sequence. Downloads return zeros (a loss of 0); nothing on the model path branches on
// device data.

/** What one run moved. */
export interface Traffic {
  /** Device bytes read and written by kernels (memsets and device copies included). */
  kernelBytes: number;
  /** GEMM floating-point operations (2·m·n·k each). */
  gemmFlops: number;
  /** Host→device and device→host bytes. */
  h2dBytes: number;
  d2hBytes: number;
  /** Kernel launches (calls of compute methods). */
  launches: number;
  /** Kernel bytes per method name. */
  byOp: Record<string, number>;
}

class FakeStorage implements Storage {
  constructor(readonly dtype: DType, readonly length: number, readonly backend: Backend) {}
}

/** The counting backend; `traffic()` reads the counters, `reset()` clears them. */
export class TrafficBackend implements Backend {
  /** Named as the device whose step is counted (the model picks its input path by name). */
  constructor(readonly name: "cpu" | "cuda" = "cpu") {}
  #t: Traffic = TrafficBackend.#empty();
  #live = 0;
  #liveBytes = 0;
  #peak = 0;

  static #empty(): Traffic {
    return { kernelBytes: 0, gemmFlops: 0, h2dBytes: 0, d2hBytes: 0, launches: 0, byOp: {} };
  }

  /** A copy of the counters. */
  traffic(): Traffic {
    return { ...this.#t, byOp: { ...this.#t.byOp } };
  }

  /** Clears the counters. */
  reset(): void {
    this.#t = TrafficBackend.#empty();
  }

  #k(op: string, bytes: number): void {
    this.#t.kernelBytes += bytes;
    this.#t.launches++;
    this.#t.byOp[op] = (this.#t.byOp[op] ?? 0) + bytes;
  }

  info(): BackendInfo {
    return { name: "cpu", device: "traffic counter", gemm: "none", notes: [] };
  }
  memory(): MemoryInfo {
    return { liveBuffers: this.#live, liveBytes: this.#liveBytes, peakBytes: this.#peak };
  }
  resetPeak(): void {
    this.#peak = this.#liveBytes;
  }
  alloc(dtype: DType, length: number): Storage {
    this.#live++;
    this.#liveBytes += 4 * length;
    this.#peak = Math.max(this.#peak, this.#liveBytes);
    this.#k("memset", 4 * length); // the CUDA backend zero-fills with cudaMemsetAsync
    return new FakeStorage(dtype, length, this);
  }
  free(storage: Storage): void {
    const s = storage as FakeStorage & { freed?: boolean };
    if (s.freed) return;
    s.freed = true;
    this.#live--;
    this.#liveBytes -= 4 * s.length;
  }
  upload(data: Float32Array | Int32Array): Storage {
    const s = this.alloc(data instanceof Float32Array ? "float32" : "int32", data.length);
    this.#t.kernelBytes -= 4 * data.length; // no memset on upload
    this.#t.byOp.memset -= 4 * data.length;
    this.#t.launches--;
    this.#t.h2dBytes += data.byteLength;
    return s;
  }
  uploadBatch(parts: readonly BatchPart[]): Storage[] {
    // The CUDA backend: one staged copy, split by device-to-device copies (and the scatter
    // plan of the neighbour index: perm + offsets).
    const out = parts.map((p) => this.upload(p.data));
    for (const p of parts) {
      this.#k("copy", 8 * p.data.length);
      if (p.scatterRows !== undefined) this.#t.h2dBytes += 4 * (p.data.length + p.scatterRows + 1);
    }
    return out;
  }
  gaussianExpand({ rows, centres }: GaussianArgs): void {
    this.#k("gaussianExpand", 4 * rows + 4 * rows * centres);
  }
  applyFrames({ rows, segments, centres }: FrameApplyArgs): void {
    this.#k("applyFrames", 24 * rows + 4 * segments * (centres ? 13 : 10));
  }
  buildFrames({ rows, segments, copies }: FrameBuildArgs): void {
    // Reads the float64 positions and ranges, writes centred positions and 2·k·C matrices.
    this.#k("buildFrames", 24 * rows + 12 * rows + 8 * segments + 4 * copies * segments * 19);
  }
  download(storage: Storage): Float32Array | Int32Array {
    this.#t.d2hBytes += 4 * storage.length;
    return storage.dtype === "float32"
      ? new Float32Array(storage.length)
      : new Int32Array(storage.length);
  }
  copy(_src: Storage, _dst: Storage, length: number): void {
    this.#k("copy", 8 * length);
  }
  fill(dst: Storage): void {
    this.#k("fill", 4 * dst.length);
  }
  synchronize(): void {}
  gemm(g: GemmArgs): void {
    const { m, n, k } = g;
    this.#t.gemmFlops += 2 * m * n * k;
    this.#k("gemm", 4 * (m * k + k * n + m * n * (g.beta !== 0 ? 2 : 1)));
  }
  unary(_op: UnaryOp, _x: Storage, _out: Storage, length: number): void {
    this.#k("unary", 8 * length);
  }
  unaryBackward(
    _op: UnaryOp,
    _x: Storage,
    _y: Storage,
    _dy: Storage,
    _dx: Storage,
    length: number,
  ): void {
    this.#k("unaryBackward", 12 * length); // x or y, dy → dx
  }
  binary(
    _op: BinaryOp,
    _a: Storage,
    _b: Storage,
    _out: Storage,
    rows: number,
    cols: number,
    broadcast: Broadcast,
  ): void {
    const n = rows * cols;
    const bn = broadcast === "none"
      ? n
      : broadcast === "row"
      ? cols
      : broadcast === "col"
      ? rows
      : 1;
    this.#k("binary", 4 * (2 * n + bn));
  }
  axpby(_alpha: number, _x: Storage, _beta: number, _y: Storage, length: number): void {
    this.#k("axpby", 12 * length);
  }
  affine(_x: Storage, _out: Storage, _alpha: number, _beta: number, length: number): void {
    this.#k("affine", 8 * length);
  }
  copyCols({ rows, cols, accumulate }: CopyColsArgs): void {
    this.#k("copyCols", 4 * rows * cols * (accumulate ? 3 : 2));
  }
  gatherRows(_src: Storage, _index: Storage, _out: Storage, nIndex: number, cols: number): void {
    this.#k("gatherRows", 8 * nIndex * cols + 4 * nIndex);
  }
  scatterAddRows(_src: Storage, _index: Storage, out: Storage, nIndex: number, cols: number): void {
    this.#k(
      "scatterAddRows",
      4 * nIndex * cols + 4 * nIndex + 8 * Math.min(out.length, nIndex * cols),
    );
  }
  segmentReduce(
    src: Storage,
    _offsets: Storage,
    _out: Storage,
    nSegments: number,
    cols: number,
  ): void {
    this.#k("segmentReduce", 4 * src.length + 4 * nSegments * cols + 4 * (nSegments + 1));
  }
  segmentExpand(
    _g: Storage,
    _offsets: Storage,
    out: Storage,
    nSegments: number,
    cols: number,
  ): void {
    this.#k("segmentExpand", 4 * out.length + 4 * nSegments * cols + 4 * (nSegments + 1));
  }
  sumRows(_x: Storage, _out: Storage, rows: number, cols: number): void {
    this.#k("sumRows", 4 * rows * cols + 4 * cols);
  }
  sumAll(_x: Storage, _out: Storage, length: number): void {
    this.#k("sumAll", 4 * length + 4);
  }
  gate(_z: Storage, _out: Storage, rows: number, cols: number): void {
    this.#k("gate", 12 * rows * cols);
  }
  gateBackward(_z: Storage, _dOut: Storage, _dz: Storage, rows: number, cols: number): void {
    this.#k("gateBackward", 20 * rows * cols);
  }
  columnMoments(_x: Storage, _m: Storage, _v: Storage, rows: number, cols: number): void {
    this.#k("columnMoments", 4 * rows * cols + 8 * cols);
  }
  batchNormForward({ rows, cols }: BatchNormArgs): void {
    this.#k("batchNormForward", 8 * rows * cols + 16 * cols);
  }
  batchNormBackward({ rows, cols }: BatchNormBackwardArgs): void {
    this.#k("batchNormBackward", 12 * rows * cols + 20 * cols);
  }
  scheduleFreeAdamWStep(
    _y: Storage,
    _z: Storage,
    _v: Storage,
    _g: Storage,
    length: number,
    _s: ScheduleFreeScalars,
  ): void {
    this.#k("optimizer", 28 * length);
  }
  adamWStep(
    _p: Storage,
    _m: Storage,
    _v: Storage,
    _g: Storage,
    length: number,
    _s: AdamWScalars,
  ): void {
    this.#k("optimizer", 28 * length);
  }
  sgdStep(_p: Storage, _buf: Storage, _g: Storage, length: number, _s: SgdScalars): void {
    this.#k("optimizer", 20 * length);
  }
  symmetricEigen3(_m: Storage, _v: Storage, _w: Storage, count: number): void {
    this.#k("symmetricEigen3", 84 * count);
  }
}

if (import.meta.main) await main();
