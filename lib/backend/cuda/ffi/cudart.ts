/**
 * Typed symbol table for the CUDA runtime (`libcudart.so.13` / `.12`).
 *
 * Handles (`cudaStream_t`, `cudaEvent_t`) and device addresses are `"pointer"`; out-parameters
 * (`void**`, `int*`, `size_t*`, `float*`) are `"buffer"` so a small typed array receives them.
 * Every function returns a `cudaError_t` (`"i32"`, 0 = success) except `cudaGetErrorString`.
 * No symbol is `nonblocking`: those calls cost tens of microseconds each.
 * @module
 */

import { fn } from "../../ffi.ts";

/** `cudaMemcpyKind` values. */
export const CudaMemcpyKind = {
  hostToDevice: 1,
  deviceToHost: 2,
  deviceToDevice: 3,
} as const;

/** `cudaDeviceAttr` values used by the backend (from `driver_types.h`). */
export const CudaDeviceAttr = {
  multiProcessorCount: 16,
  computeCapabilityMajor: 75,
  computeCapabilityMinor: 76,
} as const;

/** Bytes reserved for `struct cudaDeviceProp` (about 1 KiB in CUDA 12/13); only `name`, its first field (char[256]), is read. */
export const CUDA_DEVICE_PROP_BYTES = 4096;

/** The cudart functions the CUDA backend binds. */
export const CUDART_SYMBOLS = {
  cudaGetDeviceCount: fn("b"),
  // (int* version): 13000 for CUDA 13.0; the driver's is the newest CUDA it supports.
  cudaDriverGetVersion: fn("b"),
  cudaRuntimeGetVersion: fn("b"),
  cudaSetDevice: fn("i"),
  cudaGetDeviceProperties: fn("bi"),
  cudaDeviceGetAttribute: fn("bii"),
  cudaMemGetInfo: fn("bb"),
  cudaDeviceSynchronize: fn(""),
  cudaGetErrorString: fn("i", "pointer"),
  cudaGetLastError: fn(""),
  cudaMalloc: fn("bu"),
  cudaFree: fn("p"),
  // (void** host, bytes, flags): page-locked host memory, so a copy from it can be async.
  cudaHostAlloc: fn("bui"),
  cudaFreeHost: fn("p"),
  // (dst, src, bytes, kind): host sides are passed as Deno.UnsafePointer.of(typedArray).
  cudaMemcpy: fn("ppui"),
  cudaMemcpyAsync: fn("ppuip"),
  cudaMemsetAsync: fn("piup"),
  cudaStreamCreate: fn("b"),
  cudaStreamDestroy: fn("p"),
  cudaStreamSynchronize: fn("p"),
  cudaEventCreate: fn("b"),
  cudaEventRecord: fn("pp"),
  cudaEventSynchronize: fn("p"),
  cudaEventElapsedTime: fn("bpp"),
  cudaEventDestroy: fn("p"),
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound cudart functions. */
export type Cudart = Deno.DynamicLibrary<typeof CUDART_SYMBOLS>["symbols"];

/** Reads the C string cudart returns for an error code, e.g. "out of memory". */
export function cudaErrorString(cudart: Cudart, code: number): string {
  const p = cudart.cudaGetErrorString(code);
  return p === null ? `cudaError ${code}` : `${Deno.UnsafePointerView.getCString(p)} (${code})`;
}
