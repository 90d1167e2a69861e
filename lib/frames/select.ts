/**
 * Frames for a batch: which base each crystal uses (PCA, lattice or hybrid), which sign
 * patterns each frame copy uses, and the frame coordinates / edge vectors written into
 * preallocated float32 arrays (called once per batch; frame copies are a batch dimension,
 * the caller stacks k copies, it does not copy the batch per frame).
 * @module
 */

import { checkSegments } from "./_checks.ts";
import { latticeFrames } from "./lattice.ts";
import { DEFAULT_GAP_TOLERANCE, pcaFrames } from "./pca.ts";
import { SIGN_FRAME_COUNT, signOf } from "./signs.ts";

/**
 * Which canonical base a crystal's frames are built on:
 * - `"pca"`: eigenvectors of the position covariance (FAENet, Duval et al. ICML 2023);
 *   ill-defined when the eigengap is small;
 * - `"lattice"`: the polar factor of the lattice matrix (`lattice.ts`); unique for any
 *   non-singular cell but tied to the cell basis;
 * - `"hybrid"`: PCA where the relative eigengap is ≥ the tolerance, lattice otherwise.
 *
 * The 8 sign patterns are applied to every base alike: for PCA the set of 8 is what is
 * invariant; for a lattice base each signed frame is invariant on its own, so averaging over
 * them is still exact. Limit of `"hybrid"`: a crystal whose gap sits at the tolerance may pick
 * different sources for a rotated copy (gap roundoff ~1e-16), a discontinuity only there.
 */
export type FrameKind = "pca" | "lattice" | "hybrid";

/**
 * How many sign frames per crystal a forward pass uses:
 * - `"none"`: no frames (the "w/o FA" ablation): one copy, pattern 0; the caller feeds raw
 *   coordinates and does not centre or rotate (frameIndices still returns zeros for shape);
 * - `"stochastic"`: one frame per crystal drawn uniformly per call (k = 1, FAENet/paper);
 * - `"all"`: all 8 frames, copy f uses pattern f (exact frame averaging);
 * - `{ sample: k }`: k distinct patterns per crystal drawn uniformly without replacement.
 */
export type FrameMode = "none" | "stochastic" | "all" | { sample: number };

/**
 * Options of {@linkcode computeFrames}.
 */
export interface FrameOptions {
  /** Relative eigengap threshold (default {@linkcode DEFAULT_GAP_TOLERANCE}). */
  gapTolerance?: number;
}

/**
 * Canonical frame bases of a batch (one entry per crystal unless noted).
 *
 * @example
 * ```ts
 * import { type BatchFrames, computeFrames, loadGraphs } from "@facgcnn/toolkit";
 * const { graphs } = await loadGraphs("synthetic:20", { cacheDir: null });
 * const f: BatchFrames = computeFrames(graphs.positions, graphs.atomOffsets, graphs.lattices, "hybrid");
 * console.log(f.source); // 0 = PCA base, 1 = lattice base, per crystal
 * ```
 */
export interface BatchFrames {
  /** `[nCrystals, 3]` centres t (mean atom position, for every kind). */
  centers: Float64Array;
  /** `[nCrystals, 9]` row-major canonical base U (before signs); columns are frame axes. */
  bases: Float64Array;
  /**
   * `[nCrystals]` 1 where the chosen base is ill-defined: PCA with a small gap (`"pca"`, or
   * `"hybrid"` with a singular cell), or a singular cell (`"lattice"`).
   */
  degenerate: Uint8Array;
  /** `[nCrystals]` 0 = PCA base, 1 = lattice base. */
  source: Uint8Array;
  /** `[nCrystals]` PCA relative eigengap (computed for every kind, for reports). */
  relativeGap: Float64Array;
}

/**
 * Canonical frames of every crystal of a batch.
 *
 * @param positions `[nAtoms, 3]` Cartesian positions (Å).
 * @param segments `[nCrystals + 1]` atom ranges per crystal.
 * @param lattices `[nCrystals, 9]` lattices (rows a, b, c); required unless `kind` is `"pca"`.
 * @param kind base kind.
 * @param options gap tolerance.
 * @returns centres, bases, degeneracy flags, source of each base, PCA gaps.
 *
 * @example
 * ```ts
 * import { computeFrames, loadGraphs } from "@facgcnn/toolkit";
 * const { graphs } = await loadGraphs("synthetic:20", { cacheDir: null });
 * const { bases, degenerate } = computeFrames(graphs.positions, graphs.atomOffsets, graphs.lattices, "pca");
 * console.log(bases.length / 9, degenerate.reduce((a, b) => a + b, 0));
 * ```
 */
export function computeFrames(
  positions: Float64Array,
  segments: Int32Array,
  lattices: Float64Array | null | undefined,
  kind: FrameKind,
  options: FrameOptions = {},
): BatchFrames {
  const pca = pcaFrames(positions, segments, options);
  const n = segments.length - 1;
  if (kind === "pca") {
    return {
      centers: pca.centers,
      bases: pca.rotations,
      degenerate: pca.degenerate,
      source: new Uint8Array(n),
      relativeGap: pca.relativeGap,
    };
  }
  if (kind !== "lattice" && kind !== "hybrid") throw new TypeError(`unknown frame kind ${kind}`);
  if (!lattices || lattices.length < 9 * n) {
    throw new RangeError(`computeFrames: kind "${kind}" needs [nCrystals, 9] lattices`);
  }
  if (kind === "hybrid") return hybridFrames(pca, lattices, n);
  const singular = new Uint8Array(n);
  const lat = latticeFrames(lattices, n, singular);
  return {
    centers: pca.centers,
    bases: lat,
    degenerate: singular,
    source: new Uint8Array(n).fill(1),
    relativeGap: pca.relativeGap,
  };
}

/**
 * Hybrid frames: PCA where its eigengap is clear, the lattice's polar factor where it is not
 * (unless the cell is singular too: then the PCA base stays, flagged degenerate). The polar
 * factor is computed for those crystals only (most have a clear gap, and it cost 3× the PCA).
 */
function hybridFrames(
  pca: ReturnType<typeof pcaFrames>,
  lattices: Float64Array,
  n: number,
): BatchFrames {
  const bases = pca.rotations;
  const degenerate = new Uint8Array(n);
  const source = new Uint8Array(n);
  const needed: number[] = [];
  for (let c = 0; c < n; c++) if (pca.degenerate[c]) needed.push(c);
  const cells = new Float64Array(9 * needed.length);
  needed.forEach((c, i) => cells.set(lattices.subarray(9 * c, 9 * c + 9), 9 * i));
  const singular = new Uint8Array(needed.length);
  const lat = latticeFrames(cells, needed.length, singular);
  needed.forEach((c, i) => {
    if (singular[i]) {
      degenerate[c] = 1;
      return;
    }
    source[c] = 1;
    bases.set(lat.subarray(9 * i, 9 * i + 9), 9 * c);
  });
  return { centers: pca.centers, bases, degenerate, source, relativeGap: pca.relativeGap };
}

/**
 * Frame copies k of one forward pass in `mode`: 1 (`"none"`, `"stochastic"`), 8 (`"all"`), or
 * the sample size (the rows of {@linkcode frameIndices}, without drawing any).
 */
export function frameCopies(mode: FrameMode): number {
  if (mode === "none" || mode === "stochastic") return 1;
  if (mode === "all") return SIGN_FRAME_COUNT;
  return mode.sample;
}

/**
 * Sign pattern of every crystal for every frame copy of one forward pass.
 *
 * @param mode frame mode (see {@linkcode FrameMode}).
 * @param nCrystals number of crystals in the batch.
 * @param rng uniform [0, 1) source (only called for `"stochastic"` and `{ sample }`).
 * @returns `[k, nCrystals]` pattern indices 0..7; k = 1 (`"none"`, `"stochastic"`),
 *   8 (`"all"`), or the sample size.
 */
export function frameIndices(mode: FrameMode, nCrystals: number, rng: () => number): Int32Array {
  if (!Number.isInteger(nCrystals) || nCrystals < 0) throw new RangeError(`bad nCrystals`);
  const draw = (m: number) => Math.min(m - 1, Math.floor(rng() * m)); // guards rng() = 1
  if (mode === "none") return new Int32Array(nCrystals);
  if (mode === "stochastic") {
    const out = new Int32Array(nCrystals);
    for (let c = 0; c < nCrystals; c++) out[c] = draw(SIGN_FRAME_COUNT);
    return out;
  }
  if (mode === "all") {
    const out = new Int32Array(SIGN_FRAME_COUNT * nCrystals);
    for (let f = 0; f < SIGN_FRAME_COUNT; f++) out.fill(f, f * nCrystals, (f + 1) * nCrystals);
    return out;
  }
  const k = typeof mode === "object" && mode !== null ? mode.sample : NaN;
  if (!Number.isInteger(k) || k < 1 || k > SIGN_FRAME_COUNT) {
    throw new RangeError(
      `frame mode must be none|stochastic|all|{sample: 1..8}, got ${JSON.stringify(mode)}`,
    );
  }
  const out = new Int32Array(k * nCrystals);
  const perm = new Int32Array(SIGN_FRAME_COUNT);
  for (let c = 0; c < nCrystals; c++) {
    // partial Fisher–Yates: the first k entries are a uniform k-subset in random order
    for (let f = 0; f < SIGN_FRAME_COUNT; f++) perm[f] = f;
    for (let j = 0; j < k; j++) {
      const pick = j + draw(SIGN_FRAME_COUNT - j);
      const t = perm[j];
      perm[j] = perm[pick];
      perm[pick] = t;
      out[j * nCrystals + c] = perm[j];
    }
  }
  return out;
}

/**
 * Frame coordinates of one frame copy: x̃ = (x − t)·U·diag(s) per atom.
 *
 * @param positions `[nAtoms, 3]` Cartesian positions (Å).
 * @param segments `[nCrystals + 1]` atom ranges per crystal (absolute atom indices).
 * @param centers `[nCrystals, 3]` centres t.
 * @param bases `[nCrystals, 9]` canonical bases U.
 * @param patterns `[nCrystals]` sign pattern per crystal (one row of {@linkcode frameIndices}).
 * @param out `[nAtoms, 3]` output (same atom indexing as `positions`; e.g. a row of a
 *   `[k, nAtoms, 3]` stack via `subarray`).
 */
export function frameCoordinates(
  positions: Float64Array,
  segments: Int32Array,
  centers: Float64Array,
  bases: Float64Array,
  patterns: Int32Array,
  out: Float32Array,
): void {
  const n = checkSegments(segments, Math.min(positions.length, out.length) / 3, "frameCoordinates");
  checkPerCrystal(n, centers, bases, patterns, "frameCoordinates");
  const m = new Float64Array(9);
  for (let c = 0; c < n; c++) {
    signedBase(bases, patterns[c], c, m);
    const tx = centers[3 * c], ty = centers[3 * c + 1], tz = centers[3 * c + 2];
    for (let i = segments[c]; i < segments[c + 1]; i++) {
      const x = positions[3 * i] - tx, y = positions[3 * i + 1] - ty, z = positions[3 * i + 2] - tz;
      out[3 * i] = x * m[0] + y * m[3] + z * m[6];
      out[3 * i + 1] = x * m[1] + y * m[4] + z * m[7];
      out[3 * i + 2] = x * m[2] + y * m[5] + z * m[8];
    }
  }
}

/**
 * Frame edge vectors of one frame copy: (x_j − x_i)·U·diag(s) per edge (no centring:
 * differences do not depend on t).
 *
 * @param vectors `[nEdges, 3]` x_j(image) − x_i (Å).
 * @param edgeOffsets `[nAtoms + 1]` global CSR edge ranges per atom (atom a owns edges
 *   `edgeOffsets[a] .. edgeOffsets[a+1]`), so crystal c owns edges
 *   `edgeOffsets[segments[c]] .. edgeOffsets[segments[c+1]]`.
 * @param segments `[nCrystals + 1]` atom ranges per crystal.
 * @param bases `[nCrystals, 9]` canonical bases U.
 * @param patterns `[nCrystals]` sign pattern per crystal.
 * @param out `[nEdges, 3]` output (same edge indexing as `vectors`).
 */
export function frameVectors(
  vectors: Float32Array | Float64Array,
  edgeOffsets: Int32Array,
  segments: Int32Array,
  bases: Float64Array,
  patterns: Int32Array,
  out: Float32Array,
): void {
  const n = checkSegments(segments, edgeOffsets.length - 1, "frameVectors");
  checkPerCrystal(n, null, bases, patterns, "frameVectors");
  const nEdges = Math.min(vectors.length, out.length) / 3;
  const m = new Float64Array(9);
  for (let c = 0; c < n; c++) {
    const lo = edgeOffsets[segments[c]], hi = edgeOffsets[segments[c + 1]];
    if (lo > hi || hi > nEdges) {
      throw new RangeError(`frameVectors: bad edge range of crystal ${c}`);
    }
    signedBase(bases, patterns[c], c, m);
    for (let e = lo; e < hi; e++) {
      const x = vectors[3 * e], y = vectors[3 * e + 1], z = vectors[3 * e + 2];
      out[3 * e] = x * m[0] + y * m[3] + z * m[6];
      out[3 * e + 1] = x * m[1] + y * m[4] + z * m[7];
      out[3 * e + 2] = x * m[2] + y * m[5] + z * m[8];
    }
  }
}

/** U·diag(s) of crystal c into m (row-major). */
function signedBase(bases: Float64Array, pattern: number, c: number, m: Float64Array): void {
  if (!(pattern >= 0 && pattern < SIGN_FRAME_COUNT)) {
    throw new RangeError(`sign pattern of crystal ${c} must be 0..7, got ${pattern}`);
  }
  for (let k = 0; k < 3; k++) {
    const s = signOf(pattern, k);
    for (let i = 0; i < 3; i++) m[3 * i + k] = s * bases[9 * c + 3 * i + k];
  }
}

function checkPerCrystal(
  n: number,
  centers: Float64Array | null,
  bases: Float64Array,
  patterns: Int32Array,
  who: string,
): void {
  if ((centers && centers.length < 3 * n) || bases.length < 9 * n || patterns.length < n) {
    throw new RangeError(`${who}: centers [n,3], bases [n,9], patterns [n] too short for n=${n}`);
  }
}

/**
 * Degeneracy counts of a set of crystals, for `summary.json`. Counts nest: oneAtom ⊆ exactDegenerate ⊆ degenerate.
 *
 * @example
 * ```ts
 * import { computeFrames, type DegeneracyReport, degeneracyReport, loadGraphs } from "@facgcnn/toolkit";
 * const { graphs } = await loadGraphs("synthetic:100", { cacheDir: null });
 * const f = computeFrames(graphs.positions, graphs.atomOffsets, graphs.lattices, "pca");
 * const r: DegeneracyReport = degeneracyReport({ relativeGap: f.relativeGap, segments: graphs.atomOffsets });
 * console.log(r.degenerateFraction);
 * ```
 */
export interface DegeneracyReport {
  /** Crystals counted. */
  total: number;
  /** Relative eigengap < `gapTolerance`. */
  degenerate: number;
  /** Relative eigengap < `exactTolerance` (symmetry-exact degeneracy, up to roundoff). */
  exactDegenerate: number;
  /** Crystals with at most one atom (C = 0). */
  oneAtom: number;
  /** degenerate / total (0 when total = 0). */
  degenerateFraction: number;
  /** Crystals whose base came from the lattice (when `source` was given, else 0). */
  latticeBases: number;
  /** Smallest relative gap seen (NaN when total = 0). */
  minRelativeGap: number;
  /** The degeneracy threshold used. */
  gapTolerance: number;
  /** The exact-degeneracy threshold used. */
  exactTolerance: number;
}

/**
 * Count degenerate PCA frames.
 *
 * @param input `relativeGap` `[nCrystals]` (from {@linkcode computeFrames} or `pcaFrames`),
 *   `segments` `[nCrystals + 1]`, optional `source` `[nCrystals]`.
 * @param options `gapTolerance` (default {@linkcode DEFAULT_GAP_TOLERANCE}),
 *   `exactTolerance` (default 1e-8).
 * @returns the counts.
 *
 * @example
 * ```ts
 * import { computeFrames, degeneracyReport, loadGraphs } from "@facgcnn/toolkit";
 * const { graphs } = await loadGraphs("synthetic:100", { cacheDir: null });
 * const f = computeFrames(graphs.positions, graphs.atomOffsets, graphs.lattices, "pca");
 * console.log(degeneracyReport({ relativeGap: f.relativeGap, segments: graphs.atomOffsets }));
 * ```
 */
export function degeneracyReport(
  input: { relativeGap: Float64Array; segments: Int32Array; source?: Uint8Array },
  options: { gapTolerance?: number; exactTolerance?: number } = {},
): DegeneracyReport {
  const gapTolerance = options.gapTolerance ?? DEFAULT_GAP_TOLERANCE;
  const exactTolerance = options.exactTolerance ?? 1e-8;
  const { relativeGap, segments, source } = input;
  const total = segments.length - 1;
  if (relativeGap.length < total) throw new RangeError("degeneracyReport: relativeGap too short");
  let degenerate = 0, exactDegenerate = 0, oneAtom = 0, latticeBases = 0;
  let minRelativeGap = total > 0 ? Infinity : NaN;
  for (let c = 0; c < total; c++) {
    const g = relativeGap[c];
    if (g < gapTolerance) degenerate++;
    if (g < exactTolerance) exactDegenerate++;
    if (segments[c + 1] - segments[c] <= 1) oneAtom++;
    if (source && source[c] === 1) latticeBases++;
    minRelativeGap = Math.min(minRelativeGap, g);
  }
  return {
    total,
    degenerate,
    exactDegenerate,
    oneAtom,
    degenerateFraction: total > 0 ? degenerate / total : 0,
    latticeBases,
    minRelativeGap,
    gapTolerance,
    exactTolerance,
  };
}
