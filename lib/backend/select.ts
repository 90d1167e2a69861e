/**
 * Device selection: `"auto"` picks CUDA when a GPU and the CUDA libraries are usable, else
 * the CPU, and says which and why (once per process, on stderr).
 * @module
 */

import type { Backend, BackendInfo } from "./backend.ts";
import { createCpuBackend } from "./cpu/cpu_backend.ts";

/** Which device to run on. */
export type DeviceChoice = "auto" | "cpu" | "cuda";

let cpu: Backend | null = null;
let announced = false;

/** The process-wide CPU backend (created on first use). */
export function cpuBackend(): Backend {
  return cpu ??= createCpuBackend();
}

function announce(line: string): void {
  if (announced) return;
  announced = true;
  console.error(line);
}

/** The backend for a device choice; throws with the reason when "cuda" is not usable. */
export function selectBackend(device: DeviceChoice): Backend {
  if (device !== "auto" && device !== "cpu" && device !== "cuda") {
    throw new RangeError(`device must be "auto", "cpu" or "cuda", got ${JSON.stringify(device)}`);
  }
  if (device === "cuda") {
    throw new Error("CUDA backend unavailable in this build");
  }
  const b = cpuBackend();
  const info = b.info();
  announce(`device: cpu (${info.gemm})`);
  return b;
}

/** What the default backend (`selectBackend("auto")`) is: device, GEMM library and notes. */
export function backendInfo(): BackendInfo {
  return selectBackend("auto").info();
}
