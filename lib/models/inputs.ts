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

import type { Backend, BatchPart, Storage } from "../backend/backend.ts";
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
import { foldFrameMatrices } from "../frames/matrices.ts";
import { DEFAULT_GAP_TOLERANCE } from "../frames/pca.ts";
import type { GraphBatch } from "../graph/batch.ts";
import { type EdgeSource, edgeSourceFeatures } from "../tensor/edge_source.ts";
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
  /**
   * Where the frame transforms are applied: `"host"` (default, the reference: the k copies of
   * coordinates and relative vectors built here and uploaded) or `"device"` (the host sends
   * the positions and vectors once plus k·C tiny 3×3 matrices; `Backend.applyFrames` builds
   * the copies).
   */
  framePlace?: FramePlace;
  /**
   * With `framePlace: "device"`, where the frames themselves are computed: `"host"` (default:
   * lib/frames here, 3×3 matrices uploaded) or `"device"` (`Backend.buildFrames`: centre,
   * covariance, eigensolve, base selection, signs and scale on the device from the float64
   * positions; the degenerate count stays on the device until the caller reads it).
   */
  frameBuild?: FramePlace;
}

/** Where the frame-transformed coordinates are built (see {@linkcode InputSpec.framePlace}). */
export type FramePlace = "host" | "device";

/**
 * What the device needs to build the k frame copies itself (`framePlace: "device"`): about
 * 4·(3N + 3E + 18kC) bytes instead of 4·3k(N + E).
 */
export interface FrameParts {
  /**
   * `[N, 3]` positions minus their crystal's frame centre (centred in float64, then rounded);
   * null when the device builds the frames (`build`).
   */
  positions: Float32Array | null;
  /** `[E, 3]` relative vectors x_j(image) − x_i (Å). */
  vectors: Float32Array;
  /** `[k·C, 9]` row-major U·diag(signs)/scale per copy and crystal (zero: no node inputs). */
  atomMatrices: Float32Array | null;
  /** `[k·C, 9]` the same for relative vectors. */
  edgeMatrices: Float32Array | null;
  /** `[C + 1]` atom ranges per crystal. */
  atomRanges: Int32Array;
  /** `[C + 1]` edge ranges per crystal. */
  edgeRanges: Int32Array;
  /** What `Backend.buildFrames` needs when the device computes the frames, else null. */
  build: FrameBuildParts | null;
}

/** The host's share when the device computes the frames (`frameBuild: "device"`). */
export interface FrameBuildParts {
  /** `[N, 6]` the float64 positions' words (the eigenbasis of tied eigenvalues needs them). */
  positions: Int32Array;
  /** `[C, 18]` the float64 cells' words, or null for PCA bases. */
  lattices: Int32Array | null;
  /** `[k, C]` sign pattern per copy and crystal (drawn here, so the random stream is the host's). */
  patterns: Int32Array;
  /** Base kind, gap tolerance and coordinate inputs. */
  kind: FrameKind;
  gapTolerance: number;
  coordinates: Required<CoordinateInputs>;
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
  /** FACGCNN with `framePlace: "device"`: `coords` and `relative` are null, built from these. */
  frameParts?: FrameParts | null;
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
  /** `[k·E, F]` edge features (Gaussians, then FACGCNN's frame vectors). */
  edgeFeatures: Tensor;
  /**
   * The same features as their `[E]` distances and `[k·E, 3]` frame vectors (null when the
   * host built the features): the fused convolution forms the Gaussians inside its products.
   */
  edgeSource: EdgeSource | null;
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
  let frameParts: FrameParts | null = null;
  let degenerate = 0;
  if (fa && spec.framePlace === "device" && spec.frameBuild === "device" && mode !== "none") {
    frameParts = deviceBuildParts(batch, spec, patterns);
  } else if (fa) {
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
    if (spec.framePlace === "device") {
      frameParts = deviceFrameParts(batch, frames.centers, frames.bases, patterns, scales, co, k);
    }
    if (!frameParts) {
      coords = new Float32Array(k * N * 3);
      relativeAll = new Float32Array(k * E * 3);
    }
    for (let f = 0; f < k; f++) {
      if (!coords || !relativeAll) break; // the device builds the copies
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
    frameParts,
    edgeFeatureLength: F,
    edgeOffsets,
    neighbors,
    crystalOffsets,
    degenerate,
  };
}

/**
 * The host's share of the device frame path: centred float32 positions, the vectors, and per
 * copy and crystal the 3×3 matrix U·diag(s)/scale that `frameCoordinates`/`frameVectors` and
 * `scaleRows` apply on the host (the same maths, folded into one matrix).
 */
function deviceFrameParts(
  batch: GraphBatch,
  centers: Float64Array,
  bases: Float64Array,
  patterns: Int32Array,
  scales: Float64Array,
  co: Required<CoordinateInputs>,
  k: number,
): FrameParts {
  const { nCrystals: C } = batch;
  const seg = batch.crystalOffsets;
  const positions = new Float32Array(batch.positions.length);
  for (let c = 0; c < C; c++) {
    for (let i = seg[c]; i < seg[c + 1]; i++) {
      for (let d = 0; d < 3; d++) {
        positions[3 * i + d] = batch.positions[3 * i + d] - centers[3 * c + d];
      }
    }
  }
  const { atom, edge } = foldFrameMatrices(bases, patterns, scales, co, k);
  const edgeRanges = new Int32Array(C + 1);
  for (let c = 0; c <= C; c++) edgeRanges[c] = batch.edgeOffsets[seg[c]];
  return {
    positions,
    vectors: Float32Array.from(batch.vectors),
    atomMatrices: atom,
    edgeMatrices: edge,
    atomRanges: seg,
    edgeRanges,
    build: null,
  };
}

/** The host's share when the device computes the frames: float64 words, patterns, ranges. */
function deviceBuildParts(batch: GraphBatch, spec: InputSpec, patterns: Int32Array): FrameParts {
  const { nCrystals: C } = batch, seg = batch.crystalOffsets;
  const words = (a: Float64Array) => new Int32Array(a.buffer, a.byteOffset, 2 * a.length);
  const needsCell = spec.frameKind !== "pca";
  if (needsCell && (!batch.lattices || batch.lattices.length < 9 * C)) {
    throw new RangeError(`frame kind "${spec.frameKind}" needs [nCrystals, 9] lattices`);
  }
  const edgeRanges = new Int32Array(C + 1);
  for (let c = 0; c <= C; c++) edgeRanges[c] = batch.edgeOffsets[seg[c]];
  return {
    positions: null,
    vectors: Float32Array.from(batch.vectors),
    atomMatrices: null,
    edgeMatrices: null,
    atomRanges: seg,
    edgeRanges,
    build: {
      positions: words(batch.positions.subarray(0, 3 * batch.nAtoms)),
      lattices: needsCell ? words(batch.lattices!.subarray(0, 9 * C)) : null,
      patterns,
      kind: spec.frameKind,
      gapTolerance: spec.gapTolerance ?? DEFAULT_GAP_TOLERANCE,
      coordinates: resolveCoordinateInputs(spec.coordinates),
    },
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

/** Writes `[rows, 3]` relative vectors into the last 3 feature columns. */
function copyRelative(backend: Backend, relative: Storage, edgeFeatures: Tensor, F: number): void {
  const G = gaussianSize(), rows = edgeFeatures.shape[0];
  backend.copyCols({
    ...{ src: relative, srcLd: 3, srcCol: 0, dst: edgeFeatures.storage, dstLd: F, dstCol: G },
    ...{ rows, cols: 3, accumulate: false },
  });
}

/** Where the Gaussian edge features are built: on the device (default) or on the host. */
export type GaussianPlace = "device" | "host";

/** Options of {@linkcode uploadInputs}. */
export interface UploadOptions {
  /** Where the Gaussians are expanded (default `"device"`). */
  gaussians?: GaussianPlace;
  /**
   * `[1]` int32 device counter the degenerate crystals are added to when the device builds the
   * frames (`frameBuild: "device"`); without it they are not counted.
   */
  degenerate?: Storage;
}

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
  options: UploadOptions = {},
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
  const fp = h.frameParts;
  const build = fp?.build ?? null;
  if (fp && build) {
    parts.push({ data: build.positions }, { data: fp.vectors }, { data: build.patterns });
    parts.push({ data: fp.atomRanges }, { data: fp.edgeRanges });
    if (build.lattices) parts.push({ data: build.lattices });
  } else if (fp) {
    parts.push({ data: fp.positions! }, { data: fp.vectors }, { data: fp.atomMatrices! });
    parts.push({ data: fp.edgeMatrices! }, { data: fp.atomRanges }, { data: fp.edgeRanges });
  }
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
  // With the Gaussians built on the device, the `[k·E, F]` features are made only when first
  // read (the composed convolution): the fused one forms them from the distances itself.
  let edgeFeatures: Tensor | null = onDevice ? null : wrap(4, [nEdges, F]);
  const distances = onDevice ? wrap(4, [E]) : null;
  let relative: Tensor | null = onDevice && h.relative ? wrap(at++, [nEdges, 3]) : null;
  let coords = h.coords ? wrap(at++, [nAtoms, 3]) : null;
  if (fp) {
    const C = h.nCrystals, N = fp.atomRanges[C];
    let positions: Storage, vectors: Storage, atomM: Storage, edgeM: Storage;
    let atomR: Storage, edgeR: Storage;
    if (build) {
      const [words, v, patterns, ar, er] = stored.slice(at, at + 5);
      const lattices = build.lattices ? stored[at + 5] : null;
      at += build.lattices ? 6 : 5;
      [vectors, atomR, edgeR] = [v, ar, er];
      positions = backend.alloc("float32", 3 * N, false);
      atomM = backend.alloc("float32", 9 * k * C, false);
      edgeM = backend.alloc("float32", 9 * k * C, false);
      const co = build.coordinates;
      backend.buildFrames({
        ...{ positions: words, atomRanges: atomR, lattices, patterns, kind: build.kind },
        ...{ gapTolerance: build.gapTolerance, scale: co.scale, node: co.node, copies: k },
        ...{ segments: C, rows: N, centred: positions, atomMatrices: atomM, edgeMatrices: edgeM },
        degenerate: options.degenerate ?? null,
      });
      for (const s of [words, patterns, lattices]) if (s) backend.free(s);
    } else {
      [positions, vectors, atomM, edgeM, atomR, edgeR] = stored.slice(at, at + 6);
      at += 6;
    }
    coords = new Tensor(backend, backend.alloc("float32", 3 * nAtoms, false), [nAtoms, 3]);
    relative = new Tensor(backend, backend.alloc("float32", 3 * nEdges, false), [nEdges, 3]);
    for (let f = 0; f < k; f++) {
      const common = { centres: null, matrixOffset: 9 * f * C, segments: C };
      backend.applyFrames({
        ...common,
        ...{ src: positions, offsets: atomR, matrices: atomM, out: coords.storage },
        ...{ outOffset: 3 * f * N, rows: N },
      });
      backend.applyFrames({
        ...common,
        ...{ src: vectors, offsets: edgeR, matrices: edgeM, out: relative.storage },
        ...{ outOffset: 3 * f * E, rows: E },
      });
    }
    for (const s of [positions, vectors, atomM, edgeM, atomR, edgeR]) backend.free(s);
    if (edgeFeatures) copyRelative(backend, relative.storage, edgeFeatures, F); // host Gaussians
  }
  const copyOrder = k > 1 ? wrap(at++, [h.nCrystals * k]) : null;
  const copyOffsets = k > 1 ? wrap(at++, [h.nCrystals + 1]) : null;
  return {
    copies: k,
    nCrystals: h.nCrystals,
    nAtoms,
    nEdges,
    numbers,
    coords,
    get edgeFeatures(): Tensor {
      return edgeFeatures ??= edgeSourceFeatures(this.edgeSource!);
    },
    edgeSource: distances
      ? {
        distances,
        extra: relative,
        rows: nEdges,
        basis: { centres: gaussianSize(), ...GAUSSIANS },
      }
      : null,
    edgeOffsets,
    neighbors,
    crystalOffsets,
    copyOrder,
    copyOffsets,
  };
}
