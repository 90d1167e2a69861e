/**
 * Model inputs of one batch: edge features (Gaussian distances, plus frame relative vectors
 * for FACGCNN), frame coordinates, and the k frame copies stacked as a batch dimension.
 *
 * The host builds what is small and needs the structure (indices, frames, relative vectors);
 * the device builds what is large: the 41 Gaussians per edge are expanded on the device from
 * the `[E]` distances (a batch of 2048 crystals uploads ~1.5 MB of distances instead of ~65 MB
 * of features), and everything is uploaded in one packed copy (`Backend.uploadBatch`).
 *
 * Copies are laid out copy-major: copy f of the batch occupies atoms `f·N .. (f+1)·N`,
 * edges `f·E .. (f+1)·E` and crystals `f·C .. (f+1)·C`; only coordinates and relative
 * vectors differ between copies. The model averages the k outputs of each crystal at the end.
 * @module
 */

import type { Backend, BatchPart } from "../backend/backend.ts";
import { gaussianExpandInto, gaussianSize } from "../crystal/rbf.ts";
import {
  computeFrames,
  frameCoordinates,
  frameIndices,
  type FrameKind,
  type FrameMode,
  frameVectors,
} from "../frames/select.ts";
import {
  type CoordinateInputs,
  coordinateScales,
  resolveCoordinateInputs,
} from "../frames/scale.ts";
import type { GraphBatch } from "../graph/batch.ts";
import { zeros } from "../tensor/ops.ts";
import { Tensor } from "../tensor/tensor.ts";

/** What decides a batch's inputs. */
export interface InputSpec {
  kind: "cgcnn" | "facgcnn";
  frames: FrameMode;
  frameKind: FrameKind;
  /** Relative eigengap under which a PCA frame counts as degenerate. */
  gapTolerance?: number;
  /** Scale of the coordinate inputs and whether atoms get theirs (raw Å, node + edge). */
  coordinates?: CoordinateInputs;
}

/** Host arrays of one forward pass (k copies stacked). */
export interface HostInputs {
  /** Frame copies per crystal (k). */
  copies: number;
  /** Crystals of the batch (before stacking). */
  nCrystals: number;
  /** `[k·N]` atomic numbers. */
  numbers: Int32Array;
  /** `[k·N, 3]` frame coordinates (FACGCNN), else null. */
  coords: Float32Array | null;
  /** `[E]` edge lengths (Å), shared by the copies; expanded into Gaussians on the device. */
  distances: Float32Array;
  /** `[k·E, 3]` frame relative vectors (FACGCNN), else null. */
  relative: Float32Array | null;
  /** F: 41 Gaussians (+ 3 frame vector components for FACGCNN). */
  edgeFeatureLength: number;
  /** `[k·N + 1]` CSR edge ranges per centre atom. */
  edgeOffsets: Int32Array;
  /** `[k·E]` neighbour atom indices. */
  neighbors: Int32Array;
  /** `[k·C + 1]` atom ranges per stacked crystal. */
  crystalOffsets: Int32Array;
  /** Crystals of this batch whose frame base is ill-defined. */
  degenerate: number;
}

/** Device tensors of one forward pass (owned by the enclosing `tidy` scope). */
export interface DeviceInputs {
  copies: number;
  nCrystals: number;
  nAtoms: number;
  nEdges: number;
  numbers: Tensor;
  coords: Tensor | null;
  edgeFeatures: Tensor;
  edgeOffsets: Tensor;
  neighbors: Tensor;
  crystalOffsets: Tensor;
  /** `[C·k]` row of each (crystal, copy) pair in the copy-major output, crystal-major order. */
  copyOrder: Tensor | null;
  /** `[C + 1]` offsets `0, k, 2k, …` for averaging the copies. */
  copyOffsets: Tensor | null;
}

/** Number of edge features for a model kind. */
export function edgeFeatureLength(kind: "cgcnn" | "facgcnn"): number {
  return gaussianSize() + (kind === "facgcnn" ? 3 : 0);
}

/** Builds the host inputs of a batch; `rng` draws stochastic frames. */
export function buildHostInputs(batch: GraphBatch, spec: InputSpec, rng: () => number): HostInputs {
  const { nCrystals: C, nAtoms: N, nEdges: E } = batch;
  const fa = spec.kind === "facgcnn";
  const mode: FrameMode = fa ? spec.frames : "none";
  const patterns = frameIndices(mode, C, rng);
  const k = patterns.length / Math.max(C, 1) || 1;
  const F = edgeFeatureLength(spec.kind);

  const numbers = new Int32Array(k * N);
  const edgeOffsets = new Int32Array(k * N + 1);
  const neighbors = new Int32Array(k * E);
  const crystalOffsets = new Int32Array(k * C + 1);
  for (let f = 0; f < k; f++) {
    numbers.set(batch.numbers, f * N);
    for (let a = 0; a < N; a++) edgeOffsets[f * N + a + 1] = f * E + batch.edgeOffsets[a + 1];
    for (let e = 0; e < E; e++) neighbors[f * E + e] = batch.neighbors[e] + f * N;
    for (let c = 0; c < C; c++) crystalOffsets[f * C + c + 1] = f * N + batch.crystalOffsets[c + 1];
  }

  let coords: Float32Array | null = null, relativeAll: Float32Array | null = null;
  let degenerate = 0;
  if (fa) {
    coords = new Float32Array(k * N * 3);
    relativeAll = new Float32Array(k * E * 3);
    const frames = computeFrames(
      batch.positions,
      batch.crystalOffsets,
      batch.lattices,
      spec.frameKind,
      {
        gapTolerance: spec.gapTolerance,
      },
    );
    if (mode === "none") {
      // w/o FA: centred Cartesian coordinates and raw relative vectors (no rotation).
      frames.bases.fill(0);
      for (let c = 0; c < C; c++) {
        frames.bases[9 * c] = frames.bases[9 * c + 4] = frames.bases[9 * c + 8] = 1;
      }
    } else {
      for (let c = 0; c < C; c++) degenerate += frames.degenerate[c];
    }
    const co = resolveCoordinateInputs(spec.coordinates);
    const scales = coordinateScales(co, batch.positions, batch.crystalOffsets, frames.centers);
    for (let f = 0; f < k; f++) {
      const row = patterns.subarray(f * C, (f + 1) * C);
      frameCoordinates(
        batch.positions,
        batch.crystalOffsets,
        frames.centers,
        frames.bases,
        row,
        coords.subarray(3 * f * N, 3 * (f + 1) * N),
      );
      scaleRows(coords, 3 * f * N, batch.crystalOffsets, scales, co.node);
      const relative = relativeAll.subarray(3 * f * E, 3 * (f + 1) * E);
      frameVectors(
        batch.vectors,
        batch.edgeOffsets,
        batch.crystalOffsets,
        frames.bases,
        row,
        relative,
      );
      if (co.scale !== 1) {
        scaleRows(relative, 0, batch.edgeOffsets, scales, true, batch.crystalOffsets);
      }
    }
  }
  return {
    copies: k,
    nCrystals: C,
    numbers,
    coords,
    distances: batch.distances,
    relative: relativeAll,
    edgeFeatureLength: F,
    edgeOffsets,
    neighbors,
    crystalOffsets,
    degenerate,
  };
}

/**
 * Divides the 3-vectors of crystal c by `scales[c]` (or zeroes them when `keep` is false):
 * rows `ranges[c]..ranges[c+1]`, or with `atoms`, rows `ranges[atoms[c]]..ranges[atoms[c+1]]`
 * (edges of crystal c); `offset` is added to the flat index.
 */
function scaleRows(
  v: Float32Array,
  offset: number,
  ranges: Int32Array,
  scales: Float64Array,
  keep: boolean,
  atoms?: Int32Array,
): void {
  for (let c = 0; c < scales.length; c++) {
    const lo = atoms ? ranges[atoms[c]] : ranges[c],
      hi = atoms ? ranges[atoms[c + 1]] : ranges[c + 1];
    const s = keep ? 1 / scales[c] : 0;
    if (s === 1) continue;
    for (let i = offset + 3 * lo; i < offset + 3 * hi; i++) v[i] *= s;
  }
}

/** CGCNN's Gaussian basis: 41 centres 0, 0.2, …, 8 Å, σ = 0.2 Å (crystal/rbf.ts defaults). */
const GAUSSIANS = { start: 0, step: 0.2, sigma: 0.2 } as const;

/**
 * The `[k·E, F]` edge features on the host (Gaussians, then the relative vectors): what the
 * device builds in `uploadInputs`, for checks and for the host-features path.
 */
export function hostEdgeFeatures(h: HostInputs): Float32Array {
  const E = h.distances.length, F = h.edgeFeatureLength, G = gaussianSize();
  const out = new Float32Array(h.copies * E * F);
  for (let f = 0; f < h.copies; f++) {
    gaussianExpandInto(h.distances, out, f * E * F, { stride: F, ...gaussianOptions() });
    if (!h.relative) continue;
    for (let e = 0; e < E; e++) {
      const o = (f * E + e) * F + G, r = 3 * (f * E + e);
      out[o] = h.relative[r];
      out[o + 1] = h.relative[r + 1];
      out[o + 2] = h.relative[r + 2];
    }
  }
  return out;
}

function gaussianOptions() {
  const { start, step, sigma } = GAUSSIANS;
  return { min: start, max: start + (gaussianSize() - 1) * step, step, sigma };
}

/** Where the Gaussian edge features are built: on the device (default) or on the host. */
export type GaussianPlace = "device" | "host";

/**
 * Uploads host inputs in one packed copy (the one host→device transfer of a step besides the
 * targets) and builds the edge features on the device: Gaussians from the distances
 * (`gaussians: "device"`, default) or the host-built features uploaded whole (`"host"`, the
 * earlier path, kept for comparison). The neighbour index carries `scatterRows`, so the CUDA
 * backend scatters through it deterministically.
 */
export function uploadInputs(
  backend: Backend,
  h: HostInputs,
  options: { gaussians?: GaussianPlace } = {},
): DeviceInputs {
  const nAtoms = h.numbers.length, nEdges = h.neighbors.length;
  const E = h.distances.length, F = h.edgeFeatureLength, k = h.copies;
  const onDevice = (options.gaussians ?? "device") === "device";
  const parts: BatchPart[] = [
    { data: h.numbers },
    { data: h.edgeOffsets },
    { data: h.neighbors, scatterRows: nAtoms },
    { data: h.crystalOffsets },
    { data: onDevice ? h.distances : hostEdgeFeatures(h) },
  ];
  if (onDevice && h.relative) parts.push({ data: h.relative });
  if (h.coords) parts.push({ data: h.coords });
  if (k > 1) {
    const C = h.nCrystals;
    const order = new Int32Array(C * k);
    const offsets = new Int32Array(C + 1);
    for (let c = 0; c < C; c++) {
      for (let f = 0; f < k; f++) order[c * k + f] = f * C + c;
      offsets[c + 1] = (c + 1) * k;
    }
    parts.push({ data: order }, { data: offsets });
  }
  const stored = backend.uploadBatch(parts);
  const wrap = (i: number, shape: number[]) => new Tensor(backend, stored[i], shape);
  let at = 5;
  const numbers = wrap(0, [nAtoms]), edgeOffsets = wrap(1, [nAtoms + 1]);
  const neighbors = wrap(2, [nEdges]), crystalOffsets = wrap(3, [h.crystalOffsets.length]);
  let edgeFeatures: Tensor;
  if (onDevice) {
    const distances = stored[4];
    edgeFeatures = zeros(backend, [nEdges, F]);
    const G = gaussianSize();
    for (let f = 0; f < k; f++) {
      backend.gaussianExpand({
        distances,
        out: edgeFeatures.storage,
        outOffset: f * E * F,
        rows: E,
        ld: F,
        col: 0,
        centres: G,
        ...GAUSSIANS,
      });
    }
    backend.free(distances);
    if (h.relative) {
      const relative = stored[at++];
      backend.copyCols({
        ...{ src: relative, srcLd: 3, srcCol: 0, dst: edgeFeatures.storage, dstLd: F, dstCol: G },
        ...{ rows: nEdges, cols: 3, accumulate: false },
      });
      backend.free(relative);
    }
  } else {
    edgeFeatures = wrap(4, [nEdges, F]);
  }
  const coords = h.coords ? wrap(at++, [nAtoms, 3]) : null;
  const copyOrder = k > 1 ? wrap(at++, [h.nCrystals * k]) : null;
  const copyOffsets = k > 1 ? wrap(at++, [h.nCrystals + 1]) : null;
  return {
    copies: k,
    nCrystals: h.nCrystals,
    nAtoms,
    nEdges,
    numbers,
    coords,
    edgeFeatures,
    edgeOffsets,
    neighbors,
    crystalOffsets,
    copyOrder,
    copyOffsets,
  };
}
