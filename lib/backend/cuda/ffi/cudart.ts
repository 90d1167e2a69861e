/**
 * Typed symbol table for the CUDA runtime (`libcudart.so.13` / `.12`).
 *
 * Handles (`cudaStream_t`, `cudaEvent_t`) and device addresses are `"pointer"`; out-parameters
 * (`void**`, `int*`, `size_t*`, `float*`) are `"buffer"` so a small typed array receives them.
 * Every function returns a `cudaError_t` (`"i32"`, 0 = success) except `cudaGetErrorString`.
 * No symbol is `nonblocking`: those calls cost tens of microseconds each.
 * @module
 */

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
  cudaGetDeviceCount: { parameters: ["buffer"], result: "i32" },
  cudaSetDevice: { parameters: ["i32"], result: "i32" },
  cudaGetDeviceProperties: { parameters: ["buffer", "i32"], result: "i32" },
  cudaDeviceGetAttribute: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  cudaMemGetInfo: { parameters: ["buffer", "buffer"], result: "i32" },
  cudaDeviceSynchronize: { parameters: [], result: "i32" },
  cudaGetErrorString: { parameters: ["i32"], result: "pointer" },
  cudaGetLastError: { parameters: [], result: "i32" },
  cudaMalloc: { parameters: ["buffer", "usize"], result: "i32" },
  cudaFree: { parameters: ["pointer"], result: "i32" },
  // (dst, src, bytes, kind): host sides are passed as Deno.UnsafePointer.of(typedArray).
  cudaMemcpy: { parameters: ["pointer", "pointer", "usize", "i32"], result: "i32" },
  cudaMemcpyAsync: {
    parameters: ["pointer", "pointer", "usize", "i32", "pointer"],
    result: "i32",
  },
  cudaMemsetAsync: { parameters: ["pointer", "i32", "usize", "pointer"], result: "i32" },
  cudaStreamCreate: { parameters: ["buffer"], result: "i32" },
  cudaStreamDestroy: { parameters: ["pointer"], result: "i32" },
  cudaStreamSynchronize: { parameters: ["pointer"], result: "i32" },
  cudaEventCreate: { parameters: ["buffer"], result: "i32" },
  cudaEventRecord: { parameters: ["pointer", "pointer"], result: "i32" },
  cudaEventSynchronize: { parameters: ["pointer"], result: "i32" },
  cudaEventElapsedTime: { parameters: ["buffer", "pointer", "pointer"], result: "i32" },
  cudaEventDestroy: { parameters: ["pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound cudart functions. */
export type Cudart = Deno.DynamicLibrary<typeof CUDART_SYMBOLS>["symbols"];

/** Reads the C string cudart returns for an error code, e.g. "out of memory". */
export function cudaErrorString(cudart: Cudart, code: number): string {
  const p = cudart.cudaGetErrorString(code);
  return p === null ? `cudaError ${code}` : `${Deno.UnsafePointerView.getCString(p)} (${code})`;
}
