/**
 * Side by side: our CGCNN (and FACGCNN, k = 1) against the original CGCNN `model.py` in PyTorch
 * (Xie & Grossman, PRL 120, 145301 (2018); re-implemented faithfully in
 * `bench/peer/cgcnn_original.py`). The edge-list PyTorch peer `bench/peer/cgcnn_torch.py` is
 * compared by `bench/gpu_throughput.ts --cpu`.
 *
 *   deno task bench:vs-cgcnn [flags]   (or: deno run -A bench/vs_cgcnn.ts [flags])
 *   flags: [--data synthetic:2048,../shared/data/carbon24/dev.csv]
 *     [--sizes 64,128] [--batches 64,256,1024] [--repeats 3] [--epochs 1] [--limit N]
 *     [--models cgcnn,facgcnn] [--python /usr/bin/python3] [--threads 2]
 *     [--target energy_per_atom] (the target column of a CSV source)
 *     [--peer-blas-spin short|default] (OpenBLAS's idle spin on the original's side: `short`,
 *     the default, sets OPENBLAS_THREAD_TIMEOUT as our backend sets it for itself
 *     (lib/backend/cpu/blas.ts), so both sides run in the same environment; `default` leaves
 *     OpenBLAS's 2^28-cycle spin, under which torch's OpenMP threads compete with spinning
 *     OpenBLAS workers as they do for a user who never sets it)
 *
 * Needs PyTorch and numpy for the original side (Debian: `apt-get install python3-torch
 * python3-pymatgen`; not needed by CI). Both sides use `--threads` threads (OpenBLAS/OpenMP and
 * `torch.set_num_threads`), with `OMP_WAIT_POLICY=PASSIVE` on both.
 *
 * Method: each data set is featurized once (12 nearest neighbours within 8 Å, a tied last shell
 * truncated as CGCNN's `data.py` does) and exported for the original (neighbours padded to M as
 * `data.py` pads them). Every measurement is a fresh process (no warm allocator cache carried
 * from another model): one warm-up epoch, then `--epochs` timed epochs of SGD (lr 0.01,
 * momentum 0.9, batches in a fixed order, collation and input building included on both sides),
 * then five inference passes (median). The sides run interleaved (ours, original; then original, ours; …)
 * `--repeats` times, and ratios are medians of the paired ratios, so load from other processes
 * on a shared machine hits both alike. Peak RSS: VmHWM (ours) and ru_maxrss (original). GEMM
 * share: the time inside our backend's matrix products (`gemm`, `edgeGemm`,
 * `edgeGemmWeightGrad`) over the timed epochs.
 *
 * Output: a Markdown table on stdout and `vs_cgcnn.md` / `vs_cgcnn.json` under `$OUT` when set,
 * else `.cache/bench/` (git-ignored). The machine's load (`Deno.loadavg()`) is printed beside
 * every configuration.
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { BLAS_SPIN_LOG2_CYCLES } from "../lib/backend/cpu/blas.ts";
import { createCpuBackend } from "../lib/backend/cpu/cpu_backend.ts";
import { atomFeatureTable, BUILTIN_ATOM_FEATURES } from "../lib/crystal/atom_features.ts";
import type { GraphSet } from "../lib/crystal/types.ts";
import { loadGraphs } from "../lib/data/featurize.ts";
import { collate } from "../lib/graph/batch.ts";
import { subsetGraphs } from "../lib/graph/subset.ts";
import { Model } from "../lib/models/model.ts";
import { SGD } from "../lib/optim/sgd.ts";
import { noGrad, tidy } from "../lib/tensor/scope.ts";
import "../lib/autograd/backward.ts"; // installs Tensor.backward()
import { trainStep } from "../lib/train/step.ts";

const M = 12, RADIUS = 8;
/** Inference passes per side; the median is reported. */
const INFER_PASSES = 5;

/** What one worker process reports. */
interface SideResult {
  side: string;
  crystals: number;
  steps: number;
  epoch_s: number[];
  infer_s: number;
  /** CPU seconds (all threads) of the inference pass: less sensitive to a loaded machine. */
  infer_cpu_s?: number;
  peak_rss_bytes: number;
  gemm_s?: number;
  last_loss?: number | null;
}

const flags = parseArgs({
  args: Deno.args,
  options: {
    worker: { type: "string" },
    data: { type: "string", default: "synthetic:2048,../shared/data/carbon24/dev.csv" },
    source: { type: "string" },
    sizes: { type: "string", default: "64,128" },
    batches: { type: "string", default: "64,256,1024" },
    repeats: { type: "string", default: "3" },
    epochs: { type: "string", default: "1" },
    limit: { type: "string", default: "0" },
    models: { type: "string", default: "cgcnn,facgcnn" },
    python: { type: "string", default: "/usr/bin/python3" },
    threads: { type: "string", default: "2" },
    target: { type: "string", default: "energy_per_atom" },
    "peer-blas-spin": { type: "string", default: "short" },
    A: { type: "string" },
    batch: { type: "string" },
  },
}).values;

const list = (s: string) => s.split(",").map((x) => x.trim()).filter((x) => x);
const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
// Deno.loadavg (--allow-sys): reading /proc/loadavg needs --allow-all, which the task does not give.
const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");

/** The data set, featurized as CGCNN's data.py builds graphs, first `limit` crystals. */
async function graphsOf(source: string, limit: number): Promise<GraphSet> {
  const { graphs } = await loadGraphs(
    source,
    {
      radius: RADIUS,
      maxNeighbors: M,
      neighborTies: "truncate",
      quiet: true,
      ...(source.endsWith(".csv") ? { target: flags.target } : {}),
    } as Parameters<typeof loadGraphs>[1],
  );
  if (limit > 0 && limit < graphs.count) {
    return subsetGraphs(graphs, Int32Array.from({ length: limit }, (_, i) => i));
  }
  return graphs;
}

/** Standardised float32 targets (main.py's Normalizer). */
function normalisedTargets(g: GraphSet): Float32Array {
  let m = 0;
  for (const t of g.targets) m += t / g.count;
  let v = 0;
  for (const t of g.targets) v += (t - m) ** 2 / Math.max(1, g.count - 1);
  const s = Math.sqrt(v) || 1;
  return Float32Array.from(g.targets, (t) => (t - m) / s);
}

// --- our side (a worker process) ----------------------------------------------------------------

async function runOurs(kind: "cgcnn" | "facgcnn"): Promise<SideResult> {
  const A = Number(flags.A), B = Number(flags.batch), epochs = Number(flags.epochs);
  const graphs = await graphsOf(flags.source!, Number(flags.limit));
  const targets = normalisedTargets(graphs);
  const backend = createCpuBackend();
  let gemmMs = 0, timing = false;
  // Matrix products: the BLAS GEMMs and the edge term's products (edgeGemm and its weight
  // gradient form the Gaussians inside a register-blocked product: the same multiply-adds
  // that a GEMM on stored features would do).
  const timed = <F extends (...args: never[]) => void>(fn: F): F =>
    ((...args: Parameters<F>) => {
      if (!timing) return fn(...args);
      const t = performance.now();
      fn(...args);
      gemmMs += performance.now() - t;
    }) as F;
  backend.gemm = timed(backend.gemm.bind(backend));
  if (backend.edgeGemm) backend.edgeGemm = timed(backend.edgeGemm.bind(backend));
  if (backend.edgeGemmWeightGrad) {
    backend.edgeGemmWeightGrad = timed(backend.edgeGemmWeightGrad.bind(backend));
  }
  const model = new Model(
    { kind, atomFeaLen: A, hFeaLen: 128, nConv: 3, nH: 1, frames: "stochastic", seed: 1 },
    backend,
  );
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const chunks: Int32Array[] = [];
  for (let i = 0; i < graphs.count; i += B) {
    chunks.push(Int32Array.from({ length: Math.min(B, graphs.count - i) }, (_, k) => i + k));
  }
  let lastLoss = NaN;
  const epoch = () => {
    model.train();
    for (const idx of chunks) {
      const batch = collate(graphs, idx);
      lastLoss = trainStep(model, opt, batch, targets.subarray(idx[0], idx[0] + idx.length));
    }
  };
  epoch(); // warm-up (JIT, allocator cache), as the original side
  const epochS: number[] = [];
  timing = true;
  for (let e = 0; e < epochs; e++) {
    const t = performance.now();
    epoch();
    epochS.push((performance.now() - t) / 1000);
  }
  timing = false;
  model.eval();
  // Several passes, median (as the original side): one pass of ~0.1-0.3 s is at the mercy of a
  // shared machine.
  const walls: number[] = [], cpus: number[] = [];
  for (let pass = 0; pass < INFER_PASSES; pass++) {
    const t = performance.now(), cpu = process.cpuUsage();
    noGrad(() => {
      for (const idx of chunks) {
        const batch = collate(graphs, idx);
        tidy(() => void model.forward(batch).toArray());
      }
    });
    walls.push((performance.now() - t) / 1000);
    const used = process.cpuUsage(cpu);
    cpus.push((used.user + used.system) / 1e6);
  }
  const inferS = median(walls);
  const status = Deno.readTextFileSync("/proc/self/status");
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  opt.dispose();
  model.dispose();
  return {
    side: `ours-${kind}`,
    crystals: graphs.count,
    steps: chunks.length,
    epoch_s: epochS,
    infer_s: inferS,
    infer_cpu_s: median(cpus),
    peak_rss_bytes: hwm,
    gemm_s: gemmMs / 1000 / epochs,
    last_loss: lastLoss,
  };
}

// --- export for the original -------------------------------------------------------------------

/** Writes the CGCNNORI file of `cgcnn_original.py`: atom table and N×M padded neighbours. */
async function exportOriginal(path: string, g: GraphSet): Promise<void> {
  const nAtoms = g.numbers.length;
  const nbrIdx = new Int32Array(nAtoms * M), nbrDist = new Float32Array(nAtoms * M);
  for (let c = 0; c < g.count; c++) {
    for (let a = g.atomOffsets[c]; a < g.atomOffsets[c + 1]; a++) {
      const e0 = g.edgeOffsets[a], n = Math.min(M, g.edgeOffsets[a + 1] - e0);
      for (let k = 0; k < M; k++) {
        // data.py pads missing neighbours with index 0 and distance radius + 1.
        nbrIdx[a * M + k] = k < n ? g.neighbors[e0 + k] : 0;
        nbrDist[a * M + k] = k < n ? g.distances[e0 + k] : RADIUS + 1;
      }
    }
  }
  const { maxZ, length } = BUILTIN_ATOM_FEATURES;
  const arrays: [string, Float32Array | Int32Array, number[]][] = [
    ["atomTable", atomFeatureTable(BUILTIN_ATOM_FEATURES), [maxZ + 1, length]],
    ["numbers", g.numbers, [nAtoms]],
    ["atomOffsets", g.atomOffsets, [g.count + 1]],
    ["nbrIdx", nbrIdx, [nAtoms, M]],
    ["nbrDist", nbrDist, [nAtoms, M]],
    ["targets", Float32Array.from(g.targets), [g.count]],
  ];
  const entries: Record<string, { dtype: string; shape: number[]; offset: number }> = {};
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const [name, a, shape] of arrays) {
    const pad = (64 - (at % 64)) % 64;
    if (pad) chunks.push(new Uint8Array(pad)), at += pad;
    entries[name] = { dtype: a instanceof Float32Array ? "float32" : "int32", shape, offset: at };
    chunks.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    at += a.byteLength;
  }
  const json = new TextEncoder().encode(
    JSON.stringify({ radius: RADIUS, maxNeighbors: M, atomFeatures: length, arrays: entries }),
  );
  const head = new Uint8Array(12);
  head.set(new TextEncoder().encode("CGCNNORI"));
  new DataView(head.buffer).setUint32(8, json.length, true);
  const headPad = (64 - ((12 + json.length) % 64)) % 64;
  const total = [head, json, new Uint8Array(headPad), ...chunks];
  const out = new Uint8Array(total.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of total) out.set(c, o), o += c.length;
  await Deno.writeFile(path, out);
}

// --- the parent -------------------------------------------------------------------------------

async function runProcess(
  cmd: string,
  args: string[],
  threads: string,
  extra: Record<string, string> = {},
): Promise<SideResult> {
  const env = {
    ...extra,
    OMP_NUM_THREADS: threads,
    OPENBLAS_NUM_THREADS: threads,
    MKL_NUM_THREADS: threads,
    // Idle OpenMP threads sleep on both sides (our kernels set this themselves): spinning
    // threads of an oversubscribed machine would penalise whichever side spins.
    OMP_WAIT_POLICY: "PASSIVE",
  };
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (!out.success || !line) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
    throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${err}`);
  }
  return JSON.parse(line);
}

async function parent(): Promise<void> {
  const spin = flags["peer-blas-spin"];
  if (spin !== "short" && spin !== "default") {
    throw new Error(`--peer-blas-spin ${spin}: short or default`);
  }
  const peerEnv: Record<string, string> = spin === "short"
    ? { OPENBLAS_THREAD_TIMEOUT: String(BLAS_SPIN_LOG2_CYCLES) }
    : {};
  const sizes = list(flags.sizes).map(Number), batchSizes = list(flags.batches).map(Number);
  const repeats = Number(flags.repeats), models = list(flags.models) as ("cgcnn" | "facgcnn")[];
  const self = new URL(import.meta.url).pathname;
  const peer = new URL("./peer/cgcnn_original.py", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "vs-cgcnn-" });
  const lines: string[] = [
    `# bench/vs_cgcnn.ts (${new Date().toISOString()}), ${flags.threads} threads each side, ` +
    `original's OpenBLAS spin: ${
      spin === "short" ? `2^${BLAS_SPIN_LOG2_CYCLES} cycles (as ours)` : "OpenBLAS default"
    }`,
    "",
    "Ratios: original time / our time (> 1: we are faster), median of paired repeats; " +
    "RSS: peak resident set of each process; GEMM: share of our epoch inside matrix products (`gemm`, `edgeGemm*`); " +
    "ms/crystal: our epoch (and inference pass) time per crystal (flat across batch sizes = " +
    "linear); infer CPU-time ratio: the same ratio of CPU seconds of both threads (less " +
    "sensitive to other processes on a loaded machine than wall time).",
    "",
    "| data | A | batch | load (1/5/15 min) | ours epoch s | original epoch s | epoch ratio | " +
    "infer ratio | infer CPU-time ratio | ours RSS MB | original RSS MB | GEMM | ours ms/crystal | ours infer ms/crystal | " +
    "FACGCNN/CGCNN epoch |",
    "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const results: Record<string, unknown>[] = [];
  console.log(lines.join("\n"));
  try {
    for (const source of list(flags.data)) {
      const graphs = await graphsOf(source, Number(flags.limit));
      const file = `${dir}/data.bin`;
      await exportOriginal(file, graphs);
      const name = source.split("/").slice(-2).join("/");
      for (const A of sizes) {
        for (const B of batchSizes) {
          const loadBefore = load();
          const runs: Record<string, SideResult[]> = { original: [] };
          for (const m of models) runs[m] = [];
          for (let r = 0; r < repeats; r++) {
            const order = ["original", ...models];
            if (r % 2) order.reverse();
            for (const side of order) {
              const common = ["--A", String(A), "--batch", String(B), "--epochs", flags.epochs];
              const res = side === "original"
                ? await runProcess(
                  flags.python,
                  [
                    peer,
                    file,
                    ...["--atom-fea-len", String(A), "--batch", String(B)],
                    ...["--epochs", flags.epochs, "--threads", flags.threads],
                  ],
                  flags.threads,
                  peerEnv,
                )
                : await runProcess(Deno.execPath(), [
                  "run",
                  "-A",
                  self,
                  ...["--worker", side, "--source", source, "--limit", flags.limit, ...common],
                ], flags.threads);
              runs[side].push(res);
            }
          }
          const ep = (r: SideResult) => median(r.epoch_s);
          const ours = runs.cgcnn ?? runs[models[0]];
          const orig = runs.original;
          const epochRatio = median(ours.map((o, i) => ep(orig[i]) / ep(o)));
          const inferRatio = median(ours.map((o, i) => orig[i].infer_s / o.infer_s));
          const cpuRatio = ours.every((o, i) => o.infer_cpu_s && orig[i].infer_cpu_s)
            ? `${median(ours.map((o, i) => orig[i].infer_cpu_s! / o.infer_cpu_s!)).toFixed(2)}×`
            : "n/a";
          const gemm = median(ours.map((o) => (o.gemm_s ?? 0) / ep(o)));
          const fa = runs.facgcnn && runs.cgcnn
            ? median(runs.facgcnn.map((f, i) => ep(f) / ep(runs.cgcnn[i]))).toFixed(2)
            : "n/a";
          const mb = (rs: SideResult[]) =>
            (median(rs.map((x) => x.peak_rss_bytes)) / 1e6).toFixed(0);
          const oursS = median(ours.map(ep)), origS = median(orig.map(ep));
          const row = `| ${name} (${graphs.count}) | ${A} | ${B} | ${loadBefore} → ${load()} | ${
            oursS.toFixed(2)
          } | ${origS.toFixed(2)} | ${epochRatio.toFixed(2)}× | ${
            inferRatio.toFixed(2)
          }× | ${cpuRatio} | ${mb(ours)} | ${mb(orig)} | ${(100 * gemm).toFixed(0)}% | ${
            (1000 * oursS / graphs.count).toFixed(3)
          } | ${(1000 * median(ours.map((o) => o.infer_s)) / graphs.count).toFixed(3)} | ${fa} |`;
          console.log(row);
          lines.push(row);
          results.push({ data: source, crystals: graphs.count, A, batch: B, runs });
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const outDir = Deno.env.get("OUT") ?? ".cache/bench";
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(`${outDir}/vs_cgcnn.md`, lines.join("\n") + "\n");
  await Deno.writeTextFile(`${outDir}/vs_cgcnn.json`, JSON.stringify(results, null, 1));
  console.error(`written: ${outDir}/vs_cgcnn.md, ${outDir}/vs_cgcnn.json`);
}

if (flags.worker) {
  console.log(JSON.stringify(await runOurs(flags.worker as "cgcnn" | "facgcnn")));
} else {
  await parent();
}
