/**
 * Model configuration: the architecture and frame choices, CGCNN's reference defaults, and
 * the one function that fills them in and checks them (`resolveModelConfig`). The training
 * configuration (`lib/train/config.ts`) builds on this: it lives in a higher layer and takes
 * its model choices and presets from here.
 * @module
 */

import type { AtomFeatureTable } from "../crystal/atom_features.ts";
import { BUILTIN_ATOM_FEATURES } from "../crystal/atom_features.ts";
import type { NeighborTies } from "../crystal/neighbors.ts";
import {
  type CoordinateInputs,
  PAPER_COORDINATES,
  resolveCoordinateInputs,
} from "../frames/scale.ts";
import type { FrameKind, FrameMode } from "../frames/select.ts";

/** An architecture: CGCNN (distances only) or FACGCNN (adds frame coordinates). */
export type ModelKind = "cgcnn" | "facgcnn";

/**
 * What the model predicts: a number ("regression") or, as CGCNN's classification mode, one of
 * two classes ("classification": two outputs, log-softmax, NLL loss).
 */
export type ModelTask = "regression" | "classification";

/** The tasks (`--task`). */
export const MODEL_TASKS: readonly ModelTask[] = ["regression", "classification"];

/** The architectures (`--model`). */
export const MODEL_KINDS: readonly ModelKind[] = ["cgcnn", "facgcnn"];

/** The frame bases (`--frame-kind`): PCA (the paper), lattice polar factor, or hybrid. */
export const FRAME_KINDS: readonly FrameKind[] = ["pca", "lattice", "hybrid"];

/** Frame modes named by a word; `{ sample: k }` (k = 1..8 frames) is the fourth form. */
export const FRAME_MODE_WORDS = ["none", "stochastic", "all"] as const;

/** Crystals per forward pass when predicting or evaluating (`PredictOptions.batchSize`). */
export const PREDICT_BATCH_SIZE = 256;

/** The model fields that have a default (everything but the kind and the atom table). */
export type ModelDefaults = Readonly<
  Required<Omit<ResolvedModelConfig, "kind" | "atomFeatureLength" | "task">>
>;

/**
 * CGCNN's reference defaults (Xie & Grossman 2018, the defaults of its `main.py`:
 * `--atom-fea-len 64 --h-fea-len 128 --n-conv 3 --n-h 1`, 12 neighbours within 8 Å), with
 * FACGCNN's stochastic PCA frames (the FACGCNN paper's k = 1). `createModel` fills omitted
 * fields from this preset; training uses `FACGCNN_PAPER_MODEL` (`lib/train/config.ts`).
 */
export const CGCNN_REFERENCE_MODEL: ModelDefaults = Object.freeze({
  atomFeaLen: 64,
  hFeaLen: 128,
  nConv: 3,
  nH: 1,
  frames: "stochastic",
  frameKind: "pca",
  gapTolerance: 1e-2,
  coordinates: PAPER_COORDINATES,
  seed: 0,
  radius: 8,
  maxNeighbors: 12,
  neighborTies: "include",
});

/**
 * Options of `createModel`; omitted fields take the CGCNN reference defaults.
 *
 * @example
 * ```ts
 * import { createModel, type ModelConfig } from "@facgcnn/toolkit";
 * const config: ModelConfig = { kind: "facgcnn", atomFeaLen: 128, nConv: 3, frames: "stochastic", frameKind: "pca" };
 * const model = createModel(config);
 * model.dispose();
 * ```
 */
export interface ModelConfig {
  /** Architecture: "cgcnn" (distances only) or "facgcnn" (adds frame coordinates and relative vectors). */
  kind: ModelKind;
  /** A, atom embedding length (64, CGCNN's default; the FACGCNN paper and `train` use 128). */
  atomFeaLen?: number;
  /** H, hidden length of the head (128). */
  hFeaLen?: number;
  /** Convolution layers (3). */
  nConv?: number;
  /** Hidden layers of the head (1). */
  nH?: number;
  /** FACGCNN frames: "stochastic" (the paper's k = 1, default), "all", `{ sample: k }`, "none". */
  frames?: FrameMode;
  /** Frame base: "pca" (the paper, default), "lattice" or "hybrid". */
  frameKind?: FrameKind;
  /** Relative eigengap under which a PCA frame counts as degenerate (1e-2). */
  gapTolerance?: number;
  /** FACGCNN coordinate inputs: length scale and whether atoms get theirs (raw Å, both). */
  coordinates?: CoordinateInputs;
  /** Seed of the weight initialisation and of the frame draws (0). */
  seed?: number;
  /** "auto" (CUDA when usable, else CPU; default), "cpu" or "cuda". */
  device?: "auto" | "cpu" | "cuda";
  /** Neighbour radius (8 Å) and count (12) used to featurize structures for `predict`. */
  radius?: number;
  /** Neighbour count used to featurize structures for `predict` (12). */
  maxNeighbors?: number;
  /** Tied last neighbour shell for `predict` ("include"; "truncate" = CGCNN). */
  neighborTies?: NeighborTies;
  /** Atom feature table (CGCNN's 92-long one by default, or a loaded `atom_init.json`). */
  atomFeatures?: AtomFeatureTable;
  /** "regression" (default) or "classification" (two classes; predictions are P(class 1)). */
  task?: ModelTask;
}

/**
 * A model configuration with every field set (what checkpoints store).
 */
export interface ResolvedModelConfig {
  /** Architecture. */
  kind: ModelKind;
  /** A, atom embedding length. */
  atomFeaLen: number;
  /** H, hidden length of the head. */
  hFeaLen: number;
  /** Convolution layers. */
  nConv: number;
  /** Hidden layers of the head. */
  nH: number;
  /** Default frame mode. */
  frames: FrameMode;
  /** Frame base. */
  frameKind: FrameKind;
  /** Relative eigengap under which a PCA frame counts as degenerate. */
  gapTolerance: number;
  /** FACGCNN coordinate inputs (absent in old checkpoints: raw Å, node and edge). */
  coordinates?: Required<CoordinateInputs>;
  /** Seed of the weight initialisation and of the frame draws. */
  seed: number;
  /** Neighbour radius (Å) used by `predict`. */
  radius: number;
  /** Neighbour count used by `predict`. */
  maxNeighbors: number;
  /** Tied last neighbour shell used by `predict` (absent in old checkpoints: "truncate"). */
  neighborTies?: NeighborTies;
  /** Features per atom in the atom table. */
  atomFeatureLength: number;
  /** Regression or two-class classification (absent in old checkpoints: regression). */
  task?: ModelTask;
}

/** `task` when it is one of {@link MODEL_TASKS}, else a `RangeError`. */
export function checkTask(task: ModelTask): ModelTask {
  if (!MODEL_TASKS.includes(task)) {
    throw new RangeError(
      `task must be "regression" or "classification", got ${JSON.stringify(task)}`,
    );
  }
  return task;
}

/** `v` when it is a positive integer, else a `RangeError` naming `name`. */
export function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  return v;
}

/** Checks a frame mode and returns it. */
export function checkFrameMode(mode: FrameMode): FrameMode {
  if ((FRAME_MODE_WORDS as readonly unknown[]).includes(mode)) return mode;
  if (
    typeof mode === "object" && mode !== null && Number.isInteger(mode.sample) &&
    mode.sample >= 1 && mode.sample <= 8
  ) {
    return mode;
  }
  throw new RangeError(
    `frames must be "none", "stochastic", "all" or { sample: 1..8 }, got ${JSON.stringify(mode)}`,
  );
}

/**
 * A frame mode from its text form (`--frames`): a word, or a number of frames 1..8 (8 is
 * "all"); null when the text is none of these.
 */
export function parseFrameMode(text: string): FrameMode | null {
  if ((FRAME_MODE_WORDS as readonly string[]).includes(text)) return text as FrameMode;
  const k = Number(text);
  if (Number.isInteger(k) && k >= 1 && k <= 8) return k === 8 ? "all" : { sample: k };
  return null;
}

/**
 * Fills in defaults (`defaults`, CGCNN's reference ones unless given) and validates a
 * configuration.
 */
export function resolveModelConfig(
  config: ModelConfig,
  defaults: ModelDefaults = CGCNN_REFERENCE_MODEL,
): ResolvedModelConfig {
  if (!MODEL_KINDS.includes(config.kind)) {
    throw new RangeError(
      `model kind must be "cgcnn" or "facgcnn", got ${JSON.stringify(config.kind)}`,
    );
  }
  const frameKind = config.frameKind ?? defaults.frameKind;
  if (!FRAME_KINDS.includes(frameKind)) {
    throw new RangeError(
      `frameKind must be "pca", "lattice" or "hybrid", got ${JSON.stringify(frameKind)}`,
    );
  }
  return {
    kind: config.kind,
    atomFeaLen: positiveInt("atomFeaLen", config.atomFeaLen ?? defaults.atomFeaLen),
    hFeaLen: positiveInt("hFeaLen", config.hFeaLen ?? defaults.hFeaLen),
    nConv: positiveInt("nConv", config.nConv ?? defaults.nConv),
    nH: positiveInt("nH", config.nH ?? defaults.nH),
    frames: checkFrameMode(config.frames ?? defaults.frames),
    frameKind,
    gapTolerance: config.gapTolerance ?? defaults.gapTolerance,
    coordinates: resolveCoordinateInputs({ ...defaults.coordinates, ...config.coordinates }),
    seed: config.seed ?? defaults.seed,
    radius: config.radius ?? defaults.radius,
    maxNeighbors: positiveInt("maxNeighbors", config.maxNeighbors ?? defaults.maxNeighbors),
    neighborTies: config.neighborTies ?? defaults.neighborTies,
    atomFeatureLength: (config.atomFeatures ?? BUILTIN_ATOM_FEATURES).length,
    task: checkTask(config.task ?? "regression"),
  };
}
