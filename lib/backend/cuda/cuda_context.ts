/**
 * Opening everything the CUDA backend needs, once per process, so `createCudaBackend` and
 * `probeCuda` agree on what "CUDA is available" means and share the same loaded libraries:
 * a runtime whose `cudaGetDeviceCount` succeeds (CUDA 13, then 12: an older driver refuses the
 * newer runtime), cuBLAS of the same major version (with its libcublasLt), the helper, and,
 * if it can, cuSPARSE. The libraries are never closed: a context, stream or handle created
 * through them may live until the process ends, and unloading the runtime under them crashes.
 * @module
 */

import { type Cublas, CUBLAS_SYMBOLS } from "./ffi/cublas.ts";
import {
  CUDA_DEVICE_PROP_BYTES,
  CudaDeviceAttr,
  cudaErrorString,
  type Cudart,
  CUDART_SYMBOLS,
} from "./ffi/cudart.ts";
import { type Cusparse, CUSPARSE_SYMBOLS } from "./ffi/cusparse.ts";
import { KERNEL_SYMBOLS, type Kernels } from "./ffi/kernels.ts";
import {
  cublasSpec,
  CUDART_SPEC,
  CUSPARSE_SPEC,
  KERNELS_SPEC,
  LibraryNotFoundError,
  type LibrarySpec,
  type LoadedLibrary,
  openLibrary,
} from "./loader.ts";
import { setting } from "../../util/settings.ts";

/** The opened libraries the CUDA backends of this process share. */
export interface CudaLibraries {
  cudart: Cudart;
  cublas: Cublas;
  kernels: Kernels;
  /** Null when cuSPARSE could not be opened (`cusparseError` says why). */
  cusparse: Cusparse | null;
  cusparseError: string;
  /** Where each library was loaded from. */
  paths: { cudart: string; cublas: string; kernels: string; cusparse?: string };
  /** `cudaDriverGetVersion` / `cudaRuntimeGetVersion`, e.g. 13000 for 13.0. */
  versions: { driver: number; runtime: number };
  /** Devices the runtime sees. */
  deviceCount: number;
}

/** CUDA cannot be used; `summary` is one line, `message` has every path tried. */
export class CudaUnavailableError extends Error {
  /** One line naming each missing piece. */
  readonly summary: string;

  /** Joins the problems found. */
  constructor(problems: { summary: string; detail: string }[]) {
    super(`CUDA unavailable:\n${problems.map((p) => p.detail).join("\n")}`);
    this.name = "CudaUnavailableError";
    this.summary = problems.map((p) => p.summary).join("; ");
  }
}

/** "13.0" for 13000. */
export function cudaVersionString(v: number): string {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : "none";
}

/** Driver and runtime versions (0 where the call fails, e.g. no driver). */
export function cudaVersions(cudart: Cudart): { driver: number; runtime: number } {
  const v = new Int32Array(1);
  const driver = cudart.cudaDriverGetVersion(v) === 0 ? v[0] : 0;
  const runtime = cudart.cudaRuntimeGetVersion(v) === 0 ? v[0] : 0;
  return { driver, runtime };
}

/** Number of devices the runtime sees, or an error string (e.g. no driver, no device). */
export function cudaDeviceCount(cudart: Cudart): number | string {
  const out = new Int32Array(1);
  const code = cudart.cudaGetDeviceCount(out);
  if (code !== 0) {
    const { driver } = cudaVersions(cudart);
    const drv = driver > 0 ? `; the driver supports CUDA ${cudaVersionString(driver)}` : "";
    return `cudaGetDeviceCount: ${cudaErrorString(cudart, code)}${drv}`;
  }
  return out[0] === 0 ? "no CUDA device found" : out[0];
}

/** "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)" for `device`. */
export function deviceDescription(cudart: Cudart, device: number): string {
  const prop = new Uint8Array(CUDA_DEVICE_PROP_BYTES);
  let name = `CUDA device ${device}`;
  if (cudart.cudaGetDeviceProperties(prop, device) === 0) {
    const end = prop.subarray(0, 256).indexOf(0);
    name = new TextDecoder().decode(prop.subarray(0, end < 0 ? 256 : end));
  }
  const attr = (a: number) => {
    const v = new Int32Array(1);
    return cudart.cudaDeviceGetAttribute(v, a, device) === 0 ? v[0] : NaN;
  };
  const free = new BigUint64Array(1), total = new BigUint64Array(1);
  const mem = cudart.cudaMemGetInfo(free, total) === 0
    ? `, ${(Number(total[0]) / 2 ** 30).toFixed(1)} GiB`
    : "";
  return `${name} (sm_${attr(CudaDeviceAttr.computeCapabilityMajor)}${
    attr(CudaDeviceAttr.computeCapabilityMinor)
  }, ${attr(CudaDeviceAttr.multiProcessorCount)} SMs${mem})`;
}

/** "driver 13.0, runtime 13.0": the line `backendInfo()` and the GPU run log print. */
export function versionLine(libs: CudaLibraries): string {
  return `driver ${cudaVersionString(libs.versions.driver)}, runtime ${
    cudaVersionString(libs.versions.runtime)
  }`;
}

type Problem = { summary: string; detail: string };

function tryOpen<S extends Deno.ForeignLibraryInterface>(
  spec: LibrarySpec,
  symbols: S,
  problems: Problem[],
  accept?: (lib: LoadedLibrary<S>) => string | null,
): LoadedLibrary<S> | null {
  try {
    return openLibrary(spec, symbols, accept);
  } catch (e) {
    const summary = e instanceof LibraryNotFoundError ? e.summary : String(e);
    problems.push({ summary, detail: e instanceof Error ? e.message : String(e) });
    return null;
  }
}

/**
 * Opens the runtime: every candidate in order (13 before 12) until one answers
 * `cudaGetDeviceCount` with at least one device.
 * @throws CudaUnavailableError listing each runtime tried and why it was refused.
 */
export function openRuntime(): { rt: LoadedLibrary<typeof CUDART_SYMBOLS>; count: number } {
  const problems: Problem[] = [];
  let count = 0;
  const rt = tryOpen(CUDART_SPEC, CUDART_SYMBOLS, problems, ({ lib }) => {
    const n = cudaDeviceCount(lib.symbols);
    if (typeof n === "string") return n;
    count = n;
    return null;
  });
  if (!rt) throw new CudaUnavailableError(problems);
  return { rt, count };
}

const shared = new Map<string, CudaLibraries>();

/** The overrides that decide which files are opened (a new combination opens anew). */
function overrideKey(): string {
  return (["cudart", "cublas", "cusparse", "cudaKernels"] as const)
    .map((s) => setting(s) ?? "").join("\0");
}

/**
 * The CUDA libraries of this process: opened on the first call, then the same object
 * (never closed; see the module note).
 * @throws CudaUnavailableError naming every missing piece.
 */
export function cudaLibraries(): CudaLibraries {
  const key = overrideKey();
  const known = shared.get(key);
  if (known) return known;
  const problems: Problem[] = [];
  let runtime: ReturnType<typeof openRuntime> | null = null;
  try {
    runtime = openRuntime();
  } catch (e) {
    problems.push({ summary: (e as CudaUnavailableError).summary, detail: (e as Error).message });
  }
  const versions = runtime ? cudaVersions(runtime.rt.lib.symbols) : { driver: 0, runtime: 0 };
  // cuBLAS of the runtime's major version, then the other one.
  const major = versions.runtime >= 13000 || versions.runtime === 0 ? 13 : 12;
  const blas = tryOpen(cublasSpec(major), CUBLAS_SYMBOLS, problems);
  // The helper after the runtime: it needs `libcudart.so.N`, and the dynamic linker reuses a
  // loaded library of that soname.
  const kernels = tryOpen(KERNELS_SPEC, KERNEL_SYMBOLS, problems);
  if (problems.length > 0 || !runtime || !blas || !kernels) {
    throw new CudaUnavailableError(problems);
  }
  const sparseProblems: Problem[] = [];
  const sparse = tryOpen(CUSPARSE_SPEC, CUSPARSE_SYMBOLS, sparseProblems);
  const libs: CudaLibraries = {
    cudart: runtime.rt.lib.symbols,
    cublas: blas.lib.symbols,
    kernels: kernels.lib.symbols,
    cusparse: sparse?.lib.symbols ?? null,
    cusparseError: sparseProblems.map((p) => p.summary).join("; "),
    paths: {
      cudart: runtime.rt.path,
      cublas: blas.path,
      kernels: kernels.path,
      cusparse: sparse?.path,
    },
    versions,
    deviceCount: runtime.count,
  };
  shared.set(key, libs);
  return libs;
}

/**
 * The shared libraries, checked for `device`.
 * @throws CudaUnavailableError naming every missing piece, or the device that is not there.
 */
export function openCudaLibraries(device = 0): CudaLibraries {
  const libs = cudaLibraries();
  if (!Number.isInteger(device) || device < 0 || device >= libs.deviceCount) {
    const msg = `device ${device} requested, ${libs.deviceCount} present`;
    throw new CudaUnavailableError([{ summary: msg, detail: msg }]);
  }
  return libs;
}
