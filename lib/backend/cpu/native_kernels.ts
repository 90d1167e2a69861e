/**
 * Optional native CPU kernels (`native/cpu/facgcnn_cpu.c`, built by `native/build_cpu.sh`):
 * the element-wise, batch-norm and graph ops of a CGCNN step, vectorised and multi-threaded.
 * In TypeScript, one `Math.exp` costs 20–30 ns; the gate evaluates three transcendental
 * functions per edge feature, so these ops dominated a CPU step. Like OpenBLAS this is an
 * accelerator, never a requirement: without the library the TypeScript kernels run, and
 * `backendInfo()` says which are in use.
 *
 * Resolution: `FACGCNN_CPU_KERNELS` (a path, or `off`), then `build/native/libfacgcnn_cpu.so`
 * in this checkout.
 * @module
 */

/** The C ABI of `native/cpu/facgcnn_cpu.c`. */
export const CPU_KERNEL_SYMBOLS = {
  fc_gate: { parameters: ["buffer", "buffer", "i32", "i32"], result: "void" },
  fc_gate_backward: { parameters: ["buffer", "buffer", "buffer", "i32", "i32"], result: "void" },
  fc_unary: { parameters: ["i32", "buffer", "buffer", "i32"], result: "void" },
  fc_unary_backward: {
    parameters: ["i32", "buffer", "buffer", "buffer", "buffer", "i32"],
    result: "void",
  },
  fc_binary: {
    parameters: ["i32", "i32", "buffer", "buffer", "buffer", "i32", "i32"],
    result: "void",
  },
  fc_column_moments: { parameters: ["buffer", "buffer", "buffer", "i32", "i32"], result: "void" },
  fc_batch_norm_forward: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "i32", "i32", "f32"],
    result: "void",
  },
  fc_batch_norm_backward: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "f32",
      "i32",
    ],
    result: "void",
  },
  fc_segment_reduce: {
    parameters: ["buffer", "buffer", "buffer", "i32", "i32", "i32"],
    result: "void",
  },
  fc_segment_expand: {
    parameters: ["buffer", "buffer", "buffer", "i32", "i32", "i32"],
    result: "void",
  },
  fc_gather_rows: { parameters: ["buffer", "buffer", "buffer", "i32", "i32"], result: "void" },
  fc_scatter_add_rows: { parameters: ["buffer", "buffer", "buffer", "i32", "i32"], result: "void" },
  fc_threads: { parameters: [], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded kernels. */
export type CpuKernels = Deno.DynamicLibrary<typeof CPU_KERNEL_SYMBOLS>["symbols"];

/** Loaded kernels with a description, or null with the reason. */
export interface CpuKernelChoice {
  kernels: CpuKernels | null;
  description: string;
}

function defaultPath(): string | null {
  const url = new URL("../../../build/native/libfacgcnn_cpu.so", import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : null;
}

/**
 * Opens the native CPU kernels: `path` (`false` disables them), else `FACGCNN_CPU_KERNELS`,
 * else the build folder. Never throws: a missing library means the TypeScript kernels.
 */
export function loadCpuKernels(path?: string | false): CpuKernelChoice {
  const ts = "TypeScript kernels";
  if (path === false) return { kernels: null, description: `${ts} (native kernels disabled)` };
  let target = path;
  if (target === undefined) {
    try {
      target = Deno.env.get("FACGCNN_CPU_KERNELS") || undefined;
    } catch { /* no --allow-env */ }
  }
  if (target === "off") return { kernels: null, description: `${ts} (FACGCNN_CPU_KERNELS=off)` };
  target ??= defaultPath() ?? undefined;
  if (target === undefined) return { kernels: null, description: `${ts} (no local build folder)` };
  try {
    Deno.statSync(target);
  } catch {
    return {
      kernels: null,
      description:
        `${ts} (${target} not built: \`bash native/build_cpu.sh\` makes a CPU step several times faster)`,
    };
  }
  try {
    // Idle OpenMP threads must sleep, not spin: they share the cores with OpenBLAS and V8.
    try {
      if (!Deno.env.get("OMP_WAIT_POLICY")) Deno.env.set("OMP_WAIT_POLICY", "PASSIVE");
    } catch { /* no --allow-env: libgomp's default */ }
    const lib = Deno.dlopen(target, CPU_KERNEL_SYMBOLS);
    const threads = lib.symbols.fc_threads();
    return {
      kernels: lib.symbols,
      description: `native C kernels, ${threads} OpenMP threads (${target})`,
    };
  } catch (e) {
    return {
      kernels: null,
      description: `${ts} (cannot load ${target}: ${(e as Error).message.split("\n")[0]})`,
    };
  }
}
