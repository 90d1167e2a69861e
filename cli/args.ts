/**
 * Flag parsing shared by the commands (`node:util` `parseArgs`, strict): the model, data and
 * training flags are declared once here so `train`, `predict` and `experiment` agree.
 * @module
 */

import { parseArgs } from "node:util";
import type { FrameMode } from "../lib/frames/select.ts";
import type { CoordinateInputs } from "../lib/frames/scale.ts";
import {
  checkSplit,
  DATASET_FORMATS,
  DEVICE_CHOICES,
  FRAME_KINDS,
  MODEL_KINDS,
  MODEL_TASKS,
  NEIGHBOR_TIES,
  OPTIMIZER_KINDS,
  parseFrameMode,
  POSITION_KINDS,
  TRAIN_DEFAULTS,
  type TrainConfig,
} from "../lib/train/config.ts";
import { flag } from "../lib/util/settings.ts";

/** A bad command line: printed as one line, exit code 2. */
export class UsageError extends Error {}

type Spec = Record<string, { type: "string" | "boolean"; short?: string }>;

/** Flags of the data sources. */
export const DATA_FLAGS = {
  data: { type: "string" },
  "val-data": { type: "string" },
  "test-data": { type: "string" },
  split: { type: "string" },
  format: { type: "string" },
  target: { type: "string" },
  unit: { type: "string" },
  "atom-init": { type: "string" },
  "id-column": { type: "string" },
  positions: { type: "string" },
  occupancy: { type: "string" },
  limit: { type: "string" },
  "no-cache": { type: "boolean" },
  "neighbor-ties": { type: "string" },
} as const satisfies Spec;

/** Flags of the model and the training loop. */
export const TRAIN_FLAGS = {
  model: { type: "string" },
  task: { type: "string" },
  threshold: { type: "string" },
  "lr-milestones": { type: "string" },
  patience: { type: "string" },
  config: { type: "string" },
  frames: { type: "string" },
  "frame-kind": { type: "string" },
  "coord-scale": { type: "string" },
  "node-coords": { type: "string" },
  epochs: { type: "string" },
  "batch-size": { type: "string" },
  lr: { type: "string" },
  optimizer: { type: "string" },
  "weight-decay": { type: "string" },
  "atom-fea-len": { type: "string" },
  "h-fea-len": { type: "string" },
  "n-conv": { type: "string" },
  "n-h": { type: "string" },
  device: { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
  resume: { type: "boolean" },
  shards: { type: "string" },
  force: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies Spec;

/**
 * Parses `args` strictly; unknown flags and missing values become a `UsageError`. A negative
 * number after a value flag (`--lr -1`) is taken as its value, so the flag's own check can
 * say what is wrong with it (`parseArgs` alone calls it ambiguous).
 */
export function parseFlags<S extends Spec>(args: string[], spec: S) {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith("--") ? args[i].slice(2) : null;
    const next = args[i + 1];
    if (
      name !== null && spec[name]?.type === "string" && next !== undefined &&
      /^-(\d|\.\d|Infinity)/.test(next)
    ) {
      joined.push(`${args[i]}=${next}`);
      i++;
    } else joined.push(args[i]);
  }
  try {
    return parseArgs({ args: joined, options: spec, strict: true, allowPositionals: false })
      .values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A number flag (undefined when absent); `integer` and `min` are checked. */
export function numberFlag(
  name: string,
  value: string | undefined,
  options: { integer?: boolean; min?: number; exclusiveMin?: boolean } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const low = options.min ?? -Infinity;
  const ok = value.trim() !== "" && Number.isFinite(n) &&
    (!options.integer || Number.isInteger(n)) &&
    (options.exclusiveMin ? n > low : n >= low);
  if (!ok) {
    const what = options.integer ? "an integer" : "a number";
    const bound = options.min !== undefined
      ? ` ${options.exclusiveMin ? ">" : "≥"} ${options.min}`
      : "";
    throw new UsageError(`--${name} must be ${what}${bound}, got "${value}"`);
  }
  return n;
}

/** One of a fixed set of words. */
export function choiceFlag<T extends string>(
  name: string,
  value: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got "${value}"`);
  }
  return value as T;
}

/** `--frames none|stochastic|all|k` (k = 1..8 sampled frames). */
export function framesFlag(value: string | undefined): FrameMode | undefined {
  if (value === undefined) return undefined;
  const mode = parseFrameMode(value);
  if (mode !== null) return mode;
  throw new UsageError(
    `--frames must be none, stochastic, all or a number of frames 1..8, got "${value}"`,
  );
}

/** A comma-separated list of numbers, e.g. `--split 0.8,0.1,0.1`. */
export function listFlag(
  name: string,
  value: string | undefined,
  length?: number,
): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(",").map((p) => p.trim());
  const nums = parts.map(Number);
  if (
    parts.some((p) => p === "") || nums.some((n) => !Number.isFinite(n)) ||
    (length && nums.length !== length)
  ) {
    throw new UsageError(
      `--${name} must be ${length ?? "a list of"} comma-separated numbers, got "${value}"`,
    );
  }
  return nums;
}

type DataValues = {
  [K in keyof typeof DATA_FLAGS]?: (typeof DATA_FLAGS)[K]["type"] extends "boolean" ? boolean
    : string;
};
type TrainValues = {
  [K in keyof typeof TRAIN_FLAGS]?: (typeof TRAIN_FLAGS)[K]["type"] extends "boolean" ? boolean
    : string;
};

/** The data part of a training configuration from flags. */
export function dataConfig(v: DataValues): Pick<
  TrainConfig,
  | "data"
  | "valData"
  | "testData"
  | "neighborTies"
  | "split"
  | "format"
  | "target"
  | "unit"
  | "atomInit"
  | "idColumn"
  | "positions"
  | "occupancy"
  | "limit"
  | "cacheDir"
> {
  const split = listFlag("split", v.split, 3) as [number, number, number] | undefined;
  if (split) {
    try {
      checkSplit(split);
    } catch {
      throw new UsageError(`--split fractions must be ≥ 0 and sum to 1, got "${v.split}"`);
    }
  }
  return {
    data: v.data ?? TRAIN_DEFAULTS.data,
    valData: v["val-data"],
    testData: v["test-data"],
    split,
    format: choiceFlag("format", v.format, DATASET_FORMATS),
    target: v.target,
    unit: v.unit,
    atomInit: v["atom-init"],
    idColumn: v["id-column"],
    positions: choiceFlag("positions", v.positions, POSITION_KINDS),
    occupancy: choiceFlag("occupancy", v.occupancy, ["error", "majority"] as const),
    limit: numberFlag("limit", v.limit, { integer: true, min: 1 }),
    cacheDir: v["no-cache"] ? null : undefined,
    neighborTies: choiceFlag("neighbor-ties", v["neighbor-ties"], NEIGHBOR_TIES),
  };
}

/** A full training configuration from flags. */
export function trainConfig(v: DataValues & TrainValues): TrainConfig {
  if (v.resume && v.force) {
    throw new UsageError("--resume continues the run in --out, --force deletes it: pick one");
  }
  if (v.resume && v.out === undefined) {
    throw new UsageError("--resume needs --out: the run folder to continue");
  }
  const data = dataConfig(v);
  // With --resume the data comes from the saved run unless given (then it must match).
  if (v.resume && v.data === undefined) delete (data as { data?: string }).data;
  return {
    ...data,
    model: choiceFlag("model", v.model, MODEL_KINDS),
    task: choiceFlag("task", v.task, MODEL_TASKS),
    threshold: numberFlag("threshold", v.threshold),
    patience: numberFlag("patience", v.patience, { integer: true, min: 1 }),
    milestones: listFlag("lr-milestones", v["lr-milestones"])?.map((m) => {
      if (!Number.isInteger(m) || m < 1) {
        throw new UsageError(
          `--lr-milestones must be positive epoch numbers, got "${v["lr-milestones"]}"`,
        );
      }
      return m;
    }),
    frames: framesFlag(v.frames),
    frameKind: choiceFlag("frame-kind", v["frame-kind"], FRAME_KINDS),
    coordinates: coordinateFlags(v["coord-scale"], v["node-coords"]),
    epochs: numberFlag("epochs", v.epochs, { integer: true, min: 1 }),
    batchSize: numberFlag("batch-size", v["batch-size"], { integer: true, min: 2 }),
    lr: numberFlag("lr", v.lr, { min: 0, exclusiveMin: true }),
    optimizer: choiceFlag("optimizer", v.optimizer, OPTIMIZER_KINDS),
    weightDecay: numberFlag("weight-decay", v["weight-decay"], { min: 0 }),
    atomFeaLen: numberFlag("atom-fea-len", v["atom-fea-len"], { integer: true, min: 1 }),
    hFeaLen: numberFlag("h-fea-len", v["h-fea-len"], { integer: true, min: 1 }),
    nConv: numberFlag("n-conv", v["n-conv"], { integer: true, min: 1 }),
    nH: numberFlag("n-h", v["n-h"], { integer: true, min: 1 }),
    device: choiceFlag("device", v.device, DEVICE_CHOICES),
    seed: numberFlag("seed", v.seed, { integer: true, min: 0 }),
    out: v.out,
    resume: v.resume,
    shards: numberFlag("shards", v.shards, { integer: true, min: 1 }),
    force: v.force,
  };
}

/** `--coord-scale LENGTH|rms` and `--node-coords on|off` (undefined when neither is given). */
function coordinateFlags(scale?: string, node?: string): CoordinateInputs | undefined {
  if (scale === undefined && node === undefined) return undefined;
  const out: CoordinateInputs = {};
  if (scale !== undefined) {
    out.scale = scale === "rms"
      ? "rms"
      : numberFlag("coord-scale", scale, { min: 0, exclusiveMin: true });
  }
  const n = choiceFlag("node-coords", node, ["on", "off"] as const);
  if (n !== undefined) out.node = n === "on";
  return out;
}

/** `--verbose`: the device line lists every CUDA path tried (as `FACGCNN_VERBOSE=1`). */
export function applyVerbose(verbose: boolean | undefined): void {
  if (verbose) Deno.env.set("FACGCNN_VERBOSE", "1");
}

/**
 * Runs a command's main: a `UsageError` prints one line and exits 2, any other error prints
 * one line (its message) and exits 1; `FACGCNN_DEBUG=1` prints the stack too.
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const debug = flag("debug");
    // One line; an error whose first line only introduces a list (CUDA's "unavailable:")
    // keeps its reasons on that line: its one-line summary, else the listed lines.
    const [first, ...rest] = err.message.split("\n");
    let line = first;
    if (first.trimEnd().endsWith(":") && rest.length > 0) {
      const summary = (err as { summary?: unknown }).summary;
      line = `${first.trimEnd()} ${
        typeof summary === "string" && summary !== ""
          ? summary
          : rest.map((l) => l.trim()).filter(Boolean).join("; ")
      }${debug ? "" : " (FACGCNN_DEBUG=1 shows every path tried)"}`;
    }
    console.error(`error: ${line}`);
    if (debug) console.error(err.stack);
    Deno.exit(err instanceof UsageError ? 2 : 1);
  }
}
