/**
 * Every `FACGCNN_*` environment variable the toolkit reads, in one place: what it means, and
 * one typed reader. Values are read when asked for (not cached), so a test or a notebook may
 * set a variable and create a new backend. Without `--allow-env` every variable reads as unset.
 * @module
 */

/**
 * The variables, by setting name: the variable and what it does (printed by
 * `describeSettings()`, listed in the README).
 */
export const SETTING_VARIABLES = {
  blas: {
    variable: "FACGCNN_BLAS",
    doc: "path of a CBLAS library (OpenBLAS); a missing file selects the TypeScript GEMM",
  },
  cpuKernels: {
    variable: "FACGCNN_CPU_KERNELS",
    doc: "path of the native CPU kernels, or `off` for the TypeScript kernels",
  },
  cudart: { variable: "FACGCNN_CUDART", doc: "path of libcudart (only that path is tried)" },
  cublas: { variable: "FACGCNN_CUBLAS", doc: "path of libcublas (only that path is tried)" },
  cusparse: { variable: "FACGCNN_CUSPARSE", doc: "path of libcusparse (only that path is tried)" },
  cudaKernels: {
    variable: "FACGCNN_KERNELS",
    doc: "path of the CUDA helper libfacgcnn_kernels.so (only that path is tried)",
  },
  cudaDevice: { variable: "FACGCNN_CUDA_DEVICE", doc: "CUDA device ordinal (default 0)" },
  tf32: { variable: "FACGCNN_TF32", doc: "`1`: cuBLAS float32 GEMM on TF32 tensor cores" },
  check: {
    variable: "FACGCNN_CHECK",
    doc: "`1`: bounds-check indices on the device and surface kernel errors at the op",
  },
  scatter: {
    variable: "FACGCNN_SCATTER",
    doc: "CUDA scatter-add through a planned index: `atomic` (default), `csr` (deterministic) " +
      "or `spmm` (cuSPARSE)",
  },
  mpi: { variable: "FACGCNN_MPI", doc: "path of the MPI library (libmpi) of the launching mpirun" },
  nccl: { variable: "FACGCNN_NCCL", doc: "path of libnccl (only that path is tried)" },
  quiet: { variable: "FACGCNN_QUIET", doc: "`1`: do not print the device choice on stderr" },
  verbose: {
    variable: "FACGCNN_VERBOSE",
    doc: "`1`: the device line lists every CUDA library path tried (`--verbose`)",
  },
  debug: { variable: "FACGCNN_DEBUG", doc: "`1`: commands print the stack of an error" },
  dataUrl: { variable: "FACGCNN_DATA_URL", doc: "base URL (mirror) of the public data sets" },
  requireCuda: {
    variable: "FACGCNN_REQUIRE_CUDA",
    doc: "`1`: tests/gpu fail (not skip) without a GPU (`deno task test:gpu` sets it)",
  },
  profile: {
    variable: "FACGCNN_PROFILE",
    doc: "`1`: time every backend op of each step (CUDA events on a GPU) and print a table " +
      "per op kind at the end of train / predict",
  },
  gpuStandIn: {
    variable: "FACGCNN_GPU_STANDIN",
    doc: "`cpu` (or `cpu-fp32`, float32 GEMM accumulation): run the GPU model tests on a CPU " +
      "stand-in without a GPU",
  },
} as const;

/**
 * A setting's name (a key of {@linkcode SETTING_VARIABLES}).
 */
export type SettingName = keyof typeof SETTING_VARIABLES;

/**
 * The raw value of a setting's variable, or undefined when unset, empty or not readable.
 */
export function setting(name: SettingName): string | undefined {
  try {
    return Deno.env.get(SETTING_VARIABLES[name].variable) || undefined;
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

/**
 * True when a switch variable is `1`.
 */
export function flag(name: SettingName): boolean {
  return setting(name) === "1";
}

/** Any environment variable, tolerant of a missing `--allow-env` (search paths, HOME, …). */
export function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The CUDA device ordinal from `FACGCNN_CUDA_DEVICE` (default 0).
 * @throws RangeError when the variable is not a non-negative integer.
 */
export function cudaDeviceSetting(): number {
  const raw = setting("cudaDevice");
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`FACGCNN_CUDA_DEVICE must be a device ordinal (0, 1, …), got "${raw}"`);
  }
  return n;
}

/** How the CUDA backend scatter-adds rows (see `FACGCNN_SCATTER`). */
export type ScatterMode = "csr" | "atomic" | "spmm";

/**
 * The scatter mode from `FACGCNN_SCATTER`. Default `atomic`: the rule until a GPU measures
 * both was "deterministic if it costs at most 10% more on the CPU stand-in", and there the
 * CSR-ordered sum (random reads of the source rows instead of random writes) plus the plan
 * cost 1.3–1.8× the direct scatter (E = 368,640 edges, 128 columns; bench/GPU_RUN.md).
 * @throws RangeError on an unknown value.
 */
export function scatterSetting(): ScatterMode {
  const raw = setting("scatter") ?? "atomic";
  if (raw !== "csr" && raw !== "atomic" && raw !== "spmm") {
    throw new RangeError(`FACGCNN_SCATTER must be csr, atomic or spmm, got "${raw}"`);
  }
  return raw;
}

/** One line per variable: `FACGCNN_X=value  (what it does)`, "unset" where unset. */
export function describeSettings(): string[] {
  return (Object.keys(SETTING_VARIABLES) as SettingName[]).map((name) => {
    const { variable, doc } = SETTING_VARIABLES[name];
    return `${variable}=${setting(name) ?? "(unset)"}  ${doc}`;
  });
}
