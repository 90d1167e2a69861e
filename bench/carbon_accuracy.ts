/**
 * Accuracy runs on a real data set (default: the Carbon-24 dev set) and on synthetic data:
 * CGCNN, paper-faithful FACGCNN, the default FACGCNN and candidate variants, at equal epochs,
 * on a fixed train/val/test split, several seeds. Each finished (config, seed) appends one JSON
 * line to the log, so an interrupted run resumes where it stopped; `--summary` prints the
 * table (mean ± standard error over seeds) from the log alone.
 *
 * Every FACGCNN run is evaluated with its training frame mode (k = 1 stochastic), with all 8
 * frames, and each again on the test set under a rigid random O(3) rotation (and translation)
 * of every crystal.
 *
 *   deno run -A bench/carbon_accuracy.ts --configs cgcnn,paper,default --seeds 0,1,2 \
 *     --epochs 30 --log runs/carbon_accuracy.jsonl
 *   deno run -A bench/carbon_accuracy.ts --summary --log runs/carbon_accuracy.jsonl
 */

import { parseArgs } from "node:util";
import { randomlyTransformGraphs } from "../lib/crystal/transform.ts";
import type { GraphSet } from "../lib/crystal/types.ts";
import type { FrameMode } from "../lib/frames/select.ts";
import type { Model } from "../lib/models/model.ts";
import { meanStdErr, regressionMetrics } from "../lib/train/metrics.ts";
import { train, type TrainConfig } from "../lib/train/trainer.ts";

/** The configurations compared (model part only; data and recipe are shared). */
const RAW = { scale: 1, node: true }; // the paper's coordinate inputs
const CONFIGS: Record<string, Partial<TrainConfig>> = {
  cgcnn: { model: "cgcnn" },
  // The paper: PCA frames, one random frame per pass, raw Å coordinates on nodes and edges.
  paper: { model: "facgcnn", frames: "stochastic", frameKind: "pca", coordinates: RAW },
  nofa: { model: "facgcnn", frames: "none", frameKind: "pca", coordinates: RAW },
  scale4: { model: "facgcnn", frameKind: "pca", coordinates: { scale: 4, node: true } },
  rms: { model: "facgcnn", frameKind: "pca", coordinates: { scale: "rms", node: true } },
  edgeonly: { model: "facgcnn", frameKind: "pca", coordinates: { scale: 1, node: false } },
  hybrid: { model: "facgcnn", frameKind: "hybrid", coordinates: RAW },
  lattice: { model: "facgcnn", frameKind: "lattice", coordinates: RAW },
  "hybrid-edgeonly": {
    model: "facgcnn",
    frameKind: "hybrid",
    coordinates: { scale: 1, node: false },
  },
  // The default FACGCNN configuration (hybrid frames, edge vectors in 10 Å units).
  "hybrid-edge-s10": {
    model: "facgcnn",
    frameKind: "hybrid",
    coordinates: { node: false, scale: 10 },
  },
  "pca-edge-s10": { model: "facgcnn", frameKind: "pca", coordinates: { node: false, scale: 10 } },
  "hybrid-s10": { model: "facgcnn", frameKind: "hybrid", coordinates: { scale: 10, node: true } },
  all8: { model: "facgcnn", frames: "all", frameKind: "pca", coordinates: RAW },
};

const args = parseArgs({
  options: {
    configs: { type: "string", default: "cgcnn,paper" },
    seeds: { type: "string", default: "0" },
    epochs: { type: "string", default: "30" },
    data: { type: "string", default: "../shared/data/carbon24/dev.csv" },
    target: { type: "string", default: "energy_per_atom" },
    "batch-size": { type: "string", default: "64" },
    lr: { type: "string", default: "1e-3" },
    "atom-fea-len": { type: "string", default: "64" },
    // BatchNorm re-estimation batches per epoch (SF-AdamW); fewer than the trainer's 50 to
    // save time on a shared CPU (8 × 64 crystals is plenty for the statistics).
    "bn-batches": { type: "string", default: "8" },
    log: { type: "string", default: "runs/carbon_accuracy.jsonl" },
    out: { type: "string", default: "runs/carbon_accuracy" },
    summary: { type: "boolean", default: false },
  },
});
const v = args.values;

interface Line {
  data: string;
  config: string;
  seed: number;
  epochs: number;
  bestEpoch: number;
  seconds: number;
  evals: Record<string, { mae: number; rmse: number; r2: number }>;
}

async function readLog(path: string): Promise<Line[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l.trim()).map((l) =>
      JSON.parse(l)
    );
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

function evaluate(model: Model, graphs: GraphSet, frames: FrameMode | undefined, seed: number) {
  model.reseedFrames(seed, 9);
  const m = regressionMetrics(graphs.targets, model.predictGraphs(graphs, { frames }));
  return { mae: m.mae, rmse: m.rmse, r2: m.r2 };
}

function summary(lines: Line[]): void {
  const groups = new Map<string, Line[]>();
  for (const l of lines) {
    const k = `${l.data} | ${l.config} | ${l.epochs}`;
    groups.set(k, [...(groups.get(k) ?? []), l]);
  }
  const f = (xs: number[], d = 4) => {
    const s = meanStdErr(xs);
    return `${s.mean.toFixed(d)} ± ${s.stderr.toFixed(d)}`;
  };
  console.log("| data | config | epochs | seeds | eval | MAE | RMSE | R² | best ep | s/run |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const [k, ls] of groups) {
    for (const ev of Object.keys(ls[0].evals)) {
      const ok = ls.filter((l) => l.evals[ev]);
      console.log(
        `| ${k} | ${ok.length} | ${ev} | ${f(ok.map((l) => l.evals[ev].mae))} | ${
          f(ok.map((l) => l.evals[ev].rmse))
        } | ${f(ok.map((l) => l.evals[ev].r2), 3)} | ${
          (ok.reduce((a, l) => a + l.bestEpoch, 0) / ok.length).toFixed(0)
        } | ${(ok.reduce((a, l) => a + l.seconds, 0) / ok.length).toFixed(0)} |`,
      );
    }
  }
}

if (v.summary) {
  summary(await readLog(v.log));
  Deno.exit(0);
}

const epochs = Number(v.epochs);
const seeds = v.seeds.split(",").map(Number);
for (const name of v.configs.split(",")) {
  const cfg = CONFIGS[name];
  if (!cfg) throw new Error(`unknown config ${name}; known: ${Object.keys(CONFIGS).join(", ")}`);
  for (const seed of seeds) {
    const done = await readLog(v.log);
    if (
      done.some((l) =>
        l.data === v.data && l.config === name && l.seed === seed && l.epochs === epochs
      )
    ) {
      continue;
    }
    const t0 = performance.now();
    const isFile = !v.data.startsWith("synthetic:");
    const result = await train({
      data: v.data,
      target: isFile ? v.target : undefined,
      split: [0.8, 0.1, 0.1],
      splitSeed: 42,
      seed,
      epochs,
      batchSize: Number(v["batch-size"]),
      lr: Number(v.lr),
      atomFeaLen: Number(v["atom-fea-len"]),
      bnBatches: Number(v["bn-batches"]),
      device: "cpu",
      quiet: true,
      out: `${v.out}/${v.data.replace(/[^A-Za-z0-9]+/g, "_")}/${name}-e${epochs}-s${seed}`,
      ...cfg,
    }, { log: () => {} });
    const test = result.data.test;
    const rotated = randomlyTransformGraphs(test, 1000 + seed);
    const m = result.model;
    const evals: Line["evals"] = {};
    if (m.config.kind === "cgcnn" || m.config.frames === "none") {
      evals["test"] = evaluate(m, test, undefined, seed);
      evals["rotated"] = evaluate(m, rotated, undefined, seed);
    } else {
      evals["k1"] = evaluate(m, test, "stochastic", seed);
      evals["k1 rotated"] = evaluate(m, rotated, "stochastic", seed);
      evals["all8"] = evaluate(m, test, "all", seed);
      evals["all8 rotated"] = evaluate(m, rotated, "all", seed);
    }
    m.dispose();
    const line: Line = {
      data: v.data,
      config: name,
      seed,
      epochs,
      bestEpoch: result.bestEpoch,
      seconds: (performance.now() - t0) / 1000,
      evals,
    };
    await Deno.writeTextFile(v.log, JSON.stringify(line) + "\n", { append: true });
    console.log(JSON.stringify(line));
  }
}
