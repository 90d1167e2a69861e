/**
 * The training configuration: one place for defaults (the FACGCNN paper's preset for
 * training, CGCNN's reference preset for a bare model), option checks that fail before any
 * data is read, what `config.json` records, and the command line's choice lists.
 */
import assert from "node:assert/strict";
import { cpuBackend } from "../../lib/backend/select.ts";
import { NEIGHBOR_TIES } from "../../lib/crystal/neighbors.ts";
import {
  CGCNN_REFERENCE_MODEL,
  parseFrameMode,
  resolveModelConfig,
} from "../../lib/models/config.ts";
import { Model } from "../../lib/models/model.ts";
import { createOptimizer, OPTIMIZER_KINDS } from "../../lib/optim/create.ts";
import { checkResumeOptions } from "../../lib/train/run_folder.ts";
import {
  DATASET_FORMATS,
  DEFAULT_WEIGHT_DECAY,
  DEVICE_CHOICES,
  EXPERIMENT_DEFAULTS,
  EXPERIMENT_VARIANTS,
  FACGCNN_PAPER_MODEL,
  FRAME_KINDS,
  MODEL_KINDS,
  readRunConfig,
  resolveBatchSize,
  resolveExperimentSettings,
  resolveTrainConfig,
  savedRunConfig,
  TRAIN_DEFAULTS,
  type TrainConfig,
  trainModelConfig,
} from "../../lib/train/config.ts";
import { train } from "../../lib/train/trainer.ts";
import { trainConfig, UsageError } from "../../cli/args.ts";
import { QUIET } from "./_helpers.ts";

Deno.test("config: training uses the paper's A = 128, a bare model CGCNN's A = 64; the rest agrees", () => {
  assert.equal(FACGCNN_PAPER_MODEL.atomFeaLen, 128);
  assert.equal(CGCNN_REFERENCE_MODEL.atomFeaLen, 64);
  // Training differs from a bare model in A and in the measured default frames (hybrid bases,
  // edge vectors in 10 Å units); a bare model keeps the paper's PCA frames and raw Å.
  const frameless = { atomFeaLen: 0, frameKind: "pca", coordinates: null } as const;
  assert.deepEqual(
    { ...FACGCNN_PAPER_MODEL, ...frameless },
    { ...CGCNN_REFERENCE_MODEL, ...frameless },
  );
  assert.equal(FACGCNN_PAPER_MODEL.frameKind, "hybrid");
  assert.deepEqual(FACGCNN_PAPER_MODEL.coordinates, { scale: 10, node: false });
  assert.equal(CGCNN_REFERENCE_MODEL.frameKind, "pca");
  assert.deepEqual(CGCNN_REFERENCE_MODEL.coordinates, { scale: 1, node: true });
  const r = resolveTrainConfig({ data: "synthetic:10" });
  assert.equal(r.atomFeaLen, 128);
  const model = new Model({ kind: "cgcnn" }, cpuBackend());
  try {
    assert.equal(model.config.atomFeaLen, 64);
    for (const k of ["hFeaLen", "nConv", "nH", "frames", "seed"] as const) {
      assert.deepEqual(model.config[k], r[k], k);
      assert.deepEqual(model.config[k], CGCNN_REFERENCE_MODEL[k], k);
    }
  } finally {
    model.dispose();
  }
});

Deno.test("config: resolveTrainConfig fills every default and keeps what is given", () => {
  const r = resolveTrainConfig({ data: "synthetic:10" });
  assert.equal(r.model, TRAIN_DEFAULTS.model);
  assert.equal(r.epochs, TRAIN_DEFAULTS.epochs);
  assert.equal(r.lr, TRAIN_DEFAULTS.lr);
  assert.equal(r.optimizer, TRAIN_DEFAULTS.optimizer);
  assert.equal(r.momentum, TRAIN_DEFAULTS.momentum);
  assert.deepEqual(r.milestones, [...TRAIN_DEFAULTS.milestones]);
  assert.equal(r.gamma, TRAIN_DEFAULTS.gamma);
  assert.equal(r.device, TRAIN_DEFAULTS.device);
  assert.equal(r.seed, TRAIN_DEFAULTS.seed);
  assert.equal(r.bnBatches, TRAIN_DEFAULTS.bnBatches);
  assert.equal(r.frames, "stochastic");
  assert.equal(r.frameKind, "hybrid");
  assert.deepEqual(r.coordinates, { scale: 10, node: false });
  assert.equal(r.batchSize, undefined, "the batch size default depends on the data");
  assert.equal(r.weightDecay, undefined, "each optimizer's own default");
  // The paper's values (a change here changes `deno task train`).
  assert.deepEqual(
    [r.model, r.epochs, r.lr, r.optimizer, r.atomFeaLen, r.hFeaLen, r.nConv, r.nH],
    ["facgcnn", 30, 5e-4, "sf-adamw", 128, 128, 3, 1],
  );
  const given: TrainConfig = {
    data: "x",
    model: "cgcnn",
    epochs: 7,
    lr: 0.1,
    optimizer: "sgd",
    atomFeaLen: 16,
    frames: { sample: 2 },
    seed: 4,
    milestones: [3],
  };
  const g = resolveTrainConfig(given);
  for (const k of Object.keys(given) as (keyof TrainConfig)[]) assert.deepEqual(g[k], given[k]);
});

Deno.test("config: bad options fail before any data is read, naming the option", async () => {
  const cases: [Partial<TrainConfig>, RegExp][] = [
    [{ epochs: 0 }, /epochs must be a positive integer, got 0/],
    [{ epochs: 1.5 }, /epochs must be a positive integer/],
    [{ lr: 0 }, /lr must be > 0, got 0/],
    [{ lr: NaN }, /lr must be > 0/],
    [{ optimizer: "adam" as never }, /optimizer must be one of sf-adamw, adamw, sgd, got "adam"/],
    [{ model: "gcn" as never }, /model must be one of cgcnn, facgcnn, got "gcn"/],
    [{ device: "tpu" as never }, /device must be one of auto, cpu, cuda/],
    [{ frames: { sample: 9 } }, /frames must be/],
    [{ frameKind: "cell" as never }, /frameKind must be/],
    [{ atomFeaLen: 0 }, /atomFeaLen must be a positive integer/],
    [{ nConv: 2.5 }, /nConv must be a positive integer/],
    [{ batchSize: 0 }, /batch size must be a positive integer/],
    [{ split: [0.5, 0.5, 0.5] }, /split must be three fractions/],
  ];
  for (const [bad, message] of cases) {
    assert.throws(() => resolveTrainConfig({ data: "synthetic:10", ...bad }), message);
    // train() checks before it loads: a missing data file is not what it reports.
    await assert.rejects(
      train({ data: "/nonexistent/none.csv", out: "/nonexistent/run", ...bad }, QUIET),
      message,
    );
  }
});

Deno.test("config: config.json keeps the given options and the run-defining choices, in order", () => {
  const given: TrainConfig = { data: "synthetic:300", epochs: 3, out: "runs/x", atomFeaLen: 32 };
  assert.equal(
    JSON.stringify(savedRunConfig(given, resolveTrainConfig(given))),
    '{"data":"synthetic:300","epochs":3,"out":"runs/x","atomFeaLen":32,' +
      '"model":"facgcnn","task":"regression","frames":"stochastic","frameKind":"hybrid",' +
      '"hFeaLen":128,"nConv":3,"nH":1,"lr":0.0005,"optimizer":"sf-adamw","seed":0,' +
      '"coordinates":{"scale":10,"node":false},"radius":8,"maxNeighbors":12,' +
      '"neighborTies":"include"}',
  );
  const withBatch = { ...given, batchSize: 16 };
  assert.equal(savedRunConfig(withBatch, resolveTrainConfig(withBatch)).batchSize, 16);
});

Deno.test("config: the batch size default is the paper's 2048 capped to a tenth of the data", () => {
  assert.equal(resolveBatchSize(undefined, 100_000), TRAIN_DEFAULTS.batchSize);
  assert.equal(resolveBatchSize(undefined, 5000), 500);
  assert.equal(resolveBatchSize(undefined, 240), 32);
  assert.equal(resolveBatchSize(undefined, 20), 20);
  assert.equal(resolveBatchSize(64, 40), 40);
  assert.equal(resolveBatchSize(64, 400), 64);
  assert.throws(() => resolveBatchSize(0, 10), /batch size/);
});

Deno.test("config: the command line's choice lists are the configuration's", () => {
  const lists: [string, string, readonly string[]][] = [
    ["model", "model", MODEL_KINDS],
    ["optimizer", "optimizer", OPTIMIZER_KINDS],
    ["frame-kind", "frame-kind", FRAME_KINDS],
    ["device", "device", DEVICE_CHOICES],
    ["format", "format", DATASET_FORMATS],
    ["neighbor-ties", "neighbor-ties", NEIGHBOR_TIES],
  ];
  for (const [flag, key, choices] of lists) {
    assert.throws(
      () => trainConfig(flags({ [key]: "bogus" })),
      (e: unknown) =>
        e instanceof UsageError && e.message.includes(`--${flag}`) &&
        e.message.includes(choices.join(", ")),
      flag,
    );
    for (const c of choices) assert.equal(trainConfig(flags({ [key]: c }))[camel(key)], c, flag);
  }
  assert.equal(trainConfig({}).data, TRAIN_DEFAULTS.data);
  assert.deepEqual(trainConfig({ frames: "3" }).frames, { sample: 3 });
  assert.throws(() => trainConfig({ split: "0.5,0.4,0.4" }), /--split.*sum to 1/);
});

/** The configuration key of a flag (`frame-kind` → `frameKind`). */
function camel(flag: string): keyof TrainConfig {
  return flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) as keyof TrainConfig;
}

/** Flag values as `parseFlags` returns them. */
function flags(values: Record<string, string>): Parameters<typeof trainConfig>[0] {
  return values as Parameters<typeof trainConfig>[0];
}

Deno.test("config: frame modes from text", () => {
  assert.equal(parseFrameMode("none"), "none");
  assert.equal(parseFrameMode("stochastic"), "stochastic");
  assert.equal(parseFrameMode("all"), "all");
  assert.equal(parseFrameMode("8"), "all");
  assert.deepEqual(parseFrameMode("1"), { sample: 1 });
  for (const bad of ["0", "9", "2.5", "", "All", "k"]) assert.equal(parseFrameMode(bad), null, bad);
});

Deno.test("config: experiment settings — defaults, sorted distinct budgets, checks", () => {
  assert.deepEqual(resolveExperimentSettings({}), {
    seeds: EXPERIMENT_DEFAULTS.seeds,
    budgets: [100, 200, 300],
    variants: EXPERIMENT_VARIANTS,
    splitSeed: 0,
  });
  assert.deepEqual(resolveExperimentSettings({ epochsList: [5, 2, 5] }).budgets, [2, 5]);
  assert.throws(() => resolveExperimentSettings({ seeds: 0 }), /seeds must be a positive integer/);
  assert.throws(() => resolveExperimentSettings({ epochsList: [] }), /epochs must be positive/);
  assert.throws(() => resolveExperimentSettings({ epochsList: [0] }), /epochs must be positive/);
  assert.throws(
    () => resolveExperimentSettings({ variants: ["facgcnn", "gcn" as never] }),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === `variant must be one of ${EXPERIMENT_VARIANTS.join(", ")}, got "gcn"`,
  );
});

Deno.test("config: config.json records coordinates and neighbours; --config reads the same run", async () => {
  const given: TrainConfig = {
    data: "synthetic:300",
    coordinates: { node: true },
    neighborTies: "truncate",
    maxNeighbors: 8,
  };
  const saved = savedRunConfig(given, resolveTrainConfig(given));
  assert.deepEqual(saved.coordinates, { scale: 10, node: true });
  assert.deepEqual([saved.radius, saved.maxNeighbors, saved.neighborTies], [8, 8, "truncate"]);
  const dir = await Deno.makeTempDir({ prefix: "facgcnn-config-" });
  try {
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(saved));
    const back = await readRunConfig(`${dir}/config.json`);
    // The same model and graphs: every resolved model option agrees.
    const model = (c: TrainConfig) =>
      resolveModelConfig(trainModelConfig(resolveTrainConfig(c)), FACGCNN_PAPER_MODEL);
    assert.deepEqual(model(back), model(given));
    // A partial override changes only its part of the saved coordinates.
    const scaled = await readRunConfig(`${dir}/config.json`, { coordinates: { scale: 1 } });
    assert.deepEqual(scaled.coordinates, { scale: 1, node: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: --resume compares the given parts of coordinates and the neighbour options", () => {
  const saved = savedRunConfig(
    { data: "synthetic:300" },
    resolveTrainConfig({ data: "synthetic:300" }),
  );
  // The same choices, in part or in full: no conflict.
  checkResumeOptions({ data: "synthetic:300", coordinates: { scale: 10 } }, saved, "runs/r");
  checkResumeOptions({ data: "synthetic:300", radius: 8, neighborTies: "include" }, saved, "r");
  assert.throws(
    () => checkResumeOptions({ data: "synthetic:300", coordinates: { node: true } }, saved, "r"),
    /--node-coords on but the run used off/,
  );
  assert.throws(
    () => checkResumeOptions({ data: "synthetic:300", radius: 6 }, saved, "r"),
    /--radius 6 but the run used 8/,
  );
});

Deno.test("config: the weight-decay defaults shown in --help are the optimizers' own", () => {
  for (const kind of OPTIMIZER_KINDS) {
    const opt = createOptimizer(kind, []) as unknown as { weightDecay: number; dispose(): void };
    assert.equal(opt.weightDecay, DEFAULT_WEIGHT_DECAY[kind], kind);
    opt.dispose();
  }
});
