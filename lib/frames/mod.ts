/**
 * Frames for FACGCNN (SPEC §3), host side in float64: PCA frames, the 8 sign frames,
 * lattice (polar) frames, frame selection per batch, and degeneracy counts.
 * @module
 */

export { JACOBI_MAX_SWEEPS, symmetricEigen3Batched } from "./eigen3.ts";
export {
  DEFAULT_GAP_TOLERANCE,
  type PcaFrames,
  pcaFrames,
  type PcaOptions,
  relativeEigengap,
} from "./pca.ts";
export { applySigns, SIGN_FRAME_COUNT, SIGN_PATTERNS, signOf } from "./signs.ts";
export { latticeFrames, SINGULAR_CELL_TOLERANCE } from "./lattice.ts";
export {
  type BatchFrames,
  computeFrames,
  type DegeneracyReport,
  degeneracyReport,
  frameCoordinates,
  frameIndices,
  type FrameKind,
  type FrameMode,
  type FrameOptions,
  frameVectors,
} from "./select.ts";
