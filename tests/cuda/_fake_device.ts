/**
 * A fake CUDA device for tests without a GPU: cudart, cuBLAS and a few helper kernels as
 * TypeScript over a host "device heap" addressed from BASE. It counts copies by kind and stream
 * waits, so tests can check what crosses the bus and how often the host waits.
 */
import type { CudaLibraries } from "../../lib/backend/cuda/cuda_context.ts";
import type { Cublas } from "../../lib/backend/cuda/ffi/cublas.ts";
import type { Cudart } from "../../lib/backend/cuda/ffi/cudart.ts";
import type { Kernels } from "../../lib/backend/cuda/ffi/kernels.ts";
import { frameInputs } from "../../lib/frames/matrices.ts";

type P = Deno.PointerValue;
const BASE = 0x100000n;

/** A fake device: a host heap addressed from BASE, bump-allocated, with a capacity. */
export function fakeLibraries(capacity = 16 << 20) {
  const heap = new ArrayBuffer(capacity);
  const bytes = new Uint8Array(heap);
  let top = 0, used = 0, mallocs = 0;
  /** Copies by `cudaMemcpyKind` (1 H2D, 2 D2H, 3 D2D), bytes H2D, stream waits, launches. */
  const counts: Record<string, number> = {
    h2d: 0,
    d2h: 0,
    d2d: 0,
    h2dBytes: 0,
    syncs: 0,
    launches: 0,
    pinned: 0,
  };
  /** Scalar arguments of each `fa_crystal_frames_f64` call. */
  const frameCalls: Record<string, number | boolean>[] = [];
  const pinned = new Map<bigint, Uint8Array>(); // cudaHostAlloc'd host buffers, kept alive
  const i32 = (p: P, n: number) => new Int32Array(heap, off(p), n);
  const launch = (r = 0) => (counts.launches++, r);
  const sizes = new Map<bigint, number>();
  const holes: [number, number][] = [];
  const off = (p: P) => Number(BigInt(Deno.UnsafePointer.value(p)) - BASE);
  const f32 = (p: P, n: number) => new Float32Array(heap, off(p), n);
  const msg = new TextEncoder().encode("fake error\0");
  const cudart = {
    cudaSetDevice: () => 0,
    cudaGetLastError: () => 0,
    cudaGetErrorString: () => Deno.UnsafePointer.of(msg),
    cudaStreamCreate: (out: BigUint64Array) => (out[0] = 0x5000n, 0),
    cudaStreamSynchronize: () => (counts.syncs++, 0),
    cudaHostAlloc: (out: BigUint64Array, size: bigint) => {
      const buf = new Uint8Array(Number(size));
      out[0] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
      pinned.set(out[0], buf);
      counts.pinned++;
      return 0;
    },
    cudaFreeHost: (p: P) => (pinned.delete(BigInt(Deno.UnsafePointer.value(p))), 0),
    cudaStreamDestroy: () => 0,
    cudaMalloc: (out: BigUint64Array, size: bigint) => {
      mallocs++;
      const n = Number(size);
      const hole = holes.findIndex(([, len]) => len >= n); // first fit among freed ranges
      let at: number;
      if (hole >= 0) {
        const [start, len] = holes[hole];
        at = start;
        if (len > n) holes[hole] = [start + n, len - n];
        else holes.splice(hole, 1);
      } else if (top + n <= capacity) {
        at = top;
        top += n;
      } else return 2; // cudaErrorMemoryAllocation
      out[0] = BASE + BigInt(at);
      sizes.set(out[0], n);
      used += n;
      return 0;
    },
    cudaFree: (p: P) => {
      const a = BigInt(Deno.UnsafePointer.value(p));
      const n = sizes.get(a)!;
      used -= n;
      holes.push([Number(a - BASE), n]);
      sizes.delete(a);
      return 0;
    },
    cudaMemsetAsync: (p: P, v: number, n: bigint) => (bytes.fill(v, off(p), off(p) + Number(n)), 0),
    cudaMemcpyAsync: (dst: P, src: P, n: bigint, kind: number) => {
      const len = Number(n);
      if (kind === 1) (counts.h2d++, counts.h2dBytes += len);
      else if (kind === 2) counts.d2h++;
      else counts.d2d++;
      if (kind === 1) {
        new Deno.UnsafePointerView(src!).copyInto(new Uint8Array(heap, off(dst), len));
      } else if (kind === 2) {
        new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(dst!, len)).set(
          new Uint8Array(heap, off(src), len),
        );
      } else bytes.copyWithin(off(dst), off(src), off(src) + len);
      return 0;
    },
  };
  const cublas = {
    cublasCreate_v2: (out: BigUint64Array) => (out[0] = 0x6000n, 0),
    cublasSetStream_v2: () => 0,
    cublasSetMathMode: () => 0,
    cublasDestroy_v2: () => 0,
    // Column-major reference: C = alpha op(A) op(B) + beta C.
    // cublasGemmEx with float32 A, B, C: records the compute type, then the Sgemm reference.
    cublasGemmEx: (
      h: P,
      ta: number,
      tb: number,
      m: number,
      n: number,
      k: number,
      alpha: Float32Array,
      A: P,
      aType: number,
      lda: number,
      B: P,
      bType: number,
      ldb: number,
      beta: Float32Array,
      C: P,
      cType: number,
      ldc: number,
      computeType: number,
    ) => {
      counts.gemmEx = (counts.gemmEx ?? 0) + 1;
      counts.lastComputeType = computeType;
      if (aType !== 0 || bType !== 0 || cType !== 0) return 7; // CUBLAS_STATUS_INVALID_VALUE
      return cublas.cublasSgemm_v2(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    },
    cublasSgemm_v2: (
      _h: P,
      ta: number,
      tb: number,
      m: number,
      n: number,
      k: number,
      alpha: Float32Array,
      A: P,
      lda: number,
      B: P,
      ldb: number,
      beta: Float32Array,
      C: P,
      ldc: number,
    ) => {
      const a = f32(A, (ta ? m : k) * lda), b = f32(B, (tb ? k : n) * ldb), c = f32(C, n * ldc);
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < m; i++) {
          let s = 0;
          for (let l = 0; l < k; l++) {
            s += (ta ? a[l + i * lda] : a[i + l * lda]) * (tb ? b[j + l * ldb] : b[l + j * ldb]);
          }
          c[i + j * ldc] = alpha[0] * s + beta[0] * c[i + j * ldc];
        }
      }
      return 0;
    },
  };
  const kernels = {
    fa_fill_f32: (p: P, v: number, n: number) => (f32(p, n).fill(v), 0),
    fa_unary_f32: () => 719, // cudaErrorLaunchFailure, to test error reporting
    fa_fill_i32: (p: P, v: number, n: number) => (i32(p, n).fill(v), launch()),
    fa_gather_rows_f32: (src: P, idx: P, out: P, n: number, cols: number) => {
      const s = f32(src, 0 + (Math.max(...i32(idx, n), -1) + 1) * cols), ix = i32(idx, n);
      const o = f32(out, n * cols);
      for (let i = 0; i < n; i++) o.set(s.subarray(ix[i] * cols, ix[i] * cols + cols), i * cols);
      return launch();
    },
    fa_scatter_add_rows_atomic_f32: (src: P, idx: P, out: P, n: number, cols: number) => {
      counts.atomicScatters = (counts.atomicScatters ?? 0) + 1;
      const s = f32(src, n * cols), ix = i32(idx, n);
      const o = f32(out, (Math.max(...ix, -1) + 1) * cols);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < cols; j++) o[ix[i] * cols + j] += s[i * cols + j];
      }
      return launch();
    },
    fa_scatter_add_rows_csr_f32: (
      src: P,
      perm: P,
      offsets: P,
      out: P,
      nDst: number,
      cols: number,
    ) => {
      counts.csrScatters = (counts.csrScatters ?? 0) + 1;
      const f = i32(offsets, nDst + 1), pm = i32(perm, f[nDst]);
      const s = f32(src, f[nDst] * cols), o = f32(out, nDst * cols);
      for (let d = 0; d < nDst; d++) {
        for (let q = f[d]; q < f[d + 1]; q++) {
          for (let j = 0; j < cols; j++) o[d * cols + j] += s[pm[q] * cols + j];
        }
      }
      return launch();
    },
    // out[r] = (v[r] − t_c) U_c diag(signs of frame f), rows r of crystal c (native/cuda/eigen.cu).
    fa_frame_apply_f32: (
      v: P,
      offsets: P,
      centres: P,
      vectors: P,
      frameIndex: P,
      out: P,
      n: number,
    ) => {
      const f = i32(offsets, n + 1), rows = f[n];
      const src = f32(v, 3 * rows), u = f32(vectors, 9 * n), o = f32(out, 3 * rows);
      const t = centres ? f32(centres, 3 * n) : null, fi = frameIndex ? i32(frameIndex, n) : null;
      for (let c = 0; c < n; c++) {
        const p = fi ? fi[c] : 0;
        for (let r = f[c]; r < f[c + 1]; r++) {
          const d = [0, 1, 2].map((i) => src[3 * r + i] - (t ? t[3 * c + i] : 0));
          for (let k = 0; k < 3; k++) {
            const s = (p >> k) & 1 ? -1 : 1;
            o[3 * r + k] = s *
              (d[0] * u[9 * c + k] + d[1] * u[9 * c + 3 + k] + d[2] * u[9 * c + 6 + k]);
          }
        }
      }
      return launch();
    },
    // native/cuda/frames3.cuh, here by its host reference (lib/frames/matrices.ts); the last
    // call's scalar arguments are kept in `frameCalls` for the bookkeeping tests.
    fa_crystal_frames_f64: (
      pos: P,
      ranges: P,
      lattices: P,
      patterns: P,
      kind: number,
      gapTolerance: number,
      scale: number,
      node: number,
      copies: number,
      n: number,
      centred: P,
      atomM: P,
      edgeM: P,
      degenerate: P,
    ) => {
      frameCalls.push({ kind, gapTolerance, scale, node, copies, n, lattices: lattices !== null });
      const r = i32(ranges, n + 1), rows = r[n];
      const f64 = (p: P, len: number) =>
        new Float64Array(bytes.slice(off(p), off(p) + 8 * len).buffer);
      const got = frameInputs(
        f64(pos, 3 * rows),
        r.slice(),
        lattices ? f64(lattices, 9 * n) : null,
        i32(patterns, copies * n).slice(),
        copies,
        {
          kind: (["pca", "lattice", "hybrid"] as const)[kind],
          gapTolerance,
          coordinates: { scale: scale > 0 ? scale : "rms", node: node === 1 },
        },
      );
      f32(centred, 3 * rows).set(got.centred);
      f32(atomM, 9 * copies * n).set(got.atomMatrices);
      f32(edgeM, 9 * copies * n).set(got.edgeMatrices);
      if (degenerate) i32(degenerate, 1)[0] += got.degenerate;
      return launch();
    },
    fa_gaussian_expand_f32: (
      d: P,
      out: P,
      n: number,
      k: number,
      ld: number,
      start: number,
      step: number,
      sigma: number,
    ) => {
      const ds = f32(d, n), o = f32(out, n === 0 ? 0 : (n - 1) * ld + k);
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < k; c++) {
          o[r * ld + c] = Math.exp(-((ds[r] - (start + c * step)) ** 2) / (sigma * sigma));
        }
      }
      return launch();
    },
  };
  const libs = {
    cudart: cudart as unknown as Cudart,
    cublas: cublas as unknown as Cublas,
    kernels: kernels as unknown as Kernels,
    cusparse: null,
    cusparseError: "fake",
    paths: { cudart: "fake", cublas: "fake", kernels: "fake" },
    versions: { driver: 13000, runtime: 13000 },
    deviceCount: 1,
  } satisfies CudaLibraries;
  return { libs, stats: () => ({ used, mallocs }), counts, frameCalls };
}
