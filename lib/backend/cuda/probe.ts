/**
 * `probeCuda()`: a cheap "can the CUDA backend run here?" used by `device: "auto"`. It opens
 * the process's CUDA libraries (cuda_context.ts), which the backend then reuses: nothing is
 * closed, so no context outlives its runtime.
 * @module
 */

import {
  CudaUnavailableError,
  deviceDescription,
  openCudaLibraries,
  versionLine,
} from "./cuda_context.ts";
import { cudaDeviceSetting } from "../../util/settings.ts";

/** The probe's answer. */
export interface CudaProbe {
  /** True when the libraries load and a device is present. */
  available: boolean;
  /** Why not (each missing piece), or what was found. */
  reason: string;
  /** Device description with driver and runtime versions, when available. */
  device?: string;
}

/** Loads the libraries (once per process) and describes the device. Never throws. */
export function probeCuda(): CudaProbe {
  try {
    const ordinal = cudaDeviceSetting();
    const libs = openCudaLibraries(ordinal);
    const device = `${deviceDescription(libs.cudart, ordinal)}; ${versionLine(libs)}`;
    return { available: true, reason: `CUDA available: ${device}`, device };
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
