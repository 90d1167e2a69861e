/**
 * The frame inputs of a batch in the form a device applies them: per frame copy and crystal one
 * 3×3 matrix U·diag(s)/scale (the canonical base, the copy's sign pattern and the coordinate
 * unit folded together; frame averaging, Puny et al. ICLR 2022), and the positions minus their
 * crystal's centre. This is the host reference of `Backend.buildFrames`: the CPU backend calls
 * it, and the CUDA kernel (native/cuda/frames3.cuh) follows it operation for operation.
 * @module
 */

import { type CoordinateInputs, coordinateScales } from "./scale.ts";
import { computeFrames, type FrameKind } from "./select.ts";
import { SIGN_FRAME_COUNT, signOf } from "./signs.ts";

/** Options of {@linkcode frameInputs}. */
export interface FrameInputOptions {
  /** Canonical base kind. */
  kind: FrameKind;
  /** Relative eigengap under which a PCA frame counts as degenerate. */
  gapTolerance?: number;
  /** Resolved coordinate inputs (unit in Å or `"rms"`; whether atoms get coordinates). */
  coordinates: Required<CoordinateInputs>;
}

/** What {@linkcode frameInputs} returns. */
export interface FrameInputs {
  /** `[N, 3]` positions minus their crystal's centre (centred in float64, then rounded). */
  centred: Float32Array;
  /** `[k, C, 9]` row-major U·diag(s)/scale per copy and crystal (zero without node inputs). */
  atomMatrices: Float32Array;
  /** `[k, C, 9]` the same for relative vectors (no division when the unit is 1 Å). */
  edgeMatrices: Float32Array;
  /** Crystals whose chosen base is ill-defined (`computeFrames`'s `degenerate` flags). */
  degenerate: number;
}

/**
 * Frame matrices and centred positions of a batch.
 *
 * @param positions `[N, 3]` Cartesian positions (Å).
 * @param segments `[C + 1]` atom ranges per crystal.
 * @param lattices `[C, 9]` cells (rows a, b, c); needed unless the kind is `"pca"`.
 * @param patterns `[k, C]` sign pattern per copy and crystal (see `frameIndices`).
 * @param copies k.
 * @param options base kind, gap tolerance, coordinate inputs.
 * @returns the centred positions, the folded matrices and the degenerate count.
 */
export function frameInputs(
  positions: Float64Array,
  segments: Int32Array,
  lattices: Float64Array | null,
  patterns: Int32Array,
  copies: number,
  options: FrameInputOptions,
): FrameInputs {
  const C = segments.length - 1;
  const frames = computeFrames(positions, segments, lattices, options.kind, {
    gapTolerance: options.gapTolerance,
  });
  const co = options.coordinates;
  const scales = coordinateScales(co, positions, segments, frames.centers);
  const { atom, edge } = foldFrameMatrices(frames.bases, patterns, scales, co, copies);
  const centred = new Float32Array(positions.length);
  for (let c = 0; c < C; c++) {
    for (let i = segments[c]; i < segments[c + 1]; i++) {
      for (let d = 0; d < 3; d++) {
        centred[3 * i + d] = positions[3 * i + d] - frames.centers[3 * c + d];
      }
    }
  }
  let degenerate = 0;
  for (let c = 0; c < C; c++) degenerate += frames.degenerate[c];
  return { centred, atomMatrices: atom, edgeMatrices: edge, degenerate };
}

/**
 * Per copy f and crystal c the matrices U_c·diag(s_{f,c})/scale_c for atoms (zero when atoms
 * get no coordinates) and for relative vectors (not divided when the unit is 1 Å): what the
 * host path's `frameCoordinates`/`frameVectors` and scaling do, folded into one matrix.
 *
 * @param bases `[C, 9]` canonical bases U.
 * @param patterns `[k, C]` sign patterns.
 * @param scales `[C]` coordinate units (Å).
 * @param co resolved coordinate inputs.
 * @param copies k.
 * @returns `atom` and `edge`, each `[k, C, 9]`.
 */
export function foldFrameMatrices(
  bases: Float64Array,
  patterns: Int32Array,
  scales: Float64Array,
  co: Required<CoordinateInputs>,
  copies: number,
): { atom: Float32Array; edge: Float32Array } {
  const C = scales.length;
  const atom = new Float32Array(9 * copies * C), edge = new Float32Array(9 * copies * C);
  for (let f = 0; f < copies; f++) {
    for (let c = 0; c < C; c++) {
      const p = patterns[f * C + c];
      if (!(p >= 0 && p < SIGN_FRAME_COUNT)) {
        throw new RangeError(`sign pattern of crystal ${c} must be 0..7, got ${p}`);
      }
      const node = co.node ? 1 / scales[c] : 0, unit = co.scale !== 1 ? 1 / scales[c] : 1;
      const o = 9 * (f * C + c);
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          const m = signOf(p, j) * bases[9 * c + 3 * i + j];
          atom[o + 3 * i + j] = m * node;
          edge[o + 3 * i + j] = m * unit;
        }
      }
    }
  }
  return { atom, edge };
}
