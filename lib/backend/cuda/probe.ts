/**
 * `probeCuda()`: a cheap "can the CUDA backend run here?" used by `device: "auto"`.
 * @module
 */

import { CudaUnavailableError, deviceDescription, openCudaLibraries } from "./cuda_context.ts";

/** The probe's answer. */
export interface CudaProbe {
  /** True when the libraries load and a device is present. */
  available: boolean;
  /** Why not (each missing piece), or what was found. */
  reason: string;
  /** Device description when available. */
  device?: string;
}

/** Loads the libraries, counts devices, closes everything again. Never throws. */
export function probeCuda(): CudaProbe {
  try {
    const libs = openCudaLibraries(0);
    try {
      const device = deviceDescription(libs.cudart, 0);
      return { available: true, reason: `CUDA available: ${device}`, device };
    } finally {
      libs.close();
    }
  } catch (e) {
    const why = e instanceof CudaUnavailableError
      ? e.summary
      : e instanceof Error
      ? e.message
      : String(e);
    return { available: false, reason: `CUDA unavailable: ${why}` };
  }
}

/**
 * Resolves `device: "auto"`: CUDA when `probeCuda` says so, else the CPU, with the sentence to
 * print (e.g. "CUDA unavailable: libcublas.so not found (tried …); using CPU").
 */
export function chooseDevice(): { device: "cuda" | "cpu"; message: string; probe: CudaProbe } {
  const probe = probeCuda();
  return probe.available
    ? { device: "cuda", message: `${probe.reason}; using CUDA`, probe }
    : { device: "cpu", message: `${probe.reason}; using CPU`, probe };
}
