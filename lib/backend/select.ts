/**
 * Device selection: `"auto"` picks CUDA when a GPU and the CUDA libraries are usable, else
 * the CPU, and says which and why (once per process, on stderr).
 * @module
 */

import type { Backend, BackendInfo } from "./backend.ts";
import { createCpuBackend } from "./cpu/cpu_backend.ts";
import { createCudaBackend } from "./cuda/cuda_backend.ts";
import { chooseDevice } from "./cuda/probe.ts";
import { maybeProfiled } from "./profiler.ts";
import { flag } from "../util/settings.ts";

/**
 * Which device to run on.
 */
export type DeviceChoice = "auto" | "cpu" | "cuda";

let cpu: Backend | null = null;
let cuda: Backend | null = null;
let auto: Backend | null = null;

/** The process-wide CPU backend (created on first use). */
export function cpuBackend(): Backend {
  return cpu ??= maybeProfiled(createCpuBackend());
}

/** The process-wide CUDA backend; throws naming what is missing when CUDA is unusable. */
export function cudaBackend(): Backend {
  return cuda ??= maybeProfiled(createCudaBackend());
}

function describe(b: Backend): string {
  const info = b.info();
  return `${info.name} (${info.device}; ${info.gemm})`;
}

/**
 * The backend for a device choice. `"auto"` probes CUDA once per process and prints the choice
 * with its reason ("CUDA unavailable: libcublas.so not found …; using CPU").
 *
 * @example
 * ```ts
 * import { selectBackend } from "@facgcnn/toolkit";
 * const backend = selectBackend("auto"); // CUDA when usable, else CPU (says why on stderr)
 * console.log(backend.name);
 * ```
 */
export function selectBackend(device: DeviceChoice): Backend {
  switch (device) {
    case "cpu":
      return cpuBackend();
    case "cuda":
      return cudaBackend();
    case "auto": {
      if (auto) return auto;
      const silent = flag("quiet");
      const choice = chooseDevice();
      auto = choice.device === "cuda" ? cudaBackend() : cpuBackend();
      if (!silent) {
        // One short line on a CPU run; every path tried only with FACGCNN_VERBOSE=1 (--verbose).
        console.error(
          choice.device === "cpu" && !flag("verbose")
            ? `device: ${describe(auto)}; CUDA not used: ${choice.probe.brief}`
            : `device: ${describe(auto)} — ${choice.message}`,
        );
      }
      return auto;
    }
    default:
      throw new RangeError(`device must be "auto", "cpu" or "cuda", got ${JSON.stringify(device)}`);
  }
}

/**
 * What the default backend (`selectBackend("auto")`) is: device, GEMM library and notes.
 *
 * @example
 * ```ts
 * import { backendInfo } from "@facgcnn/toolkit";
 * console.log(backendInfo()); // { name: "cpu", device: "x86_64, …", gemm: "OpenBLAS …", notes: [] }
 * ```
 */
export function backendInfo(): BackendInfo {
  return selectBackend("auto").info();
}
