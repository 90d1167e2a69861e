/**
 * Model inputs of one batch: edge features (Gaussian distances, plus frame relative vectors
 * for FACGCNN), frame coordinates, and the k frame copies stacked as a batch dimension.
 *
 * Copies are laid out copy-major: copy f of the batch occupies atoms `f·N .. (f+1)·N`,
 * edges `f·E .. (f+1)·E` and crystals `f·C .. (f+1)·C`; only coordinates and relative
 * vectors differ between copies. The model averages the k outputs of each crystal at the end.
 * @module
 */

import type { Backend } from "../backend/backend.ts";
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
import { tensor } from "../tensor/ops.ts";
import type { Tensor } from "../tensor/tensor.ts";

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
  /** `[k·E, F]` edge features: 41 Gaussians (+ 3 frame vector components for FACGCNN). */
  edgeFeatures: Float32Array;
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
  const G = gaussianSize();

  const numbers = new Int32Array(k * N);
  const edgeOffsets = new Int32Array(k * N + 1);
  const neighbors = new Int32Array(k * E);
  const crystalOffsets = new Int32Array(k * C + 1);
  const edgeFeatures = new Float32Array(k * E * F);
  for (let f = 0; f < k; f++) {
    numbers.set(batch.numbers, f * N);
    for (let a = 0; a < N; a++) edgeOffsets[f * N + a + 1] = f * E + batch.edgeOffsets[a + 1];
    for (let e = 0; e < E; e++) neighbors[f * E + e] = batch.neighbors[e] + f * N;
    for (let c = 0; c < C; c++) crystalOffsets[f * C + c + 1] = f * N + batch.crystalOffsets[c + 1];
    gaussianExpandInto(batch.distances, edgeFeatures, f * E * F, { stride: F });
  }

  let coords: Float32Array | null = null;
  let degenerate = 0;
  if (fa) {
    coords = new Float32Array(k * N * 3);
    const relative = new Float32Array(E * 3);
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
      const base = f * E * F;
      for (let e = 0; e < E; e++) {
        const o = base + e * F + G;
        edgeFeatures[o] = relative[3 * e];
        edgeFeatures[o + 1] = relative[3 * e + 1];
        edgeFeatures[o + 2] = relative[3 * e + 2];
      }
    }
  }
  return {
    copies: k,
    nCrystals: C,
    numbers,
    coords,
    edgeFeatures,
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

/** Uploads host inputs (the one host→device transfer of a step besides the targets). */
export function uploadInputs(backend: Backend, h: HostInputs): DeviceInputs {
  const nAtoms = h.numbers.length, nEdges = h.neighbors.length;
  let copyOrder: Tensor | null = null, copyOffsets: Tensor | null = null;
  if (h.copies > 1) {
    const C = h.nCrystals, k = h.copies;
    const order = new Int32Array(C * k);
    const offsets = new Int32Array(C + 1);
    for (let c = 0; c < C; c++) {
      for (let f = 0; f < k; f++) order[c * k + f] = f * C + c;
      offsets[c + 1] = (c + 1) * k;
    }
    copyOrder = tensor(backend, order);
    copyOffsets = tensor(backend, offsets);
  }
  return {
    copies: h.copies,
    nCrystals: h.nCrystals,
    nAtoms,
    nEdges,
    numbers: tensor(backend, h.numbers),
    coords: h.coords ? tensor(backend, h.coords, [nAtoms, 3]) : null,
    edgeFeatures: tensor(backend, h.edgeFeatures, [nEdges, h.edgeFeatureLength]),
    edgeOffsets: tensor(backend, h.edgeOffsets),
    neighbors: tensor(backend, h.neighbors),
    crystalOffsets: tensor(backend, h.crystalOffsets),
    copyOrder,
    copyOffsets,
  };
}
