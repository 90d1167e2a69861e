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
  /** One short clause for the device line, e.g. "libcudart found, no usable driver". */
  brief: string;
  /** Device description with driver and runtime versions, when available. */
  device?: string;
}

/** Loads the libraries (once per process) and describes the device. Never throws. */
export function probeCuda(): CudaProbe {
  try {
    const ordinal = cudaDeviceSetting();
    const libs = openCudaLibraries(ordinal);
    const device = `${deviceDescription(libs.cudart, ordinal)}; ${versionLine(libs)}`;
    return { available: true, reason: `CUDA available: ${device}`, brief: device, device };
  } catch (e) {
    const why = e instanceof CudaUnavailableError
      ? e.summary
      : e instanceof Error
      ? e.message
      : String(e);
    return { available: false, reason: `CUDA unavailable: ${why}`, brief: briefReason(why) };
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

/**
 * The short form of a probe's "why not": each "; "-separated problem cut before its first
 * parenthesis (the list of paths tried), and a runtime that loads but finds no usable driver
 * said as such. The full text stays in `reason` (`--verbose`, or the error of `--device cuda`).
 */
export function briefReason(why: string): string {
  const parts: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i <= why.length; i++) {
    const ch = why[i];
    if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (i === why.length || (depth === 0 && ch === ";" && why[i + 1] === " ")) {
      parts.push(why.slice(start, i).trim());
      start = i + 2;
    }
  }
  const noDriver = /driver version is insufficient|no CUDA-capable device|CUDA driver/i.test(why);
  const short = parts.filter((p) => p !== "").map((p) => p.replace(/\s*\(.*$/s, "").trim());
  const out = [...new Set(short)].filter((p) =>
    !(noDriver && /^libcudart(\.so)? not found$/.test(p))
  );
  if (noDriver) out.unshift("libcudart found, no usable driver");
  return out.join("; ") || why.slice(0, 80);
}
