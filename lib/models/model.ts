/**
 * `createModel` and `Model`: a CGCNN or FACGCNN network with its atom feature table, target
 * scaling, frame settings and device, ready to train or predict.
 * @module
 */

import type { Backend, Storage } from "../backend/backend.ts";
import { selectBackend } from "../backend/select.ts";
import { profilerOf } from "../backend/profiler.ts";
import {
  type AtomFeatureTable,
  atomFeatureTable,
  BUILTIN_ATOM_FEATURES,
} from "../crystal/atom_features.ts";
import { featurize } from "../data/featurize.ts";
import { Rng } from "../util/random.ts";
import type { Dataset, GraphSet, Structure } from "../crystal/types.ts";
import { frameCopies, type FrameMode } from "../frames/select.ts";
import { collate, type GraphBatch, sliceBatch } from "../graph/batch.ts";
import type { Parameter } from "../nn/module.ts";
import { isGradEnabled, noGrad, tidy } from "../tensor/scope.ts";
import { Tensor } from "../tensor/tensor.ts";
import { CrystalGraphNetwork } from "./cgcnn.ts";
import {
  checkFrameMode,
  type ModelConfig,
  positiveInt,
  PREDICT_BATCH_SIZE,
  type ResolvedModelConfig,
  resolveModelConfig,
} from "./config.ts";
import {
  buildHostInputs,
  type DeviceInputs,
  edgeFeatureLength,
  type HostInputs,
  uploadInputs,
} from "./inputs.ts";

export {
  CGCNN_REFERENCE_MODEL,
  checkFrameMode,
  type ModelConfig,
  type ResolvedModelConfig,
  resolveModelConfig,
} from "./config.ts";

/**
 * Options of prediction.
 */
export interface PredictOptions {
  /** Frame mode for this call (default: the model's). */
  frames?: FrameMode;
  /** Crystals per forward pass (256). */
  batchSize?: number;
}

/**
 * A CGCNN or FACGCNN model on one backend. Dispose it to free device memory.
 *
 * @example
 * ```ts
 * import { createModel, loadDataset, saveCheckpoint } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "facgcnn", atomFeaLen: 64, device: "cpu" });
 * const predictions = await model.predict(await loadDataset("synthetic:16"), { frames: "all" });
 * await saveCheckpoint("model.safetensors", model);
 * model.dispose();
 * ```
 */
export class Model {
  /** The resolved configuration (every field set; what checkpoints store). */
  readonly config: ResolvedModelConfig;
  /** The backend (device) holding the weights. */
  readonly backend: Backend;
  /**
   * The underlying network (layers, state dict); internal.
   * @ignore
   */
  readonly network: CrystalGraphNetwork;
  /** The atom feature table on the device, `[maxZ + 1, atomFeatureLength]`. */
  readonly atomTable: Tensor;
  /** The atom feature table (host copy). */
  readonly atomFeatures: AtomFeatureTable;
  /** Targets are predicted as `mean + std · output` (set from the training targets). */
  targetMean = 0;
  /** Target scale: predictions are `targetMean + targetStd · output`. */
  targetStd = 1;
  #degenerateHost = 0;
  /** `[1]` int32 device counter of degenerate frames (CUDA: the device builds the frames). */
  #degenerateDevice: Storage | null = null;
  /**
   * Inference (eval mode, no gradient) runs a batch in sub-batches whose `[k·E, 2A]` float32
   * pre-activation (k frame copies) stays under this many bytes, so that it stays in cache
   * (default: the backend's {@linkcode Backend.inferenceChunkBytes}, 4 MiB on the CPU;
   * `Infinity`: whole batches).
   */
  inferenceChunkBytes: number;
  #frameRng: Rng;

  /**
   * Crystals with an ill-defined frame seen by the last forward passes (reset by the caller by
   * setting 0). Where the device builds the frames (CUDA) the count lives on the device and
   * reading this downloads it: one wait, so read it once per epoch, not per step.
   */
  get degenerateSeen(): number {
    const d = this.#degenerateDevice;
    return this.#degenerateHost + (d ? this.backend.download(d)[0] : 0);
  }

  set degenerateSeen(value: number) {
    this.#degenerateHost = value;
    if (this.#degenerateDevice) this.backend.fill(this.#degenerateDevice, 0);
  }

  /** Builds a model on `backend` with fresh weights (use {@linkcode createModel} to select the backend). */
  constructor(config: ModelConfig, backend: Backend) {
    this.config = resolveModelConfig(config);
    this.backend = backend;
    this.inferenceChunkBytes = backend.inferenceChunkBytes ?? Infinity;
    this.atomFeatures = config.atomFeatures ?? BUILTIN_ATOM_FEATURES;
    const c = this.config;
    const initRng = new Rng(c.seed, 1);
    this.#frameRng = new Rng(c.seed, 2);
    const extra = c.kind === "facgcnn" ? 3 : 0;
    this.network = new CrystalGraphNetwork(backend, {
      nodeInputs: this.atomFeatures.length + extra,
      edgeInputs: edgeFeatureLength(c.kind),
      atomFeaLen: c.atomFeaLen,
      hFeaLen: c.hFeaLen,
      nConv: c.nConv,
      nH: c.nH,
      outputs: c.task === "classification" ? 2 : 1,
    }, initRng);
    const table = atomFeatureTable(this.atomFeatures);
    this.atomTable = new Tensor(backend, backend.upload(table), [
      this.atomFeatures.maxZ + 1,
      this.atomFeatures.length,
    ], {
      tracked: false,
    });
    if (this.#deviceFrames && c.kind === "facgcnn") {
      this.#degenerateDevice = backend.alloc("int32", 1);
    }
  }

  /** CUDA: frames computed and applied on the device (lib/models/inputs.ts, `buildFrames`). */
  get #deviceFrames(): boolean {
    return this.backend.name === "cuda";
  }

  /**
   * Uploads host inputs (the device's degenerate-frame counter attached); internal.
   * @ignore
   */
  uploadInputs(h: HostInputs): DeviceInputs {
    return uploadInputs(this.backend, h, { degenerate: this.#degenerateDevice ?? undefined });
  }

  /** Trainable parameters (dotted names as in CGCNN's PyTorch state dict). */
  parameters(): Parameter[] {
    return this.network.parameters();
  }

  /** Training mode (BatchNorm on batch statistics). */
  train(): this {
    this.network.train(true);
    return this;
  }

  /** Evaluation mode (BatchNorm on running statistics). */
  eval(): this {
    this.network.eval();
    return this;
  }

  /** Reseeds the stochastic frame draws (the trainer does this per epoch for exact resumes). */
  reseedFrames(seed: number, stream: number): void {
    this.#frameRng = new Rng(seed, stream);
  }

  /**
   * Host inputs of a batch under a frame mode (draws stochastic frames); internal.
   * @ignore
   */
  hostInputs(batch: GraphBatch, frames: FrameMode = this.config.frames): HostInputs {
    for (let i = 0; i < batch.numbers.length; i++) {
      const z = batch.numbers[i];
      if (!this.atomFeatures.has(z)) {
        const crystal = batch.crystalOffsets.findIndex((o) => o > i) - 1;
        throw new RangeError(
          `structure ${
            batch.ids[crystal] ?? "?"
          }: element Z = ${z} has no atom features in ${this.atomFeatures.source}`,
        );
      }
    }
    const h = buildHostInputs(batch, {
      kind: this.config.kind,
      frames: checkFrameMode(frames),
      frameKind: this.config.frameKind,
      gapTolerance: this.config.gapTolerance,
      coordinates: this.config.coordinates,
      // CUDA: the device computes the frames (PCA eigensolves, signs, scale) and builds the k
      // frame copies from the positions (inputs.ts); the host only draws the sign patterns.
      framePlace: this.#deviceFrames ? "device" : "host",
      frameBuild: this.#deviceFrames ? "device" : "host",
    }, () => this.#frameRng.next());
    this.#degenerateHost += h.degenerate;
    return h;
  }

  /**
   * Forward pass on a batch: `[C, 1]` predictions on the standardised scale (the training
   * loss compares these with standardised targets). Call inside `tidy`.
   */
  forward(batch: GraphBatch, frames: FrameMode = this.config.frames): Tensor {
    if (Number.isFinite(this.inferenceChunkBytes) && !this.network.training && !isGradEnabled()) {
      // FACGCNN stacks k frame copies of every edge: the [k·E, 2A] array is what must fit.
      const copies = this.config.kind === "facgcnn" ? frameCopies(frames) : 1;
      const bounds = inferenceChunks(
        batch,
        this.inferenceChunkBytes / (8 * this.config.atomFeaLen * copies),
      );
      if (bounds.length > 2) return this.#forwardInChunks(batch, frames, bounds);
    }
    return this.#forwardWhole(batch, frames);
  }

  /** The forward pass of one batch as it is. */
  #forwardWhole(batch: GraphBatch, frames: FrameMode): Tensor {
    const inputs = this.uploadInputs(this.hostInputs(batch, frames));
    return this.network.forward({ table: this.atomTable }, inputs);
  }

  /**
   * Inference in sub-batches of crystals (`bounds`, from {@linkcode inferenceChunks}):
   * each crystal's prediction depends on its own atoms only (BatchNorm uses running statistics),
   * so the result is that of the whole batch, while each convolution's `[E, 2A]` pre-activation
   * stays in the last-level cache between the kernels that write and read it. Without this the
   * cost per crystal grows with the batch once that array outgrows the cache.
   */
  #forwardInChunks(batch: GraphBatch, frames: FrameMode, bounds: number[]): Tensor {
    const parts: Tensor[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const sub = sliceBatch(batch, bounds[i], bounds[i + 1]);
      parts.push(tidy(() => this.#forwardWhole(sub, frames)));
    }
    const cols = parts[0].cols, b = this.backend;
    const out = new Tensor(b, b.alloc("float32", batch.nCrystals * cols, false), [
      batch.nCrystals,
      cols,
    ]);
    let at = 0;
    for (const p of parts) {
      b.copy(p.storage, out.storage, p.size, 0, at);
      at += p.size;
      p.dispose();
    }
    return out;
  }

  /** Predictions (original target scale) for every crystal of a graph set, in order. */
  predictGraphs(graphs: GraphSet, options: PredictOptions = {}): Float32Array {
    const batchSize = positiveInt("batchSize", options.batchSize ?? PREDICT_BATCH_SIZE);
    const out = new Float32Array(graphs.count);
    const wasTraining = this.network.training;
    const profiler = profilerOf(this.backend); // FACGCNN_PROFILE=1: one step per batch
    this.eval();
    try {
      for (let start = 0; start < graphs.count; start += batchSize) {
        const idx = new Int32Array(Math.min(batchSize, graphs.count - start)).map((_, i) =>
          start + i
        );
        profiler?.stepBegin("predict");
        const batch = collate(graphs, idx);
        const values = tidy(() =>
          noGrad(() => this.forward(batch, options.frames).toFloat32Array())
        );
        profiler?.stepEnd();
        const classes = this.config.task === "classification";
        for (let i = 0; i < values.length; i++) {
          // Classification: P(class 1) = softmax(z)₁ = σ(z₁ − z₀).
          out[start + i] = classes
            ? 1 / (1 + Math.exp(-values[i]))
            : this.targetMean + this.targetStd * values[i];
        }
      }
    } finally {
      this.network.train(wasTraining);
    }
    return out;
  }

  /**
   * Crystal embeddings `[C, A]` (row-major): the pooled atom vectors each crystal reaches the
   * head with, averaged over its frame copies, in graph order.
   */
  embedGraphs(graphs: GraphSet, options: PredictOptions = {}): Float32Array {
    const batchSize = positiveInt("batchSize", options.batchSize ?? 256);
    const A = this.config.atomFeaLen;
    const out = new Float32Array(graphs.count * A);
    const wasTraining = this.network.training;
    this.eval();
    try {
      for (let start = 0; start < graphs.count; start += batchSize) {
        const idx = new Int32Array(Math.min(batchSize, graphs.count - start)).map((_, i) =>
          start + i
        );
        const batch = collate(graphs, idx);
        const values = tidy(() =>
          noGrad(() => {
            const inputs = this.uploadInputs(this.hostInputs(batch, options.frames));
            return this.network.embed({ table: this.atomTable }, inputs).toFloat32Array();
          })
        );
        out.set(values, start * A);
      }
    } finally {
      this.network.train(wasTraining);
    }
    return out;
  }

  /** Crystal embeddings `[C, A]` of structures or a data set (featurized as for `predict`). */
  async embed(data: Structure[] | Dataset, options: PredictOptions = {}): Promise<Float32Array> {
    return this.embedGraphs(await this.#graphsOf(data), options);
  }

  /**
   * Predictions for structures or a data set, in order. Structures are featurized with the
   * model's radius and neighbour count; one that cannot be (e.g. an isolated atom) is an error
   * naming it.
   */
  async predict(data: Structure[] | Dataset, options: PredictOptions = {}): Promise<Float32Array> {
    return this.predictGraphs(await this.#graphsOf(data), options);
  }

  /** Featurizes structures or a data set with the model's radius and neighbour count. */
  async #graphsOf(data: Structure[] | Dataset): Promise<GraphSet> {
    const dataset: Dataset = Array.isArray(data)
      ? {
        length: data.length,
        skipped: [],
        get: (i: number) => ({ id: data[i].id, structure: data[i], target: 0 }),
      }
      : {
        // Prediction inputs may have no targets (NaN); the featurizer skips those, so a
        // placeholder stands in: targets play no part in a prediction.
        length: data.length,
        skipped: data.skipped,
        source: data.source,
        get: (i: number) => {
          const e = data.get(i);
          return Number.isFinite(e.target) ? e : { ...e, target: 0 };
        },
      };
    const { graphs, skipped } = await featurize(dataset, {
      radius: this.config.radius,
      maxNeighbors: this.config.maxNeighbors,
      neighborTies: this.config.neighborTies ?? "truncate",
      cacheDir: null,
      quiet: true,
    });
    if (skipped.length > 0) {
      throw new Error(
        `cannot predict ${skipped.length} structure(s): ${
          skipped.slice(0, 5).map((s) => `${s.id}: ${s.reason}`).join("; ")
        }`,
      );
    }
    return graphs;
  }

  /** Frees parameters, buffers and the atom table. */
  dispose(): void {
    this.network.dispose();
    this.atomTable.dispose();
    if (this.#degenerateDevice) this.backend.free(this.#degenerateDevice);
    this.#degenerateDevice = null;
  }
}

/**
 * Crystal boundaries `[0, …, C]` that split a batch of E edges into ⌈E / maxEdges⌉ sub-batches
 * of about equal edge counts (cut at the first crystal boundary past each share). `[0, C]`
 * when the batch fits.
 */
export function inferenceChunks(batch: GraphBatch, maxEdges: number): number[] {
  const C = batch.nCrystals, E = batch.nEdges;
  if (E <= maxEdges || C < 2) return [0, C];
  const chunks = Math.ceil(E / maxEdges), bounds = [0];
  const edgesBefore = (c: number) => batch.edgeOffsets[batch.crystalOffsets[c]];
  for (let c = 1; c < C && bounds.length < chunks; c++) {
    // Cut before crystal c once the edges so far reach the next share of E.
    if (edgesBefore(c) >= (E * bounds.length) / chunks) bounds.push(c);
  }
  bounds.push(C);
  return bounds;
}

/**
 * Creates a CGCNN or FACGCNN model. `device: "auto"` picks CUDA when a GPU and the CUDA
 * libraries are present, else the CPU, and says which and why on stderr.
 *
 * @example
 * ```ts
 * import { createModel, loadDataset } from "@facgcnn/toolkit";
 * const model = createModel({ kind: "facgcnn", atomFeaLen: 64, device: "cpu" });
 * const data = await loadDataset("synthetic:8");
 * const predictions = await model.predict(data); // Float32Array, one per crystal
 * model.dispose();
 * ```
 */
export function createModel(config: ModelConfig): Model {
  return new Model(config, selectBackend(config.device ?? "auto"));
}
