/**
 * Opening everything the CUDA backend needs, in one place, so `createCudaBackend` and
 * `probeCuda` agree on what "CUDA is available" means: cudart, cuBLAS and the helper load, and
 * the runtime sees at least one device. cuSPARSE is optional (only `spmmCsr` uses it).
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
  CUBLAS_SPEC,
  CUDART_SPEC,
  CUSPARSE_SPEC,
  KERNELS_SPEC,
  LibraryNotFoundError,
  type LibrarySpec,
  loadLibrary,
} from "./loader.ts";

/** The opened libraries of one CUDA backend. */
export interface CudaLibraries {
  cudart: Cudart;
  cublas: Cublas;
  kernels: Kernels;
  /** Null when cuSPARSE could not be opened (`cusparseError` says why). */
  cusparse: Cusparse | null;
  cusparseError: string;
  /** Where each library was loaded from. */
  paths: { cudart: string; cublas: string; kernels: string; cusparse?: string };
  /** Closes every library. */
  close(): void;
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

/** Number of devices the runtime sees, or an error string (e.g. no driver, no device). */
export function cudaDeviceCount(cudart: Cudart): number | string {
  const out = new Int32Array(1);
  const code = cudart.cudaGetDeviceCount(out);
  if (code !== 0) return `cudaGetDeviceCount: ${cudaErrorString(cudart, code)}`;
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

function tryLoad<S extends Deno.ForeignLibraryInterface>(
  spec: LibrarySpec,
  symbols: S,
  problems: { summary: string; detail: string }[],
): { lib: Deno.DynamicLibrary<S>; path: string } | null {
  try {
    return loadLibrary(spec, symbols);
  } catch (e) {
    const summary = e instanceof LibraryNotFoundError ? e.summary : String(e);
    problems.push({ summary, detail: e instanceof Error ? e.message : String(e) });
    return null;
  }
}

/**
 * Opens cudart (first: the helper links against its soname), cuBLAS, the helper and, if it
 * can, cuSPARSE, and checks that `device` exists.
 * @throws CudaUnavailableError naming every missing piece.
 */
export function openCudaLibraries(device = 0): CudaLibraries {
  const problems: { summary: string; detail: string }[] = [];
  const opened: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>[] = [];
  const rt = tryLoad(CUDART_SPEC, CUDART_SYMBOLS, problems);
  if (rt) {
    opened.push(rt.lib);
    const count = cudaDeviceCount(rt.lib.symbols);
    if (typeof count === "string") problems.push({ summary: count, detail: count });
    else if (device < 0 || device >= count) {
      const msg = `device ${device} requested, ${count} present`;
      problems.push({ summary: msg, detail: msg });
    }
  }
  const blas = tryLoad(CUBLAS_SPEC, CUBLAS_SYMBOLS, problems);
  if (blas) opened.push(blas.lib);
  const kernels = tryLoad(KERNELS_SPEC, KERNEL_SYMBOLS, problems);
  if (kernels) opened.push(kernels.lib);
  const close = () => opened.forEach((l) => l.close());
  if (problems.length > 0 || !rt || !blas || !kernels) {
    close();
    throw new CudaUnavailableError(problems);
  }
  const sparseProblems: { summary: string; detail: string }[] = [];
  const sparse = tryLoad(CUSPARSE_SPEC, CUSPARSE_SYMBOLS, sparseProblems);
  if (sparse) opened.push(sparse.lib);
  return {
    cudart: rt.lib.symbols,
    cublas: blas.lib.symbols,
    kernels: kernels.lib.symbols,
    cusparse: sparse?.lib.symbols ?? null,
    cusparseError: sparseProblems.map((p) => p.summary).join("; "),
    paths: { cudart: rt.path, cublas: blas.path, kernels: kernels.path, cusparse: sparse?.path },
    close,
  };
}
