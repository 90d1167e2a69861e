/**
 * Model checkpoints in safetensors: parameters and BatchNorm statistics under PyTorch-style
 * names, the atom table when it is not the built-in one, and the model configuration, target
 * scaling and training facts in the metadata. Written atomically (temp file + rename).
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import { type DeviceChoice, selectBackend } from "../backend/select.ts";
import { type AtomFeatureTable, BUILTIN_ATOM_FEATURES } from "../crystal/atom_features.ts";
import { PAPER_COORDINATES } from "../frames/scale.ts";
import {
  readSafetensors,
  type SafeTensor,
  SafetensorsChecksumError,
  writeSafetensors,
} from "../io/safetensors.ts";
import { Model, type ResolvedModelConfig } from "../models/model.ts";
import type { StateDict } from "../nn/module.ts";

/** Format tag stored in the metadata. */
export const CHECKPOINT_FORMAT = "facgcnn-checkpoint/1";
const ATOM_TABLE_KEY = "atom_features";

/**
 * Facts stored next to the weights.
 *
 * @example
 * ```ts
 * import { type CheckpointInfo, createModel, saveCheckpoint } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "facgcnn", device: "cpu" });
 * const info: CheckpointInfo = { epoch: 10, metrics: { mae: 0.05 }, extra: { note: "baseline" } };
 * await saveCheckpoint("model.safetensors", model, info);
 * model.dispose();
 * ```
 */
export interface CheckpointInfo {
  /** Epoch the weights come from (1-based), if saved by the trainer. */
  epoch?: number;
  /** Validation metrics at that epoch. */
  metrics?: Record<string, number>;
  /** Anything else worth keeping (JSON-safe). */
  extra?: Record<string, unknown>;
}

/**
 * Writes a model checkpoint (weights as they are now: call `optimizer.eval()` first for SF-AdamW).
 *
 * @example
 * ```ts
 * import { createModel, loadCheckpoint, saveCheckpoint } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "facgcnn", device: "cpu" });
 * await saveCheckpoint("model.safetensors", model, { epoch: 1 });
 * const { model: same } = await loadCheckpoint("model.safetensors", { device: "cpu" });
 * model.dispose();
 * same.dispose();
 * ```
 */
export async function saveCheckpoint(
  path: string,
  model: Model,
  info: CheckpointInfo = {},
): Promise<void> {
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, { shape, data }] of model.network.stateDict()) {
    tensors[name] = { dtype: "F32", shape, data };
  }
  if (model.atomFeatures !== BUILTIN_ATOM_FEATURES) {
    tensors[ATOM_TABLE_KEY] = {
      dtype: "F32",
      shape: [model.atomFeatures.maxZ + 1, model.atomFeatures.length],
      data: model.atomFeatures.rows,
    };
  }
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(model.config),
    target_mean: String(model.targetMean),
    target_std: String(model.targetStd),
  };
  if (info.epoch !== undefined) metadata.epoch = String(info.epoch);
  if (info.metrics) metadata.metrics = JSON.stringify(info.metrics);
  if (info.extra) metadata.extra = JSON.stringify(info.extra);
  await writeSafetensors(path, tensors, metadata);
}

/**
 * A loaded checkpoint: the model and the stored facts.
 */
export interface LoadedCheckpoint {
  /** The rebuilt model (dispose it). */
  model: Model;
  /** Stored epoch, metrics and extras. */
  info: CheckpointInfo;
}

/**
 * Options of `loadCheckpoint`.
 */
export interface LoadCheckpointOptions {
  /** Device to load onto ("auto"). */
  device?: DeviceChoice;
  /** Use this backend instead of selecting one. */
  backend?: Backend;
}

/**
 * Rebuilds the model saved in `path` (same configuration, weights, statistics and scaling).
 *
 * @example
 * ```ts
 * import { loadCheckpoint, loadDataset } from "@facgcnn/toolkit";
 * const { model, info } = await loadCheckpoint("runs/example/best.safetensors", { device: "cpu" });
 * console.log(model.config.kind, info.epoch, info.metrics);
 * const predictions = await model.predict(await loadDataset("my_cifs/"));
 * model.dispose();
 * ```
 */
export async function loadCheckpoint(
  path: string,
  options: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  let file;
  try {
    file = await readSafetensors(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`checkpoint ${path} not found`);
    if (e instanceof SafetensorsChecksumError) {
      // A damaged file must not load as different weights: point to the run's other copy.
      throw new Error(
        `${e.message}: do not use this checkpoint; use the run's other one (best.safetensors ` +
          `or last.safetensors in the same folder) or train again`,
      );
    }
    throw e;
  }
  const meta = file.metadata ?? {};
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new Error(
      `${path}: not a FACGCNN checkpoint (metadata format is ${JSON.stringify(meta.format)})`,
    );
  }
  let config: ResolvedModelConfig;
  try {
    config = JSON.parse(meta.config);
    // Checkpoints written before these options existed used raw Å coordinates on atoms and
    // edges and CGCNN's truncated neighbour shells.
    config.coordinates ??= { ...PAPER_COORDINATES };
    config.neighborTies ??= "truncate";
  } catch (e) {
    throw new Error(`${path}: bad model config in metadata: ${(e as Error).message}`);
  }
  let atomFeatures: AtomFeatureTable = BUILTIN_ATOM_FEATURES;
  const table = file.tensors[ATOM_TABLE_KEY];
  if (table) {
    const [rows, length] = table.shape;
    const data = table.data as Float32Array;
    atomFeatures = {
      length,
      maxZ: rows - 1,
      rows: data,
      source: `${path} (saved atom table)`,
      has: (z: number) => {
        if (!(z >= 1 && z < rows)) return false;
        for (let j = 0; j < length; j++) if (data[z * length + j] !== 0) return true;
        return false;
      },
    };
  }
  const backend = options.backend ?? selectBackend(options.device ?? "auto");
  const model = new Model({ ...config, atomFeatures }, backend);
  const state: StateDict = new Map();
  for (const [name, t] of Object.entries(file.tensors)) {
    if (name === ATOM_TABLE_KEY) continue;
    if (!(t.data instanceof Float32Array)) throw new Error(`${path}: tensor "${name}" is not F32`);
    state.set(name, { shape: t.shape, data: t.data });
  }
  try {
    model.network.loadStateDict(state);
  } catch (e) {
    model.dispose();
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  model.targetMean = Number(meta.target_mean ?? 0);
  model.targetStd = Number(meta.target_std ?? 1);
  const info: CheckpointInfo = {};
  if (meta.epoch) info.epoch = Number(meta.epoch);
  if (meta.metrics) info.metrics = JSON.parse(meta.metrics);
  if (meta.extra) info.extra = JSON.parse(meta.extra);
  return { model, info };
}
