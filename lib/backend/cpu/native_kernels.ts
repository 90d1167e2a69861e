/**
 * Optional native CPU kernels (`native/cpu/facgcnn_cpu.c`, built by `native/build_cpu.sh`):
 * the element-wise, batch-norm and graph ops of a CGCNN step, vectorised and multi-threaded.
 * In TypeScript, one `Math.exp` costs 20–30 ns; the gate evaluates three transcendental
 * functions per edge feature, so these ops dominated a CPU step. Like OpenBLAS this is an
 * accelerator, never a requirement: without the library the TypeScript kernels run, and
 * `backendInfo()` says which are in use.
 *
 * Resolution (the shared policy of lib/util/library.ts): `FACGCNN_CPU_KERNELS` (a path, or
 * `off`), then `build/native/libfacgcnn_cpu.so` in this checkout.
 * @module
 */

import { fn } from "../ffi.ts";
import { LibraryNotFoundError, type LibrarySpec, openLibrary } from "../../util/library.ts";
import { setting } from "../../util/settings.ts";

/** The C ABI of `native/cpu/*.c` (one library). */
export const CPU_KERNEL_SYMBOLS = {
  fc_gate: fn("bbii", "void"),
  fc_gate_backward: fn("bbbii", "void"),
  fc_unary: fn("ibbi", "void"),
  fc_unary_backward: fn("ibbbbi", "void"),
  fc_binary: fn("iibbbii", "void"),
  fc_column_moments: fn("bbbii", "void"),
  fc_batch_norm_forward: fn("bbbbbbiif", "void"),
  fc_batch_norm_backward: fn("bbbbbbbbiifi", "void"),
  fc_segment_reduce: fn("bbbiii", "void"),
  fc_segment_expand: fn("bbbiii", "void"),
  fc_gather_rows: fn("bbbii", "void"),
  fc_scatter_add_rows: fn("bbbii", "void"),
  fc_edge_combine: fn("bbbbbbiiibb", "void"),
  fc_gate_sum: fn("bbiibbbbfb", "void"),
  fc_gate_sum_backward: fn("bbiibbbbfbbbbi", "void"),
  fc_sum_rows: fn("bbii", "void"),
  fc_threads: fn(""),
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded kernels. */
export type CpuKernels = Deno.DynamicLibrary<typeof CPU_KERNEL_SYMBOLS>["symbols"];

/**
 * The C ABI of `native/cpu/edge_gemm.c`, bound on its own: a library built before that file
 * existed still gives the other native kernels (with the TypeScript edge term) until rebuilt.
 */
export const EDGE_GEMM_SYMBOLS = {
  fc_edge_gemm: fn("bibiiidddbiiib", "void"),
  fc_edge_gemm_wgrad: fn("bibiiidddbibiii", "void"),
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * The one-pass edge backward (`fc_edge_combine_backward`), bound on its own for the same reason:
 * a library built before it keeps every other native kernel (the three-pass form runs instead).
 */
export const EDGE_BACKWARD_SYMBOLS = {
  fc_edge_combine_backward: fn("bbbiibbb", "void"),
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded one-pass edge backward. */
export type EdgeBackwardKernels = Deno.DynamicLibrary<typeof EDGE_BACKWARD_SYMBOLS>["symbols"];

/** The loaded edge-term kernels. */
export type EdgeGemmKernels = Deno.DynamicLibrary<typeof EDGE_GEMM_SYMBOLS>["symbols"];

/** Loaded kernels with a description, or null with the reason. */
export interface CpuKernelChoice {
  kernels: CpuKernels | null;
  /** The edge-term kernels of the same library, or null (an older build: TypeScript). */
  edgeGemm?: EdgeGemmKernels | null;
  /** The one-pass edge backward of the same library, or null (an older build). */
  edgeBackward?: EdgeBackwardKernels | null;
  description: string;
}

/** The repository's `build/native/`, where `native/build_cpu.sh` puts the library. */
const BUILD_DIR = new URL("../../../build/native", import.meta.url);

/** Where the native CPU kernels are looked for (never by bare name: only our build has them). */
export const CPU_KERNELS_SPEC: LibrarySpec = {
  name: "libfacgcnn_cpu",
  override: "cpuKernels",
  sonames: ["libfacgcnn_cpu.so"],
  folders: () => BUILD_DIR.protocol === "file:" ? [decodeURIComponent(BUILD_DIR.pathname)] : [],
  bareNames: false,
  hint: "`bash native/build_cpu.sh` makes a CPU step several times faster",
};

/**
 * Opens the native CPU kernels: `path` (`false` disables them), else `FACGCNN_CPU_KERNELS`
 * (`off` disables them), else the build folder, by the shared loader policy
 * (lib/util/library.ts). Never throws: a missing library means the TypeScript kernels.
 */
export function loadCpuKernels(path?: string | false): CpuKernelChoice {
  const ts = "TypeScript kernels";
  if (path === false) return { kernels: null, description: `${ts} (native kernels disabled)` };
  if (path === undefined && setting("cpuKernels") === "off") {
    return { kernels: null, description: `${ts} (FACGCNN_CPU_KERNELS=off)` };
  }
  // Idle OpenMP threads must sleep, not spin: they share the cores with OpenBLAS and V8.
  try {
    if (!Deno.env.get("OMP_WAIT_POLICY")) Deno.env.set("OMP_WAIT_POLICY", "PASSIVE");
  } catch { /* no --allow-env: libgomp's default */ }
  try {
    const { lib, path: from } = openLibrary({ ...CPU_KERNELS_SPEC, path }, CPU_KERNEL_SYMBOLS);
    const threads = lib.symbols.fc_threads();
    let edgeGemm: EdgeGemmKernels | null = null;
    try {
      edgeGemm = Deno.dlopen(from, EDGE_GEMM_SYMBOLS).symbols;
    } catch { /* built before native/cpu/edge_gemm.c: the TypeScript edge term */ }
    let edgeBackward: EdgeBackwardKernels | null = null;
    try {
      edgeBackward = Deno.dlopen(from, EDGE_BACKWARD_SYMBOLS).symbols;
    } catch { /* an older build: segment sums, scatter and column sums as three passes */ }
    const stale = (edgeGemm ? "" : "; edge term in TypeScript") +
      (edgeBackward ? "" : "; edge backward in three passes") +
      (edgeGemm && edgeBackward ? "" : ": rebuild with bash native/build_cpu.sh");
    return {
      kernels: lib.symbols,
      edgeGemm,
      edgeBackward,
      description: `native C kernels, ${threads} OpenMP threads (${from})${stale}`,
    };
  } catch (e) {
    const why = e instanceof LibraryNotFoundError
      ? `${e.tried.join("; ")}: ${CPU_KERNELS_SPEC.hint}`
      : String(e);
    return { kernels: null, description: `${ts} (${why})` };
  }
}
