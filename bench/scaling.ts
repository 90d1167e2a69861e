/**
 * Strong scaling of data-parallel training on this machine: the same synthetic training set
 * and global batch on 1 and 2 MPI processes (Open MPI or MPICH `mpirun`), with the time per
 * step, the share spent in the fused gradient all-reduce, its size and a ping-pong of the
 * all-reduce alone (latency and bandwidth), and the model for more nodes that these feed.
 *
 *   deno run -A bench/scaling.ts [--crystals 2048] [--batch 256] [--epochs 2] [--atom-fea-len 64]
 *       [--model facgcnn] [--ranks 1,2] [--launcher openmpi|mpich] [--json out.json]
 *       [--nodes 8 --link-gbps 10 --latency-us 20]   (the estimate for more nodes)
 *
 * Each rank gets ⌊cores / ranks⌋ BLAS/OpenMP threads, so 1 rank uses the whole machine and
 * 2 ranks split it: the comparison is processes against threads on the same cores. Not a
 * test; the numbers depend on the machine and on what else runs on it.
 * @module
 */

import { parseArgs } from "node:util";
import { cpuBackend } from "../lib/backend/select.ts";
import { initDistributed } from "../lib/distributed/communicator.ts";
import { GradientAllreduce } from "../lib/distributed/gradients.ts";
import { BatchPlan } from "../lib/distributed/shards.ts";
import { Model } from "../lib/models/model.ts";
import { createOptimizer } from "../lib/optim/create.ts";
import { reducedNormalizer } from "../lib/train/reduce.ts";
import { attachSyncBatchNorm, frameStream, parallelEpoch } from "../lib/train/parallel.ts";
import { loadShardedData } from "../lib/train/shard_data.ts";
import "../lib/autograd/backward.ts"; // installs Tensor.backward()
import { mpiLaunchers } from "../tests/distributed/_mpirun.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    crystals: { type: "string", default: "2048" },
    batch: { type: "string", default: "256" },
    epochs: { type: "string", default: "2" },
    "atom-fea-len": { type: "string", default: "64" },
    model: { type: "string", default: "facgcnn" },
    ranks: { type: "string", default: "1,2" },
    launcher: { type: "string" },
    json: { type: "string" },
    nodes: { type: "string", default: "8" },
    "link-gbps": { type: "string", default: "10" },
    "latency-us": { type: "string", default: "20" },
    worker: { type: "boolean", default: false },
  },
});

/** What rank 0 reports for one run. */
interface WorkerResult {
  ranks: number;
  threadsPerRank: number;
  steps: number;
  stepSeconds: number[];
  allreduceBytes: number;
  allreduceSecondsPerStep: number;
  pingPong: { bytes: number; seconds: number }[];
  crystalsPerSecond: number;
}

async function worker(): Promise<void> {
  const comm = initDistributed();
  const shards = comm.size;
  const data = await loadShardedData(
    { data: `synthetic:${opts.crystals}`, cacheDir: null, quiet: true, split: [0.9, 0.1, 0] },
    shards,
    [comm.rank],
    false,
    comm,
  );
  const backend = cpuBackend();
  const model = new Model({
    kind: opts.model as "cgcnn" | "facgcnn",
    atomFeaLen: Number(opts["atom-fea-len"]),
    frames: "stochastic",
    seed: 0,
  }, backend);
  attachSyncBatchNorm(model, comm);
  const optimizer = createOptimizer("sf-adamw", model.parameters(), { lr: 5e-4 });
  const reducer = new GradientAllreduce(model.parameters().map((p) => p.value), comm, backend);
  const plan = new BatchPlan(data.shardSizes, Number(opts.batch));
  const normalizer = reducedNormalizer(comm, data.train.targets);
  const run = { comm, shards, data, plan, reducer, seed: 0 };
  const stepSeconds: number[] = [];
  let last = 0;
  const epochs = Number(opts.epochs);
  for (let epoch = 1; epoch <= epochs; epoch++) {
    model.reseedFrames(0, frameStream(epoch, comm));
    model.train();
    optimizer.train();
    comm.barrier();
    last = performance.now();
    parallelEpoch(model, optimizer, run, normalizer, epoch, epochs, {
      onBatch: () => {
        const now = performance.now();
        if (epoch > 1 || epochs === 1) stepSeconds.push((now - last) / 1000);
        last = now;
      },
    });
  }
  const allreduceSecondsPerStep = reducer.stats.seconds / reducer.stats.calls;
  // The all-reduce alone, at sizes around the gradient buffer's.
  const pingPong: WorkerResult["pingPong"] = [];
  for (const n of [1, 1024, 65536, reducer.length + 1, 4 * reducer.length]) {
    const buf = new Float32Array(n);
    comm.allreduceSum(buf);
    comm.barrier();
    const reps = n > 100000 ? 20 : 100;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) comm.allreduceSum(buf);
    pingPong.push({ bytes: 4 * n, seconds: (performance.now() - t0) / 1000 / reps });
  }
  if (comm.rank === 0) {
    const median = [...stepSeconds].sort((a, b) => a - b)[stepSeconds.length >> 1];
    const result: WorkerResult = {
      ranks: comm.size,
      threadsPerRank: Number(Deno.env.get("OMP_NUM_THREADS") ?? 0),
      steps: stepSeconds.length,
      stepSeconds,
      allreduceBytes: reducer.stats.bytes,
      allreduceSecondsPerStep,
      pingPong,
      crystalsPerSecond: Number(opts.batch) / median,
    };
    console.log(`RESULT ${JSON.stringify(result)}`);
  }
  optimizer.dispose();
  model.dispose();
  comm.finalize();
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1];
}

async function main(): Promise<void> {
  const all = mpiLaunchers();
  const launcher = opts.launcher
    ? all.find((l) => l.name.replace(" ", "").toLowerCase() === opts.launcher!.toLowerCase())
    : all[0];
  if (opts.launcher && !launcher) throw new Error(`launcher ${opts.launcher} not found`);
  const cores = navigator.hardwareConcurrency;
  const results: WorkerResult[] = [];
  for (const ranks of opts.ranks!.split(",").map(Number)) {
    const threads = Math.max(1, Math.floor(cores / ranks));
    const env = { OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
    const script = new URL(import.meta.url).pathname;
    const args = [...Deno.args, "--worker"];
    let out: string;
    if (ranks === 1 && !launcher) {
      const o = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script, ...args],
        env,
        stderr: "inherit",
      }).output();
      out = new TextDecoder().decode(o.stdout);
    } else {
      if (!launcher) throw new Error("mpirun not found: install openmpi-bin or mpich");
      const o = await new Deno.Command(launcher.command, {
        args: [
          ...launcher.args,
          "-np",
          String(ranks),
          Deno.execPath(),
          "run",
          "-A",
          script,
          ...args,
        ],
        env: { ...launcher.env, ...env },
        stderr: "inherit",
      }).output();
      out = new TextDecoder().decode(o.stdout);
    }
    const line = out.split("\n").find((l) => l.startsWith("RESULT "));
    if (!line) throw new Error(`no result from the ${ranks}-rank run:\n${out}`);
    results.push(JSON.parse(line.slice(7)));
  }
  const base = median(results[0].stepSeconds);
  console.log(
    `\nstrong scaling: synthetic:${opts.crystals} (${opts.model}, A = ${
      opts["atom-fea-len"]
    }), global batch ${opts.batch}, ${cores} cores, ${launcher?.name ?? "no MPI"}`,
  );
  console.log("ranks  threads/rank  ms/step (median)  speed-up  crystals/s  all-reduce/step");
  for (const r of results) {
    const t = median(r.stepSeconds);
    console.log(
      `${String(r.ranks).padStart(5)}  ${String(r.threadsPerRank).padStart(12)}  ${
        (1000 * t).toFixed(1).padStart(16)
      }  ${(base / t).toFixed(2).padStart(8)}  ${r.crystalsPerSecond.toFixed(0).padStart(10)}  ${
        (r.allreduceBytes / 1024).toFixed(0)
      } KiB in ${(1000 * r.allreduceSecondsPerStep).toFixed(2)} ms`,
    );
  }
  for (const r of results.filter((x) => x.ranks > 1)) {
    console.log(`\nall-reduce alone on ${r.ranks} ranks (float32, in place):`);
    for (const p of r.pingPong) {
      console.log(
        `  ${String(p.bytes).padStart(9)} B: ${(1e6 * p.seconds).toFixed(1).padStart(9)} µs  (${
          (p.bytes / p.seconds / 1e9).toFixed(2)
        } GB/s)`,
      );
    }
  }
  // Estimate for N nodes: compute divides by N (a node computes as the 1-rank run did here),
  // plus a ring all-reduce of the gradients, 2(N − 1)/N · bytes / bandwidth + 2(N − 1) · latency,
  // plus the SyncBN reductions (3 small ones per BatchNorm layer: forward sums, forward centred
  // squares, backward sums), latency-bound: ⌈log2 N⌉ · latency each.
  const N = Number(opts.nodes), bw = Number(opts["link-gbps"]) * 1e9 / 8;
  const lat = Number(opts["latency-us"]) * 1e-6;
  const bytes = results[0].allreduceBytes, bnLayers = 2 * 3;
  const ring = 2 * (N - 1) / N * bytes / bw + 2 * (N - 1) * lat;
  const syncBn = 3 * bnLayers * Math.ceil(Math.log2(N)) * lat;
  const step = base / N + ring + syncBn;
  console.log(
    `\nestimate for ${N} nodes (${opts["link-gbps"]} Gb/s, ${opts["latency-us"]} µs): compute ${
      (1000 * base / N).toFixed(1)
    } ms + gradient all-reduce ${(1000 * ring).toFixed(2)} ms + SyncBN ${
      (1000 * syncBn).toFixed(2)
    } ms = ${(1000 * step).toFixed(1)} ms/step, speed-up ${(base / step).toFixed(2)} of ${N}`,
  );
  if (opts.json) await Deno.writeTextFile(opts.json, JSON.stringify(results, null, 2) + "\n");
}

if (opts.worker) await worker();
else await main();
